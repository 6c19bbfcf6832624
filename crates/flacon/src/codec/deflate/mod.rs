//! zlib's default compression (level 6, 32 KiB window, `memLevel` 8) of small inputs,
//! reproduced bit for bit without zlib's fixed costs.
//!
//! Flask compresses a session with `zlib.compress(json)` and keeps the result when it is at
//! least two bytes shorter. For a cookie-sized input, most of zlib's time goes to clearing
//! its 64 KiB hash table and to the bookkeeping of a stream; the compression itself is
//! small. This module runs the same algorithm (the lazy-matching parse of `deflate_slow`,
//! the chain search of `longest_match`, and the Huffman construction of `trees.c`, ties
//! broken the same way) on buffers sized for the input, computes the exact length first,
//! and writes the bytes only when they are wanted. The test module compares it byte for
//! byte with the system zlib on generated inputs; inputs above [`MAX_INPUT`] go to zlib.
//!
//! Indexing is the language of this algorithm: every index is bounded by construction
//! (symbol alphabets equal their arrays' sizes, hashes are masked to the table, positions
//! stay inside an input of at most [`MAX_INPUT`] bytes plus the window's padding), so
//! `[]` is used as in the C it mirrors rather than `.get()` on every access.

#![allow(clippy::indexing_slicing)]

use std::cell::RefCell;

mod emit;
mod matches;
#[cfg(test)]
mod tests;
mod trees;

use emit::{compress_block, send_all_trees, BitWriter};
use trees::{gen_codes, Heap, Tree, D_DESC, L_DESC, STATIC_CODES};
/// The largest input handled here: one block (zlib starts a new one after 16 383
/// symbols) well inside one window.
pub(crate) const MAX_INPUT: usize = 8192;

const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;
const MIN_LOOKAHEAD: usize = MAX_MATCH + MIN_MATCH + 1;
const HASH_BITS: u32 = 15;
const HASH_SIZE: usize = 1 << HASH_BITS;
const HASH_MASK: u32 = (HASH_SIZE as u32) - 1;
const HASH_SHIFT: u32 = HASH_BITS.div_ceil(MIN_MATCH as u32);
const WINDOW_SIZE: usize = 1 << 15;
const MAX_DIST: usize = WINDOW_SIZE - MIN_LOOKAHEAD;
const TOO_FAR: usize = 4096;
// Level 6 in zlib's configuration table.
const GOOD_LENGTH: usize = 8;
const MAX_LAZY: usize = 16;
const NICE_LENGTH: usize = 128;
const MAX_CHAIN: usize = 128;

const LITERALS: usize = 256;
const END_BLOCK: usize = 256;
const LENGTH_CODES: usize = 29;
const L_CODES: usize = LITERALS + 1 + LENGTH_CODES;
const D_CODES: usize = 30;
const BL_CODES: usize = 19;
const HEAP_SIZE: usize = 2 * L_CODES + 1;
const MAX_BITS: usize = 15;
const MAX_BL_BITS: usize = 7;
const REP_3_6: usize = 16;
const REPZ_3_10: usize = 17;
const REPZ_11_138: usize = 18;

/// A symbol of the parse: a literal (`dist == 0`) or a match (length - 3, distance).
#[derive(Clone, Copy)]
struct Symbol {
    dist: u16,
    lc: u8,
}

/// Reusable state: the hash heads stay all-zero between calls (only the touched ones are
/// cleared), everything else is overwritten before it is read.
struct Scratch {
    head: Vec<u16>,
    prev: Vec<u16>,
    touched: Vec<u16>,
    window: Vec<u8>,
    symbols: Vec<Symbol>,
    ltree: Tree,
    dtree: Tree,
    bltree: Tree,
    heap: Heap,
}

thread_local! {
    static SCRATCH: RefCell<Option<Box<Scratch>>> = const { RefCell::new(None) };
}

/// zlib's `zlib.compress(input)` at the default level, written to `out` when it is at most
/// `limit` bytes long: `Some(true)` then, `Some(false)` when it is longer, `None` when
/// `input` is larger than [`MAX_INPUT`] (use zlib).
pub(crate) fn compress_within(input: &[u8], limit: usize, out: &mut Vec<u8>) -> Option<bool> {
    if input.len() > MAX_INPUT {
        return None;
    }
    SCRATCH.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        let scratch = slot.get_or_insert_with(|| Box::new(Scratch::new()));
        Some(scratch.compress_within(input, limit, out))
    })
}

/// A lower bound on the block length `finish` computes (the smaller of the fixed-code and
/// the dynamic-code lengths, in bytes), from the symbol counts of the parse alone. The
/// fixed-code length is exact. A dynamic code spends at least the counts' entropy on the
/// symbols (no prefix code does better), the same extra bits, the header `build_bl_tree`
/// counts (HLIT, HDIST, HCLEN, at least four code-length codes), and at least
/// [`code_lengths_bits`] to send its code lengths.
fn block_len_lower_bound(ltree: &Tree, dtree: &Tree) -> usize {
    let mut fixed_bits = 0;
    let mut extra_bits = 0;
    for (tree, desc) in [(ltree, &L_DESC), (dtree, &D_DESC)] {
        let fixed = desc.static_len.unwrap_or_default();
        for (n, &f) in tree.freq[..desc.elems].iter().enumerate() {
            let f = f as usize;
            extra_bits += f * usize::from(desc.extra.get(n).copied().unwrap_or(0));
            fixed_bits += f * usize::from(fixed.get(n).copied().unwrap_or(0));
        }
    }
    let dynamic_bits = entropy_bits(&ltree.freq[..L_CODES])
        + entropy_bits(&dtree.freq[..D_CODES])
        + extra_bits
        + 5
        + 5
        + 4
        + 3 * 4
        + code_lengths_bits(&ltree.freq[..L_CODES], LITERALS + 1)
        + code_lengths_bits(&dtree.freq[..D_CODES], 1);
    let bytes = |bits: usize| (bits + 3 + 7) >> 3;
    bytes(fixed_bits + extra_bits).min(bytes(dynamic_bits))
}

/// `Σ f·log2(N/f)` rounded down, with a margin so that float rounding never raises it.
fn entropy_bits(freqs: &[u32]) -> usize {
    let total: f64 = freqs.iter().map(|&f| f64::from(f)).sum();
    let bits: f64 = freqs
        .iter()
        .filter(|&&f| f != 0)
        .map(|&f| f64::from(f) * (total / f64::from(f)).log2())
        .sum();
    // Truncation is the rounding down wanted; the margin covers the sum's error.
    (bits * (1.0 - 1e-9) - 1.0).max(0.0) as usize
}

/// At least how many bits `send_tree` spends on one tree's code lengths, knowing only which
/// symbols are used (length > 0). The lengths are sent up to the last used symbol (at least
/// `min_sent`), each code-length symbol costs at least one bit plus its extra bits, and one
/// symbol covers at most 7 lengths (a length and six repeats, code 16), 10 zeros at 4 bits
/// (code 17) or 138 at 8 (code 18): so a run of `z` unused symbols costs at least
/// `min(z, 4)` bits up to 10 and 5 beyond (two symbols, one of them 17 or 18, or 18
/// alone), and a run of `k` used ones at least `ceil(k / 7)`. With fewer than two used
/// symbols zlib adds some of its own: no bound is claimed then.
fn code_lengths_bits(freqs: &[u32], min_sent: usize) -> usize {
    let used = |n: usize| freqs.get(n).is_some_and(|&f| f != 0);
    if (0..freqs.len()).filter(|&n| used(n)).count() < 2 {
        return 0;
    }
    let sent = (0..freqs.len())
        .rev()
        .find(|&n| used(n))
        .map_or(0, |last| last + 1)
        .max(min_sent);
    let mut bits = 0;
    let mut n = 0;
    while n < sent {
        let run_used = used(n);
        let start = n;
        while n < sent && used(n) == run_used {
            n += 1;
        }
        let run = n - start;
        bits += match (run_used, run) {
            (true, k) => k.div_ceil(7),
            (false, z) if z <= 10 => z.min(4),
            (false, _) => 5,
        };
    }
    bits
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            head: vec![0; HASH_SIZE],
            prev: vec![0; WINDOW_SIZE],
            touched: Vec::new(),
            window: Vec::new(),
            symbols: Vec::new(),
            ltree: Tree::new(),
            dtree: Tree::new(),
            bltree: Tree::new(),
            heap: Heap {
                heap: [0; HEAP_SIZE],
                depth: [0; HEAP_SIZE],
                opt_len: 0,
                static_len: 0,
            },
        }
    }

    fn compress_within(&mut self, input: &[u8], limit: usize, out: &mut Vec<u8>) -> bool {
        self.window.clear();
        self.window.extend_from_slice(input);
        // zlib zeroes MAX_MATCH bytes past the data; matching may read into them (and
        // compares eight bytes at a time).
        self.window.resize(input.len() + MAX_MATCH + 16, 0);
        self.parse(input.len());
        for &h in &self.touched {
            self.head[usize::from(h)] = 0;
        }
        self.touched.clear();
        self.finish(input, limit, out)
    }

    /// `_tr_flush_block` for the last block: the exact length first, the bytes if wanted.
    fn finish(&mut self, input: &[u8], limit: usize, out: &mut Vec<u8>) -> bool {
        // Most sessions do not compress below Flask's limit: when even the best code their
        // symbols allow would not fit, the answer is known without building a tree.
        if 2 + block_len_lower_bound(&self.ltree, &self.dtree) + 4 > limit {
            return false;
        }
        let heap = &mut self.heap;
        heap.opt_len = 0;
        heap.static_len = 0;
        heap.build_tree(&mut self.ltree, &L_DESC);
        heap.build_tree(&mut self.dtree, &D_DESC);
        let max_blindex = heap.build_bl_tree(&self.ltree, &self.dtree, &mut self.bltree);
        let mut opt_lenb = (heap.opt_len.wrapping_add(3 + 7)) >> 3;
        let static_lenb = (heap.static_len.wrapping_add(3 + 7)) >> 3;
        if static_lenb <= opt_lenb {
            opt_lenb = static_lenb;
        }
        let stored = input.len() + 4 <= opt_lenb;
        // Header (2), the block, Adler-32 (4); a stored block never saves anything.
        let total = 2 + if stored { input.len() + 5 } else { opt_lenb } + 4;
        if stored || total > limit {
            return false;
        }
        for tree in [&mut self.ltree, &mut self.dtree, &mut self.bltree] {
            gen_codes(&tree.len, &mut tree.code, tree.max_code, &tree.bl_count);
        }
        out.clear();
        out.reserve(total);
        out.extend_from_slice(&[0x78, 0x9c]);
        let mut bits = BitWriter {
            out,
            buf: 0,
            bits: 0,
        };
        if static_lenb == opt_lenb {
            bits.send(2 + 1, 3);
            let codes = &*STATIC_CODES;
            compress_block(
                &self.symbols,
                &mut bits,
                (&codes.lcode, &codes.llen),
                (&codes.dcode, &[5; D_CODES]),
            );
        } else {
            bits.send(4 + 1, 3);
            send_all_trees(
                &mut bits,
                &self.ltree,
                &self.dtree,
                &self.bltree,
                max_blindex + 1,
            );
            compress_block(
                &self.symbols,
                &mut bits,
                (&self.ltree.code, &self.ltree.len),
                (&self.dtree.code, &self.dtree.len),
            );
        }
        bits.windup();
        out.extend_from_slice(&adler32(input).to_be_bytes());
        debug_assert_eq!(out.len(), total);
        true
    }
}

fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1_u32, 0_u32);
    // 5552 bytes is the most that cannot overflow before the reduction.
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}
