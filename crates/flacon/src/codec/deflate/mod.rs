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
use trees::{gen_codes, zero_run, Desc, Heap, Tree, BL_ORDER, D_DESC, L_DESC, STATIC_CODES};
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
    bound: BoundScratch,
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
/// fixed-code length is exact. A dynamic code spends at least an optimal prefix code's cost
/// on the symbols (zlib's codes are such codes, limited to 15 bits), the same extra bits,
/// the header `build_bl_tree` counts (HLIT, HDIST, HCLEN) and at least what
/// [`LengthSymbols`] bounds for the code lengths.
fn block_len_lower_bound(ltree: &Tree, dtree: &Tree, bound: &mut BoundScratch) -> usize {
    let mut lengths = LengthSymbols::default();
    let lit = TreeCost::of(ltree, &L_DESC, &mut lengths, bound);
    let dist = TreeCost::of(dtree, &D_DESC, &mut lengths, bound);
    let extra_bits = lit.extra_bits + dist.extra_bits;
    let dynamic_bits = lit.code_bits + dist.code_bits + extra_bits + 5 + 5 + 4 + lengths.bits();
    let bytes = |bits: usize| (bits + 3 + 7) >> 3;
    bytes(lit.fixed_bits + dist.fixed_bits + extra_bits).min(bytes(dynamic_bits))
}

/// The bound's buffers, kept between calls (every element is written before it is read).
struct BoundScratch {
    weights: Vec<u32>,
    merged: Vec<u32>,
}

impl BoundScratch {
    fn new() -> Self {
        BoundScratch {
            weights: Vec::with_capacity(L_CODES),
            merged: vec![0; L_CODES],
        }
    }
}

/// One tree's share of the bound, from its used symbols.
struct TreeCost {
    fixed_bits: usize,
    extra_bits: usize,
    code_bits: usize,
}

impl TreeCost {
    /// The costs of `tree`'s counts, and the code-length symbols that will describe its
    /// lengths added to `lengths` (a used symbol has a length, an unused one none, and the
    /// lengths are sent up to the last used symbol). With fewer than two used symbols zlib
    /// makes a two-symbol code of its own: two lengths of 1 bit, the used symbol's among them.
    fn of(tree: &Tree, desc: &Desc, lengths: &mut LengthSymbols, bound: &mut BoundScratch) -> Self {
        let fixed = desc.static_len.unwrap_or_default();
        let weights = &mut bound.weights;
        weights.clear();
        let (mut fixed_bits, mut extra_bits) = (0, 0);
        let mut runs = LengthSymbols::default();
        // The run of used symbols being walked, and where the next unused one would be.
        let (mut lens, mut next) = (0, 0);
        for n in tree.used_symbols() {
            if n != next {
                if lens != 0 {
                    runs.add_lengths(lens);
                    lens = 0;
                }
                runs.add_zeros(n - next);
            }
            next = n + 1;
            lens += 1;
            let f = tree.freq[n];
            weights.push(f);
            let f = f as usize;
            extra_bits += f * usize::from(desc.extra.get(n).copied().unwrap_or(0));
            fixed_bits += f * usize::from(fixed.get(n).copied().unwrap_or(0));
        }
        if weights.len() < 2 {
            lengths.lengths += 2;
            lengths.need_one_of(1..=1);
            return TreeCost {
                fixed_bits,
                extra_bits,
                code_bits: weights.first().copied().unwrap_or(0) as usize,
            };
        }
        runs.add_lengths(lens);
        lengths.merge(&runs);
        // A complete code for `count` symbols has a code at most floor(log2 count) bits long
        // and one at least ceil(log2 count) bits long.
        let count = weights.len();
        let shortest_at_most = count.ilog2() as usize;
        let longest_at_least = shortest_at_most + usize::from(!count.is_power_of_two());
        lengths.need_one_of(1..=shortest_at_most);
        lengths.need_one_of(longest_at_least..=MAX_BITS);
        weights.sort_unstable();
        TreeCost {
            fixed_bits,
            extra_bits,
            code_bits: huffman_cost(weights, &mut bound.merged),
        }
    }
}

/// `Σ f·len` of an optimal prefix code for `weights` (ascending): the sum of the weights
/// Huffman's merges create, taken from two queues (the leaves, and the merges, which come
/// out in order, kept in `merged`: at least `weights.len()` long). No code, length-limited
/// or not, costs less.
fn huffman_cost(weights: &[u32], merged: &mut [u32]) -> usize {
    let n = weights.len();
    let (mut leaf, mut head, mut tail) = (0, 0, 0);
    let mut cost = 0;
    for _ in 1..n {
        let mut pair = 0;
        for _ in 0..2 {
            if leaf < n && (head == tail || weights[leaf] <= merged[head]) {
                pair += weights[leaf];
                leaf += 1;
            } else {
                pair += merged[head];
                head += 1;
            }
        }
        merged[tail] = pair;
        tail += 1;
        cost += pair as usize;
    }
    cost
}

/// What the code-length symbols that describe the trees must at least be (`scan_tree`'s
/// run-length walk, seen from the runs of used and unused symbols). The runs of unused
/// symbols are spelled exactly as zlib spells them: fewer than three as single zeros, up to
/// 10 as code 17, up to 138 as code 18, longer ones cut at 138. A run of `k` used symbols
/// takes a length, then, for the other `k - 1`, as many lengths when they are fewer than
/// three, or at least `ceil((k - 1) / 6)` repeats (code 16). Every code length in use is
/// sent at least once as itself, so the code-length code has a length for it, and HCLEN
/// sends the code-length code's lengths up to the last one used in [`BL_ORDER`] (at least
/// four).
#[derive(Default)]
struct LengthSymbols {
    zeros: u32,
    short_zero_runs: u32,
    long_zero_runs: u32,
    lengths: u32,
    /// How many of the code-length code's lengths HCLEN sends, at least, past the four.
    sent: usize,
}

impl LengthSymbols {
    /// A run of unused symbols, spelled as [`zero_run`] sends it.
    fn add_zeros(&mut self, run: usize) {
        zero_run(run, &mut |symbol, _, _| match symbol {
            REPZ_3_10 => self.short_zero_runs += 1,
            REPZ_11_138 => self.long_zero_runs += 1,
            _ => self.zeros += 1,
        });
    }

    fn add_lengths(&mut self, run: u32) {
        let rest = run.saturating_sub(1);
        self.lengths += 1 + if rest < 3 { rest } else { rest.div_ceil(6) };
    }

    fn merge(&mut self, other: &Self) {
        self.zeros += other.zeros;
        self.short_zero_runs += other.short_zero_runs;
        self.long_zero_runs += other.long_zero_runs;
        self.lengths += other.lengths;
        self.sent = self.sent.max(other.sent);
    }

    /// Some code in the trees has a length in `bits`: HCLEN reaches at least the first of
    /// them in [`BL_ORDER`].
    fn need_one_of(&mut self, bits: std::ops::RangeInclusive<usize>) {
        if let Some(first) = BL_ORDER.iter().position(|symbol| bits.contains(symbol)) {
            self.sent = self.sent.max(first + 1);
        }
    }

    /// The symbols' least cost, counting every length as one symbol (merging symbols never
    /// raises an optimal code's cost), with the repeat codes' extra bits.
    fn bits(&self) -> usize {
        let mut counts = [
            self.zeros,
            self.short_zero_runs,
            self.long_zero_runs,
            self.lengths,
        ];
        counts.sort_unstable();
        let first_used = counts.iter().take_while(|&&c| c == 0).count();
        huffman_cost(&counts[first_used..], &mut [0; 4])
            + 3 * self.sent.max(4)
            + 3 * self.short_zero_runs as usize
            + 7 * self.long_zero_runs as usize
    }
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
                opt_len: 0,
                static_len: 0,
            },
            bound: BoundScratch::new(),
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
        if 2 + block_len_lower_bound(&self.ltree, &self.dtree, &mut self.bound) + 4 > limit {
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
