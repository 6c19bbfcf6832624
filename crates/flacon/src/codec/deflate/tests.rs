//! zlib's own output, byte for byte, on known and generated inputs (the reference zlib is
//! built from source for tests: a host's zlib-ng writes other bytes).

use super::*;
use flate2::{Compress, Compression, FlushCompress};
use proptest::prelude::*;

fn zlib(input: &[u8]) -> Vec<u8> {
    let mut deflate = Compress::new(Compression::default(), true);
    let mut out = Vec::with_capacity(input.len() + 64);
    deflate
        .compress_vec(input, &mut out, FlushCompress::Finish)
        .unwrap();
    out
}

fn ours(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    assert_eq!(compress_within(input, usize::MAX, &mut out), Some(true));
    out
}

fn check(input: &[u8]) {
    let expected = zlib(input);
    let stored = expected.len() >= input.len() + 11;
    let mut out = Vec::new();
    let fits = compress_within(input, usize::MAX, &mut out).unwrap();
    if stored {
        // zlib chose a stored block; the length agrees, and no caller wants those bytes.
        assert!(!fits, "stored block expected for {input:?}");
    } else {
        assert_eq!(out, expected, "input {:?}", String::from_utf8_lossy(input));
    }
    // The limit is honoured exactly.
    let mut out = Vec::new();
    if !stored {
        assert_eq!(compress_within(input, expected.len(), &mut out), Some(true));
        assert_eq!(
            compress_within(input, expected.len() - 1, &mut out),
            Some(false)
        );
    }
}

#[test]
fn known_inputs_match_zlib() {
    for input in [
        &b""[..],
        b"a",
        b"ab",
        b"abc",
        b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        br#"{"_permanent":true,"cart":["bike","helmet"],"email":"someone@example.com"}"#,
        br#"{"email":"someone@example.com"}"#,
    ] {
        check(input);
    }
    let repeated: Vec<u8> = (0..8000_u32).map(|i| b"abcabd"[(i % 6) as usize]).collect();
    check(&repeated);
    let long_run = vec![b'x'; MAX_INPUT];
    check(&long_run);
    let _ = ours(b"{\"a\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}");
}

#[test]
fn the_bench_sessions_match_zlib() {
    check(include_bytes!("../../../../../bench/sessions/typical.json"));
    check(include_bytes!(
        "../../../../../bench/sessions/signed-in.json"
    ));
    check(include_bytes!(
        "../../../../../bench/sessions/large-3kb.json"
    ));
}

/// Fibonacci frequencies: the most skewed trees. (The length-limiting path itself runs
/// in the generated cases, through the code-length tree's 7-bit limit.)
#[test]
fn fibonacci_frequencies_match_zlib() {
    let mut fib = vec![1_usize, 1];
    while fib.len() < 19 {
        fib.push(fib[fib.len() - 1] + fib[fib.len() - 2]);
    }
    let mut rng = 0x2545_f491_u32;
    for symbols in [16, 17, 18] {
        let mut input: Vec<u8> = fib[..symbols]
            .iter()
            .enumerate()
            .flat_map(|(i, &n)| std::iter::repeat_n(b'A' + i as u8, n))
            .collect();
        input.truncate(MAX_INPUT);
        // A fixed shuffle keeps long runs (and so matches) rare.
        for i in (1..input.len()).rev() {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            input.swap(i, rng as usize % (i + 1));
        }
        check(&input);
    }
}

/// Many symbols sharing a code length in a row: the repeat codes of the code-length
/// sequence, with runs longer than one repeat can carry.
#[test]
fn long_runs_of_equal_code_lengths_match_zlib() {
    let mut rng = 0x9e37_79b9_u32;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        rng
    };
    for (common, rare) in [(16_u8, 120_u8), (32, 200), (8, 60)] {
        // `common` byte values often, then `rare` consecutive byte values a few times
        // each: the rare ones end up with equal lengths, side by side.
        let mut input: Vec<u8> = (0..common)
            .flat_map(|b| std::iter::repeat_n(b, 40))
            .chain((0..rare).flat_map(|b| std::iter::repeat_n(common.wrapping_add(b), 2)))
            .collect();
        for i in (1..input.len()).rev() {
            input.swap(i, next() as usize % (i + 1));
        }
        check(&input);
    }
}

#[test]
fn larger_inputs_are_left_to_zlib() {
    assert_eq!(
        compress_within(&[0; MAX_INPUT + 1], usize::MAX, &mut Vec::new()),
        None
    );
}

/// Text drawn from a small alphabet with repeats: the shapes sessions have.
fn session_like() -> impl Strategy<Value = Vec<u8>> {
    let words = prop::sample::select(vec![
        "\"email\"",
        "\"cart\"",
        ":",
        ",",
        "[",
        "]",
        "{",
        "}",
        "\"",
        "bike",
        "helmet",
        "someone@example.com",
        "_permanent",
        "true",
        " t",
        " d",
        "1",
        "2",
        "42",
        "x",
        "\\u00e9",
        "user",
        "id",
        "null",
    ]);
    prop::collection::vec(words, 0..400).prop_map(|w| w.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn session_like_text_matches_zlib(input in session_like()) {
        prop_assume!(input.len() <= MAX_INPUT);
        check(&input);
    }

    #[test]
    fn arbitrary_bytes_match_zlib(input in prop::collection::vec(any::<u8>(), 0..2000)) {
        check(&input);
    }

    #[test]
    fn low_entropy_bytes_match_zlib(input in prop::collection::vec(0_u8..4, 0..MAX_INPUT)) {
        check(&input);
    }

    #[test]
    fn skewed_bytes_match_zlib(
        input in prop::collection::vec(prop::sample::select(vec![b'a', b'a', b'a', b'a', b'b', b'b', b'c', b'd', b'e', b'f', b'g', b'h', b'i', b'j', b'k', b'l', b'm', b'n', b'o', b'p']), 0..6000)
    ) {
        check(&input);
    }
}
