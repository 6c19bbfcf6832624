//! Why XChaCha20-Poly1305 for encrypted cookies: the two AEADs RustCrypto offers, sealing and
//! opening the typical session's plaintext, and flacon's whole encrypted cookie next to the
//! signed one. `cargo bench --bench aead`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use flacon::codec::{from_tagged_json, CookieCipher, CookieCodec};
use flacon::{KeyRing, SecretKey};

const TYPICAL: &str = include_str!("../../../bench/sessions/typical.json");

fn bench(c: &mut Criterion) {
    let plaintext = TYPICAL.trim().as_bytes();
    let key = [7_u8; 32];
    let xchacha = XChaCha20Poly1305::new(&key.into());
    let aes = Aes256Gcm::new(&key.into());
    let xnonce = XNonce::from([1_u8; 24]);
    let nonce = Nonce::from([1_u8; 12]);
    let sealed_x = xchacha.encrypt(&xnonce, plaintext).unwrap();
    let sealed_a = aes.encrypt(&nonce, plaintext).unwrap();
    c.bench_function("aead/xchacha20poly1305/seal", |b| {
        b.iter(|| xchacha.encrypt(&xnonce, black_box(plaintext)).unwrap());
    });
    c.bench_function("aead/xchacha20poly1305/open", |b| {
        b.iter(|| xchacha.decrypt(&xnonce, black_box(&sealed_x[..])).unwrap());
    });
    c.bench_function("aead/aes256gcm/seal", |b| {
        b.iter(|| aes.encrypt(&nonce, black_box(plaintext)).unwrap());
    });
    c.bench_function("aead/aes256gcm/open", |b| {
        b.iter(|| aes.decrypt(&nonce, black_box(&sealed_a[..])).unwrap());
    });
    let siv = aes_gcm_siv::Aes256GcmSiv::new(&key.into());
    let sealed_s = siv.encrypt(&nonce, plaintext).unwrap();
    c.bench_function("aead/aes256gcmsiv/seal", |b| {
        b.iter(|| siv.encrypt(&nonce, black_box(plaintext)).unwrap());
    });
    c.bench_function("aead/aes256gcmsiv/open", |b| {
        b.iter(|| siv.decrypt(&nonce, black_box(&sealed_s[..])).unwrap());
    });

    let keys = KeyRing::new(SecretKey::from_text("benchmark-secret-key-2026"));
    let session = from_tagged_json(TYPICAL.trim()).unwrap();
    let now = 1_700_000_000;
    let cipher = CookieCipher::new(&keys, "session");
    let codec = CookieCodec::flask(&keys);
    let encrypted = cipher.encrypt(&session, now);
    let signed = codec.encode(&session, now);
    c.bench_function("cookie/encrypted/encode", |b| {
        b.iter(|| cipher.encrypt(black_box(&session), now));
    });
    c.bench_function("cookie/encrypted/decode", |b| {
        b.iter(|| {
            cipher
                .decrypt(black_box(&encrypted), Some(60), now)
                .unwrap()
        });
    });
    c.bench_function("cookie/signed/encode", |b| {
        b.iter(|| codec.encode(black_box(&session), now));
    });
    c.bench_function("cookie/signed/decode", |b| {
        b.iter(|| codec.decode(black_box(&signed), Some(60), now).unwrap());
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
