//! Sign and verify of the article's session (an email), a typical one, a signed-in one
//! (what `flacon serve` keeps after `/login`: Flask-Login's fields, compressible) and a
//! ~3 KB compressible one.
//! `bench/codec-vs-flask.sh` runs this next to Flask's own serializer and prints ratios.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use flacon::codec::{from_tagged_json, CookieCodec};
use flacon::{KeyRing, SecretKey};

/// Exactly the sessions `bench/flask_codec_bench.py` times.
pub const ARTICLE: &str = include_str!("../../../bench/sessions/article.json");
pub const TYPICAL: &str = include_str!("../../../bench/sessions/typical.json");
pub const SIGNED_IN: &str = include_str!("../../../bench/sessions/signed-in.json");
pub const LARGE: &str = include_str!("../../../bench/sessions/large-3kb.json");

fn bench(c: &mut Criterion) {
    let codec = CookieCodec::flask(&KeyRing::new(SecretKey::from_text(
        "benchmark-secret-key-2026",
    )));
    let now = 1_700_000_000;
    for (name, text) in [
        ("article", ARTICLE),
        ("typical", TYPICAL),
        ("signed-in", SIGNED_IN),
        ("3kb", LARGE),
    ] {
        let session = from_tagged_json(text.trim()).unwrap();
        let cookie = codec.encode(&session, now);
        c.bench_function(&format!("sign/{name}"), |b| {
            b.iter(|| codec.encode(black_box(&session), now));
        });
        c.bench_function(&format!("verify/{name}"), |b| {
            b.iter(|| {
                codec
                    .decode(black_box(&cookie), Some(2_678_400), now)
                    .unwrap()
            });
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
