//! Differential: the payload flacon writes for any input is the one zlib (the C library,
//! as Flask uses it) implies: the same decision to compress and, when compressed, the same
//! bytes. flacon runs zlib's algorithm itself for small inputs, so this checks that copy
//! against the original on whatever the fuzzer finds.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use flacon::codec::push_payload;
use flate2::{Compress, Compression, FlushCompress};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut ours = String::new();
    push_payload(&mut ours, data);

    let mut deflate = Compress::new(Compression::default(), true);
    let mut zlib = Vec::with_capacity(data.len() + 64);
    deflate
        .compress_vec(data, &mut zlib, FlushCompress::Finish)
        .expect("zlib compresses anything");
    // Flask: `if len(compressed) < len(json) - 1`.
    let expected = if zlib.len() + 1 < data.len() {
        format!(".{}", URL_SAFE_NO_PAD.encode(&zlib))
    } else {
        URL_SAFE_NO_PAD.encode(data)
    };
    assert_eq!(ours, expected);
});
