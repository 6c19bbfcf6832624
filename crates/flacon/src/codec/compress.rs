//! The payload layer (itsdangerous `URLSafeSerializerMixin`): base64url of the JSON, or of
//! its zlib compression prefixed with `.` when that saves at least two bytes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Why a payload segment could not be turned back into bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Not valid base64url.
    #[error("payload is not base64url")]
    Base64,
    /// Marked compressed, but not a valid zlib stream.
    #[error("payload is not valid zlib data")]
    Decompress(#[source] std::io::Error),
    /// Decompresses to more than the limit (a zip bomb).
    #[error("payload decompresses past the {limit}-byte limit")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
}

thread_local! {
    // For the inputs `deflate` leaves to zlib. deflateInit allocates ~256 KiB, so one stream
    // per thread, made when first needed; reset() reuses it and produces identical bytes.
    static ZLIB: std::cell::RefCell<Option<Compress>> = const { std::cell::RefCell::new(None) };
}

/// Appends the payload segment for `json` to `out`, compressing exactly when Flask would:
/// `len(zlib.compress(json)) < len(json) - 1`, with zlib at its default level.
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub fn push_payload(out: &mut String, json: &[u8]) {
    // Output of json.len() - 1 bytes or more is useless.
    let useful = json.len().saturating_sub(2);
    let mut compressed = Vec::new();
    #[cfg(feature = "exact-deflate")]
    let smaller = super::deflate::compress_within(json, useful, &mut compressed)
        .unwrap_or_else(|| zlib_within(json, useful, &mut compressed));
    #[cfg(not(feature = "exact-deflate"))]
    let smaller = zlib_within(json, useful, &mut compressed);
    if smaller {
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&compressed, out);
    } else {
        URL_SAFE_NO_PAD.encode_string(json, out);
    }
}

/// zlib's output for `json` in `buf` if it is at most `useful` bytes long; whether it is.
fn zlib_within(json: &[u8], useful: usize, buf: &mut Vec<u8>) -> bool {
    ZLIB.with(|cell| {
        let new = || Compress::new(Compression::default(), true);
        let mut fresh;
        let mut slot = cell.try_borrow_mut();
        let deflate = match slot.as_mut() {
            Ok(slot) => slot.get_or_insert_with(new),
            Err(_) => {
                fresh = new();
                &mut fresh
            }
        };
        deflate.reset();
        buf.clear();
        buf.reserve(useful + 1);
        // Stop at the useless length instead of finishing.
        matches!(
            deflate.compress_vec(json, buf, FlushCompress::Finish),
            Ok(Status::StreamEnd) if buf.len() <= useful
        )
    })
}

/// Decodes a payload segment (with its optional leading `.`) to the JSON bytes, refusing to
/// inflate past `limit` bytes. Bytes after the end of the zlib stream are ignored, as in
/// Python's `zlib.decompress`.
pub(crate) fn load_payload(segment: &str, limit: usize) -> Result<Vec<u8>, PayloadError> {
    with_payload(segment, limit, <[u8]>::to_vec)
}

/// Decodes a payload segment as [`load_payload`] would and hands its JSON bytes to `read`,
/// in buffers this thread reuses: a decode then allocates only what it keeps.
pub(crate) fn with_payload<T>(
    segment: &str,
    limit: usize,
    read: impl FnOnce(&[u8]) -> T,
) -> Result<T, PayloadError> {
    BUFFERS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffers) => {
            let result = buffers.load(segment, limit).map(read);
            buffers.trim();
            result
        }
        Err(_) => PayloadBuffers::default().load(segment, limit).map(read),
    })
}

/// The base64-decoded segment and the inflated JSON of the last payload this thread read.
#[derive(Default)]
struct PayloadBuffers {
    raw: Vec<u8>,
    json: Vec<u8>,
}

/// Buffers grown past this by an unusually large payload are given back, not kept.
const KEPT_BUFFER: usize = 64 * 1024;

thread_local! {
    static BUFFERS: std::cell::RefCell<PayloadBuffers> =
        std::cell::RefCell::new(PayloadBuffers::default());
}

impl PayloadBuffers {
    fn load(&mut self, segment: &str, limit: usize) -> Result<&[u8], PayloadError> {
        let (compressed, text) = match segment.strip_prefix('.') {
            Some(rest) => (true, rest),
            None => (false, segment),
        };
        self.raw.clear();
        URL_SAFE_NO_PAD
            .decode_vec(text.as_bytes(), &mut self.raw)
            .map_err(|_| PayloadError::Base64)?;
        if !compressed {
            return if self.raw.len() > limit {
                Err(PayloadError::TooLarge { limit })
            } else {
                Ok(&self.raw)
            };
        }
        let raw = &self.raw;
        let json = &mut self.json;
        INFLATE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut inflate) => inflate_bounded(&mut inflate, raw, limit, json),
            Err(_) => inflate_bounded(&mut Decompress::new(true), raw, limit, json),
        })?;
        Ok(&self.json)
    }

    fn trim(&mut self) {
        for buffer in [&mut self.raw, &mut self.json] {
            if buffer.capacity() > KEPT_BUFFER {
                *buffer = Vec::new();
            }
        }
    }
}

thread_local! {
    // inflateInit allocates its state and window; reset() reuses them.
    static INFLATE: std::cell::RefCell<Decompress> = std::cell::RefCell::new(Decompress::new(true));
}

fn inflate_bounded(
    inflate: &mut Decompress,
    raw: &[u8],
    limit: usize,
    json: &mut Vec<u8>,
) -> Result<(), PayloadError> {
    inflate.reset(true);
    json.clear();
    json.reserve((raw.len() * 4).min(limit + 1));
    loop {
        let consumed = usize::try_from(inflate.total_in()).unwrap_or(usize::MAX);
        let input = raw.get(consumed..).unwrap_or_default();
        if json.len() == json.capacity() {
            let room = (limit + 1).saturating_sub(json.len()).max(1);
            json.reserve(json.len().max(64).min(room));
        }
        let status = inflate
            .decompress_vec(input, json, FlushDecompress::Finish)
            .map_err(|e| {
                PayloadError::Decompress(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
            })?;
        if json.len() > limit {
            return Err(PayloadError::TooLarge { limit });
        }
        match status {
            Status::StreamEnd => return Ok(()),
            _ if input.is_empty()
                || (status == Status::BufError && json.len() < json.capacity()) =>
            {
                return Err(PayloadError::Decompress(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "truncated zlib stream",
                )));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compresses_only_when_two_bytes_are_saved() {
        let mut out = String::new();
        push_payload(&mut out, b"{\"a\":1}");
        assert_eq!(out, "eyJhIjoxfQ");
        out.clear();
        let repetitive = vec![b'a'; 200];
        push_payload(&mut out, &repetitive);
        assert!(out.starts_with('.'));
        assert_eq!(load_payload(&out, 1000).unwrap(), repetitive);
    }

    #[test]
    fn zip_bombs_stop_at_the_limit() {
        let mut out = String::new();
        push_payload(&mut out, &vec![b'x'; 1 << 20]);
        assert!(out.len() < 2000);
        assert!(matches!(
            load_payload(&out, 64 * 1024),
            Err(PayloadError::TooLarge { limit: 65536 })
        ));
    }

    #[test]
    fn truncated_streams_are_errors_and_trailing_bytes_are_ignored() {
        let mut out = String::new();
        push_payload(&mut out, &[b'z'; 500]);
        let raw = URL_SAFE_NO_PAD.decode(&out[1..]).unwrap();
        let cut = format!(".{}", URL_SAFE_NO_PAD.encode(&raw[..raw.len() - 3]));
        assert!(matches!(
            load_payload(&cut, 1000),
            Err(PayloadError::Decompress(_))
        ));
        let mut junk = raw;
        junk.extend_from_slice(b"junk");
        let padded = format!(".{}", URL_SAFE_NO_PAD.encode(&junk));
        assert_eq!(load_payload(&padded, 1000).unwrap(), vec![b'z'; 500]);
        assert!(matches!(
            load_payload(&padded, 499),
            Err(PayloadError::TooLarge { limit: 499 })
        ));
    }

    #[test]
    fn each_payload_reads_its_own_bytes_in_the_reused_buffers() {
        // Large (past what the buffers keep), small, failed, small again.
        let large: Vec<u8> = (0..200_000_u32)
            .map(|i| b"abcdefgh"[(i % 7) as usize])
            .collect();
        let mut segment = String::new();
        push_payload(&mut segment, &large);
        assert!(segment.starts_with('.'));
        assert_eq!(load_payload(&segment, 256 * 1024).unwrap(), large);
        let mut small = String::new();
        push_payload(&mut small, b"{\"a\":1}");
        assert_eq!(load_payload(&small, 100).unwrap(), b"{\"a\":1}");
        assert!(load_payload(&segment, 1000).is_err());
        assert_eq!(load_payload(&small, 100).unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(load_payload("!!", 10), Err(PayloadError::Base64)));
        assert!(matches!(
            load_payload(".bm90", 10),
            Err(PayloadError::Decompress(_))
        ));
    }
}
