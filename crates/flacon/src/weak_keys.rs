//! The secret keys published in public Flask code (`data/weak-keys.z`, from
//! flask-unsign-wordlist), shipped compressed in the binary and unpacked on first use.

use std::collections::HashSet;
use std::io::Read as _;
use std::sync::OnceLock;

static PACKED: &[u8] = include_bytes!("../data/weak-keys.z");

struct Published {
    /// In the list's order, for the audit to try.
    ordered: Vec<Box<[u8]>>,
    /// For the strength check: the keys as published, and trimmed of blanks and quotes.
    set: HashSet<Box<[u8]>>,
}

fn published() -> &'static Published {
    static LIST: OnceLock<Published> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut raw = Vec::new();
        let unpacked = flate2::read::ZlibDecoder::new(PACKED).read_to_end(&mut raw);
        if unpacked.is_err() {
            // Built into the binary from a checked-in file: only a corrupt build gets here.
            tracing::error!("the built-in weak-key list is corrupt; only the short list is used");
            raw.clear();
        }
        let mut ordered: Vec<Box<[u8]>> = Vec::new();
        let mut rest = raw.as_slice();
        while let [high, low, tail @ ..] = rest {
            let len = usize::from(u16::from_be_bytes([*high, *low]));
            let Some((key, tail)) = tail.split_at_checked(len) else {
                break;
            };
            ordered.push(Box::from(key));
            rest = tail;
        }
        let set = ordered
            .iter()
            .flat_map(|key| [key.clone(), Box::from(normalized(key))])
            .collect();
        Published { ordered, set }
    })
}

/// A key with surrounding blanks and quotes removed, as it is pasted from a config file.
pub(crate) fn normalized(key: &[u8]) -> &[u8] {
    let blank_or_quote = |b: &u8| b.is_ascii_whitespace() || *b == b'"' || *b == b'\'';
    let start = key
        .iter()
        .position(|b| !blank_or_quote(b))
        .unwrap_or(key.len());
    let end = key
        .iter()
        .rposition(|b| !blank_or_quote(b))
        .map_or(start, |i| i + 1);
    key.get(start..end).unwrap_or_default()
}

/// Whether `key` (as given, or trimmed) is on the published list.
pub(crate) fn is_published(key: &[u8]) -> bool {
    let list = &published().set;
    list.contains(key) || list.contains(normalized(key))
}

/// Every published key, in the list's order.
pub(crate) fn all() -> impl Iterator<Item = &'static [u8]> {
    published().ordered.iter().map(|key| &**key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_unpacks_and_holds_the_keys_new_users_were_let_through_with() {
        assert!(all().count() > 50_000);
        assert!(is_published(b"this-really-needs-to-be-changed"));
        assert!(is_published(b"  'this-really-needs-to-be-changed' "));
        assert!(!is_published(b"k7#Qz!9vR2@pL8$wX4^mN6&bT1*cY3(j"));
    }
}
