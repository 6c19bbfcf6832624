//! The three-way merge of a session that two overlapping requests changed: the record as
//! this request loaded it (`base`), this request's session (`mine`), and the record as
//! another request saved it meanwhile (`theirs`). A pure function, so that the rule is one
//! thing to read and to test, whichever store found the conflict.
//!
//! By key:
//! - changed on one side only: that side's value (a removal included);
//! - changed the same way on both: that value;
//! - a list both sides only appended to (Flask's own example is
//!   `session['shopping_cart'].append('bike')`): the base, then their appends, then mine;
//! - a dict both sides changed: merged key by key, the same way;
//! - anything else changed on both sides: a true conflict, which goes to this request (it
//!   saves last), reported by its key path.

use crate::value::{Map, Value};

/// What a merge made, and the keys where both sides changed one value differently.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Merged {
    pub(crate) data: Map,
    /// Key paths (`cart`, `prefs.lang`) where this request's value won a true conflict.
    pub(crate) conflicts: Vec<String>,
}

/// Merges `mine` and `theirs`, both changed from `base`. See the [module docs](self).
pub(crate) fn merge(base: &Map, mine: &Map, theirs: &Map) -> Merged {
    let mut conflicts = Vec::new();
    let data = merge_maps(base, mine, theirs, "", &mut conflicts);
    Merged { data, conflicts }
}

fn merge_maps(
    base: &Map,
    mine: &Map,
    theirs: &Map,
    path: &str,
    conflicts: &mut Vec<String>,
) -> Map {
    let mut out = Map::default();
    // Their order first (the record as stored), then the keys only this request added.
    let keys = theirs
        .keys()
        .chain(mine.keys().filter(|k| !theirs.contains_key(*k)))
        .chain(
            base.keys()
                .filter(|k| !theirs.contains_key(*k) && !mine.contains_key(*k)),
        );
    for key in keys {
        let key_path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let merged = merge_value(
            base.get(key),
            mine.get(key),
            theirs.get(key),
            &key_path,
            conflicts,
        );
        if let Some(value) = merged {
            out.insert(key.clone(), value);
        }
    }
    out
}

/// One key's merged value; `None` when it ends up removed.
fn merge_value(
    base: Option<&Value>,
    mine: Option<&Value>,
    theirs: Option<&Value>,
    path: &str,
    conflicts: &mut Vec<String>,
) -> Option<Value> {
    if same_opt(mine, base) {
        return theirs.cloned();
    }
    if same_opt(theirs, base) || same_opt(mine, theirs) {
        return mine.cloned();
    }
    match (base, mine, theirs) {
        (base, Some(Value::List(mine_items)), Some(Value::List(their_items))) => {
            let base_items: &[Value] = match base {
                Some(Value::List(items)) => items,
                None => &[],
                Some(_) => return conflict(mine, path, conflicts),
            };
            match (
                appended(base_items, mine_items),
                appended(base_items, their_items),
            ) {
                (Some(mine_added), Some(their_added)) => {
                    let mut items = base_items.to_vec();
                    items.extend_from_slice(their_added);
                    items.extend_from_slice(mine_added);
                    Some(Value::List(items))
                }
                _ => conflict(mine, path, conflicts),
            }
        }
        (base, Some(Value::Dict(mine_map)), Some(Value::Dict(their_map))) => {
            let empty = Map::default();
            let base_map = match base {
                Some(Value::Dict(map)) => map,
                None => &empty,
                Some(_) => return conflict(mine, path, conflicts),
            };
            Some(Value::Dict(merge_maps(
                base_map, mine_map, their_map, path, conflicts,
            )))
        }
        _ => conflict(mine, path, conflicts),
    }
}

/// Both sides changed `path` differently: this request's value, reported.
fn conflict(mine: Option<&Value>, path: &str, conflicts: &mut Vec<String>) -> Option<Value> {
    conflicts.push(path.to_owned());
    mine.cloned()
}

/// What `items` added after `base`, if it only appended to it.
fn appended<'a>(base: &[Value], items: &'a [Value]) -> Option<&'a [Value]> {
    let (kept, added) = (items.get(..base.len())?, items.get(base.len()..)?);
    kept.iter()
        .zip(base)
        .all(|(a, b)| same(a, b))
        .then_some(added)
}

fn same_opt(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// Equality as stored: a float is the same float by its bits (`NaN` included), a dict the
/// same keys with the same values (in any order).
fn same(a: &Value, b: &Value) -> bool {
    let all_same =
        |a: &[Value], b: &[Value]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y));
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => all_same(x, y),
        (Value::Dict(x), Value::Dict(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    fn map(json: &str) -> Map {
        match crate::codec::from_tagged_json(json).unwrap() {
            Value::Dict(map) => map,
            other => panic!("not a dict: {other:?}"),
        }
    }

    fn json(map: &Map) -> String {
        crate::codec::to_tagged_json(&Value::Dict(map.clone()))
    }

    #[test]
    fn keys_changed_on_one_side_keep_that_side() {
        let base = map(r#"{"a":1,"b":2,"c":3}"#);
        let mine = map(r#"{"a":10,"b":2,"c":3,"email":"x@y.z"}"#);
        let theirs = map(r#"{"a":1,"c":3,"lang":"fr"}"#);
        let merged = merge(&base, &mine, &theirs);
        assert_eq!(
            json(&merged.data),
            r#"{"a":10,"c":3,"email":"x@y.z","lang":"fr"}"#
        );
        assert!(merged.conflicts.is_empty());
    }

    #[test]
    fn appends_to_one_list_from_both_sides_are_kept() {
        let base = map(r#"{"cart":["bike"]}"#);
        let mine = map(r#"{"cart":["bike","helmet"]}"#);
        let theirs = map(r#"{"cart":["bike","lock","bell"]}"#);
        let merged = merge(&base, &mine, &theirs);
        assert_eq!(
            json(&merged.data),
            r#"{"cart":["bike","lock","bell","helmet"]}"#
        );
        assert!(merged.conflicts.is_empty());
        // A list both created.
        let merged = merge(
            &Map::default(),
            &map(r#"{"cart":["a"]}"#),
            &map(r#"{"cart":["b"]}"#),
        );
        assert_eq!(json(&merged.data), r#"{"cart":["b","a"]}"#);
    }

    #[test]
    fn dicts_merge_by_key_and_true_conflicts_go_to_this_request() {
        let base = map(r#"{"n":1,"prefs":{"lang":"en","tz":"UTC"}}"#);
        let mine = map(r#"{"n":2,"prefs":{"lang":"en","tz":"CET"}}"#);
        let theirs = map(r#"{"n":3,"prefs":{"lang":"fr","tz":"UTC"}}"#);
        let merged = merge(&base, &mine, &theirs);
        assert_eq!(
            json(&merged.data),
            r#"{"n":2,"prefs":{"lang":"fr","tz":"CET"}}"#
        );
        assert_eq!(merged.conflicts, vec!["n".to_owned()]);
        // A list one side rewrote is a conflict, not an append.
        let merged = merge(
            &map(r#"{"cart":["a","b"]}"#),
            &map(r#"{"cart":["b"]}"#),
            &map(r#"{"cart":["a","b","c"]}"#),
        );
        assert_eq!(json(&merged.data), r#"{"cart":["b"]}"#);
        assert_eq!(merged.conflicts, vec!["cart".to_owned()]);
    }

    #[test]
    fn a_float_that_is_not_a_number_is_still_the_same_value() {
        let base = map(r#"{"x":NaN}"#);
        let merged = merge(&base, &base, &map(r#"{"x":NaN,"y":1}"#));
        assert!(merged.conflicts.is_empty());
        assert_eq!(json(&merged.data), r#"{"x":NaN,"y":1}"#);
    }

    /// One side's edit of a key: a new value, or its removal.
    #[derive(Debug, Clone)]
    enum Edit {
        Set(i64),
        Remove,
        Append(i64),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            any::<i64>().prop_map(Edit::Set),
            Just(Edit::Remove),
            any::<i64>().prop_map(Edit::Append),
        ]
    }

    fn apply(map: &mut Map, key: &str, edit: &Edit) {
        match edit {
            Edit::Set(n) => {
                map.insert(key.to_owned(), Value::Int(*n));
            }
            Edit::Remove => {
                map.shift_remove(key);
            }
            Edit::Append(n) => match map.get_mut(key) {
                Some(Value::List(items)) => items.push(Value::Int(*n)),
                _ => {
                    map.insert(key.to_owned(), Value::List(vec![Value::Int(*n)]));
                }
            },
        }
    }

    proptest! {
        /// Random bases, and edits by the two sides on keys of their own: every key changed
        /// on exactly one side has that side's value, every key neither touched is as in the
        /// base, nothing is removed that neither removed, and there is no conflict.
        #[test]
        fn edits_on_separate_keys_all_survive(
            base_values in proptest::collection::vec(
                prop_oneof![any::<i64>().prop_map(Value::Int),
                            proptest::collection::vec(any::<i64>().prop_map(Value::Int), 0..3)
                                .prop_map(Value::List)],
                0..8),
            edits in proptest::collection::vec((0..12_usize, any::<bool>(), edit()), 0..12),
        ) {
            let mut base = Map::default();
            for (i, value) in base_values.into_iter().enumerate() {
                base.insert(format!("k{i}"), value);
            }
            let (mut mine, mut theirs) = (base.clone(), base.clone());
            let mut owner: std::collections::HashMap<String, bool> = Default::default();
            for (key, mine_side, edit) in &edits {
                let key = format!("k{key}");
                // Each key is edited by one side only.
                let side = *owner.entry(key.clone()).or_insert(*mine_side);
                apply(if side { &mut mine } else { &mut theirs }, &key, edit);
            }
            let merged = merge(&base, &mine, &theirs);
            prop_assert!(merged.conflicts.is_empty());
            for key in base.keys().chain(mine.keys()).chain(theirs.keys()) {
                let expected = match owner.get(key) {
                    Some(true) => mine.get(key),
                    Some(false) => theirs.get(key),
                    None => base.get(key),
                };
                prop_assert_eq!(merged.data.get(key), expected, "key {}", key);
            }
        }

        /// Both sides appending to one list: the base, then every append of theirs, then
        /// every append of mine, none lost.
        #[test]
        fn appends_from_both_sides_are_all_kept(
            base_items in proptest::collection::vec(any::<i64>(), 0..4),
            mine_added in proptest::collection::vec(any::<i64>(), 1..4),
            their_added in proptest::collection::vec(any::<i64>(), 1..4),
        ) {
            let list = |items: &[i64]| Value::List(items.iter().copied().map(Value::Int).collect());
            let with = |added: &[i64]| {
                let mut map = Map::default();
                map.insert("cart".to_owned(), list(&[base_items.clone(), added.to_vec()].concat()));
                map
            };
            let mut base = Map::default();
            base.insert("cart".to_owned(), list(&base_items));
            let merged = merge(&base, &with(&mine_added), &with(&their_added));
            let expected = list(&[base_items.clone(), their_added, mine_added].concat());
            prop_assert_eq!(merged.data.get("cart"), Some(&expected));
        }
    }
}
