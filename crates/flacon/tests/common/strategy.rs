//! proptest strategies for arbitrary session values, Flask's tagged types included.

use flacon::value::{BigInt, DateTime, Map, Value};
use proptest::prelude::*;

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,12}",
        Just(" t".to_owned()),
        Just(" di".to_owned()),
        Just(" b".to_owned()),
        Just(" m".to_owned()),
        Just(" u".to_owned()),
        Just(" d".to_owned()),
        Just("_permanent".to_owned()),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (any::<u64>(), 1_u32..40).prop_map(|(n, zeros)| {
            let text = format!("{n}{}", "0".repeat(zeros as usize));
            BigInt::parse(&text).map_or(Value::Int(n as i64 & 0xff), Value::BigInt)
        }),
        any::<f64>().prop_map(Value::Float),
        any_text().prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Value::Bytes),
        any_text().prop_map(Value::Markup),
        any::<[u8; 16]>().prop_map(Value::Uuid),
        // From year 100 on: Flask reads years 0-99 as two-digit years (see DateTime).
        (-59_011_459_200_i64..253_402_300_799)
            .prop_map(|s| Value::DateTime(DateTime::from_unix(s))),
    ]
}

/// Any value Flask's tagged serializer can carry, up to a few levels deep.
pub fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Tuple),
            proptest::collection::vec((any_text(), inner), 0..6)
                .prop_map(|pairs| Value::Dict(pairs.into_iter().collect::<Map>())),
        ]
    })
}

/// A whole session: a dict at the top.
pub fn session() -> impl Strategy<Value = Value> {
    proptest::collection::vec((any_text(), value()), 0..8)
        .prop_map(|pairs| Value::Dict(pairs.into_iter().collect::<Map>()))
}
