//! zlib's `trees.c`: the length and distance codes, the Huffman trees built from the
//! symbol counts (with zlib's tie-breaks), and the code-length codes that describe them.

#![allow(clippy::indexing_slicing)]

use super::*;

pub(super) const EXTRA_LBITS: [u8; LENGTH_CODES] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
pub(super) const BASE_LENGTH: [u16; LENGTH_CODES] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128,
    160, 192, 224, 255,
];
pub(super) const EXTRA_DBITS: [u8; D_CODES] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
pub(super) const BASE_DIST: [u16; D_CODES] = [
    0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536,
    2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576,
];
pub(super) const EXTRA_BLBITS: [u8; BL_CODES] =
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7];
/// The order in which code-length code lengths are sent.
pub(super) const BL_ORDER: [usize; BL_CODES] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// The length code (0..29) of each match length minus 3. Length 258 has two spellings;
/// zlib uses the shorter, code 28.
pub(super) static LENGTH_CODE: [u8; 256] = {
    let mut table = [0; 256];
    let mut code = 0;
    while code < LENGTH_CODES - 1 {
        let mut lc = BASE_LENGTH[code] as usize;
        while lc < 256 && (code + 1 == LENGTH_CODES - 1 || lc < BASE_LENGTH[code + 1] as usize) {
            table[lc] = code as u8;
            lc += 1;
        }
        code += 1;
    }
    table[255] = 28;
    table
};

/// The distance code of each distance minus 1 below 256, then of `(distance - 1) >> 7`
/// (zlib's `d_code`).
pub(super) static DIST_CODE: [u8; 512] = {
    let mut table = [0; 512];
    let mut code = 0;
    while code < D_CODES {
        let start = BASE_DIST[code] as usize;
        let end = if code + 1 < D_CODES {
            BASE_DIST[code + 1] as usize
        } else {
            32768
        };
        let mut dist = start;
        while dist < end {
            if dist < 256 {
                table[dist] = code as u8;
            } else {
                table[256 + (dist >> 7)] = code as u8;
            }
            dist += 1;
        }
        code += 1;
    }
    table
};

pub(super) fn length_code(lc: usize) -> usize {
    usize::from(LENGTH_CODE[lc & 0xff])
}

pub(super) fn dist_code(dist: usize) -> usize {
    let index = if dist < 256 { dist } else { 256 + (dist >> 7) };
    usize::from(DIST_CODE.get(index).copied().unwrap_or(0))
}

/// One Huffman tree's working arrays (zlib's `ct_data` with its unions pulled apart).
pub(super) struct Tree {
    pub(super) freq: [u32; HEAP_SIZE],
    pub(super) len: [u16; HEAP_SIZE],
    pub(super) dad: [u16; HEAP_SIZE],
    pub(super) code: [u16; HEAP_SIZE],
    pub(super) max_code: usize,
    /// How many codes have each length (kept for `gen_codes`, which runs only when the
    /// bytes are wanted).
    pub(super) bl_count: [u16; MAX_BITS + 1],
    /// Which symbols have a frequency, one bit each (the walks visit these, not the counts).
    used: [u64; USED_WORDS],
}

/// Words of [`Tree::used`]: one bit for each literal/length symbol.
const USED_WORDS: usize = L_CODES.div_ceil(64);

/// The positions of the set bits of `words`, lowest first.
fn set_bits(words: &[u64]) -> impl Iterator<Item = usize> + '_ {
    words
        .iter()
        .enumerate()
        .flat_map(|(index, &word)| SetBits(word).map(move |bit| index * 64 + bit))
}

/// The positions of a word's set bits, lowest first.
struct SetBits(u64);

impl Iterator for SetBits {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let bit = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(bit)
    }
}

impl Tree {
    pub(super) fn new() -> Self {
        Tree {
            freq: [0; HEAP_SIZE],
            len: [0; HEAP_SIZE],
            dad: [0; HEAP_SIZE],
            code: [0; HEAP_SIZE],
            max_code: 0,
            bl_count: [0; MAX_BITS + 1],
            used: [0; USED_WORDS],
        }
    }

    /// All counts back to zero (the used ones are the only ones that are not).
    pub(super) fn reset(&mut self) {
        let used = std::mem::take(&mut self.used);
        for (index, &word) in used.iter().enumerate() {
            for bit in SetBits(word) {
                self.freq[index * 64 + bit] = 0;
            }
        }
    }

    /// The symbols with a count, in ascending order.
    pub(super) fn used_symbols(&self) -> impl Iterator<Item = usize> + '_ {
        set_bits(&self.used)
    }

    /// Counts one more `symbol`.
    #[inline]
    pub(super) fn tally(&mut self, symbol: usize) {
        self.freq[symbol] += 1;
        self.used[symbol >> 6] |= 1 << (symbol & 63);
    }
}

/// What distinguishes the three trees (zlib's `static_tree_desc`).
pub(super) struct Desc {
    pub(super) static_len: Option<&'static [u8]>,
    /// Extra bits of each symbol (indexed from symbol 0).
    pub(super) extra: &'static [u8],
    pub(super) elems: usize,
    pub(super) max_length: usize,
}

pub(super) static EXTRA_LBITS_FULL: [u8; L_CODES] = {
    let mut all = [0; L_CODES];
    let mut i = 0;
    while i < LENGTH_CODES {
        all[LITERALS + 1 + i] = EXTRA_LBITS[i];
        i += 1;
    }
    all
};

/// The fixed literal/length code lengths (RFC 1951, 3.2.6), for all 288 symbols.
pub(super) static STATIC_LTREE_LEN: [u8; L_CODES + 2] = {
    let mut lens = [0; L_CODES + 2];
    let mut n = 0;
    while n < L_CODES + 2 {
        lens[n] = if n < 144 {
            8
        } else if n < 256 {
            9
        } else if n < 280 {
            7
        } else {
            8
        };
        n += 1;
    }
    lens
};
pub(super) static STATIC_DTREE_LEN: [u8; D_CODES] = [5; D_CODES];

pub(super) const L_DESC: Desc = Desc {
    static_len: Some(&STATIC_LTREE_LEN),
    extra: &EXTRA_LBITS_FULL,
    elems: L_CODES,
    max_length: MAX_BITS,
};
pub(super) const D_DESC: Desc = Desc {
    static_len: Some(&STATIC_DTREE_LEN),
    extra: &EXTRA_DBITS,
    elems: D_CODES,
    max_length: MAX_BITS,
};
pub(super) const BL_DESC: Desc = Desc {
    static_len: None,
    extra: &EXTRA_BLBITS,
    elems: BL_CODES,
    max_length: MAX_BL_BITS,
};

pub(super) fn reverse_bits(code: u16, len: u16) -> u16 {
    code.reverse_bits() >> (16 - len)
}

/// Canonical codes from code lengths (zlib's `gen_codes`).
pub(super) fn gen_codes(
    len: &[u16],
    code: &mut [u16],
    max_code: usize,
    bl_count: &[u16; MAX_BITS + 1],
) {
    let mut next_code = [0_u16; MAX_BITS + 1];
    let mut c: u16 = 0;
    for bits in 1..=MAX_BITS {
        c = c.wrapping_add(bl_count[bits - 1]) << 1;
        next_code[bits] = c;
    }
    for n in 0..=max_code {
        let l = len[n];
        if l == 0 {
            continue;
        }
        code[n] = reverse_bits(next_code[usize::from(l)], l);
        next_code[usize::from(l)] = next_code[usize::from(l)].wrapping_add(1);
    }
}

/// The fixed codes, as zlib builds them.
pub(super) struct StaticCodes {
    pub(super) lcode: [u16; L_CODES + 2],
    pub(super) llen: [u16; L_CODES + 2],
    pub(super) dcode: [u16; D_CODES],
}

pub(super) static STATIC_CODES: std::sync::LazyLock<StaticCodes> = std::sync::LazyLock::new(|| {
    let llen: [u16; L_CODES + 2] = STATIC_LTREE_LEN.map(u16::from);
    let mut bl_count = [0_u16; MAX_BITS + 1];
    for &l in &llen {
        bl_count[usize::from(l)] += 1;
    }
    let mut lcode = [0; L_CODES + 2];
    gen_codes(&llen, &mut lcode, L_CODES + 1, &bl_count);
    let mut dcode = [0; D_CODES];
    for (n, code) in dcode.iter_mut().enumerate() {
        *code = reverse_bits(u16::try_from(n).unwrap_or(0), 5);
    }
    StaticCodes { lcode, llen, dcode }
});

/// The heap and counters `build_tree` works with. A heap entry carries what zlib's
/// `smaller` compares (frequency, then depth) above the node it stands for, so that sifting
/// compares entries without looking the node up, and a merge reads its children's
/// frequency and depth from their entries.
pub(super) struct Heap {
    pub(super) heap: [u64; HEAP_SIZE],
    pub(super) opt_len: usize,
    pub(super) static_len: usize,
}

const NODE_BITS: u32 = 16;

fn entry(freq: u32, depth: u8, node: usize) -> u64 {
    (u64::from(freq) << (NODE_BITS + 8)) | (u64::from(depth) << NODE_BITS) | node as u64
}

fn node_of(entry: u64) -> usize {
    (entry & ((1 << NODE_BITS) - 1)) as usize
}

fn depth_of(entry: u64) -> u8 {
    (entry >> NODE_BITS) as u8
}

fn freq_of(entry: u64) -> u32 {
    (entry >> (NODE_BITS + 8)) as u32
}

impl Heap {
    /// zlib's `smaller`: a lower frequency, or the same one at no greater depth.
    fn smaller(a: u64, b: u64) -> bool {
        a >> NODE_BITS <= b >> NODE_BITS
    }

    pub(super) fn pqdownheap(&mut self, heap_len: usize, mut k: usize) {
        let v = self.heap[k];
        let mut j = k << 1;
        while j <= heap_len {
            if j < heap_len && Self::smaller(self.heap[j + 1], self.heap[j]) {
                j += 1;
            }
            if Self::smaller(v, self.heap[j]) {
                break;
            }
            self.heap[k] = self.heap[j];
            k = j;
            j <<= 1;
        }
        self.heap[k] = v;
    }

    /// `build_tree`: Huffman code lengths limited to the descriptor's maximum, with zlib's
    /// tie-breaking (frequency, then depth), and their cost added to the running lengths.
    pub(super) fn build_tree(&mut self, tree: &mut Tree, desc: &Desc) {
        let elems = desc.elems;
        let mut heap_len = 0;
        let mut heap_max = HEAP_SIZE;
        let mut max_code: isize = -1;
        tree.len[..elems].fill(0);
        for n in tree.used_symbols() {
            heap_len += 1;
            self.heap[heap_len] = entry(tree.freq[n], 0, n);
            max_code = n as isize;
        }
        // At least two codes, so that a code is at least one bit long.
        while heap_len < 2 {
            let node = if max_code < 2 {
                max_code += 1;
                max_code as usize
            } else {
                0
            };
            heap_len += 1;
            self.heap[heap_len] = entry(1, 0, node);
            tree.tally(node);
            self.opt_len = self.opt_len.wrapping_sub(1);
            if let Some(stree) = desc.static_len {
                self.static_len = self.static_len.wrapping_sub(usize::from(stree[node]));
            }
        }
        let max_code = max_code as usize;
        tree.max_code = max_code;
        for n in (1..=heap_len / 2).rev() {
            self.pqdownheap(heap_len, n);
        }
        let mut node = elems;
        loop {
            let first = self.heap[1];
            self.heap[1] = self.heap[heap_len];
            heap_len -= 1;
            self.pqdownheap(heap_len, 1);
            let second = self.heap[1];
            heap_max -= 1;
            self.heap[heap_max] = first;
            heap_max -= 1;
            self.heap[heap_max] = second;
            tree.dad[node_of(first)] = node as u16;
            tree.dad[node_of(second)] = node as u16;
            self.heap[1] = entry(
                freq_of(first) + freq_of(second),
                depth_of(first).max(depth_of(second)) + 1,
                node,
            );
            node += 1;
            self.pqdownheap(heap_len, 1);
            if heap_len < 2 {
                break;
            }
        }
        heap_max -= 1;
        self.heap[heap_max] = self.heap[1];
        self.gen_bitlen(tree, desc, heap_max);
    }

    /// `gen_bitlen`: lengths from the tree, overflow past the maximum length redistributed
    /// as zlib does.
    pub(super) fn gen_bitlen(&mut self, tree: &mut Tree, desc: &Desc, heap_max: usize) {
        let max_code = tree.max_code;
        let max_length = desc.max_length;
        tree.bl_count = [0; MAX_BITS + 1];
        tree.len[node_of(self.heap[heap_max])] = 0;
        let mut overflow = 0_i32;
        for h in heap_max + 1..HEAP_SIZE {
            let n = node_of(self.heap[h]);
            let mut bits = usize::from(tree.len[usize::from(tree.dad[n])]) + 1;
            if bits > max_length {
                bits = max_length;
                overflow += 1;
            }
            tree.len[n] = bits as u16;
            if n > max_code {
                continue;
            }
            tree.bl_count[bits] += 1;
            let xbits = usize::from(desc.extra.get(n).copied().unwrap_or(0));
            let f = tree.freq[n] as usize;
            self.opt_len = self.opt_len.wrapping_add(f * (bits + xbits));
            if let Some(stree) = desc.static_len {
                self.static_len = self
                    .static_len
                    .wrapping_add(f * (usize::from(stree[n]) + xbits));
            }
        }
        if overflow == 0 {
            return;
        }
        loop {
            let mut bits = max_length - 1;
            while tree.bl_count[bits] == 0 {
                bits -= 1;
            }
            tree.bl_count[bits] -= 1;
            tree.bl_count[bits + 1] += 2;
            tree.bl_count[max_length] -= 1;
            overflow -= 2;
            if overflow <= 0 {
                break;
            }
        }
        let mut h = HEAP_SIZE;
        for bits in (1..=max_length).rev() {
            let mut n = tree.bl_count[bits];
            while n != 0 {
                h -= 1;
                let m = node_of(self.heap[h]);
                if m > max_code {
                    continue;
                }
                if usize::from(tree.len[m]) != bits {
                    let delta = bits as isize - isize::from(tree.len[m] as i16);
                    self.opt_len = self
                        .opt_len
                        .wrapping_add_signed(delta * tree.freq[m] as isize);
                    tree.len[m] = bits as u16;
                }
                n -= 1;
            }
        }
    }

    pub(super) fn build_bl_tree(&mut self, ltree: &Tree, dtree: &Tree, bltree: &mut Tree) -> usize {
        scan_tree(bltree, ltree);
        scan_tree(bltree, dtree);
        self.build_tree(bltree, &BL_DESC);
        let mut max_blindex = BL_CODES - 1;
        while max_blindex >= 3 {
            if bltree.len[BL_ORDER[max_blindex]] != 0 {
                break;
            }
            max_blindex -= 1;
        }
        self.opt_len = self.opt_len.wrapping_add(3 * (max_blindex + 1) + 5 + 5 + 4);
        max_blindex
    }
}

/// The code-length symbols that describe `tree`'s lengths, each with its extra bits
/// (value, count): what zlib's `scan_tree` counts and `send_tree` writes, from the runs of
/// equal lengths. Unused symbols (length 0) are the gaps between the used ones, so the walk
/// visits used symbols only. zlib cuts a run of zeros every 138 (fewer than 3 go out one by
/// one, up to 10 as code 17, more as code 18), and a run of another length into a first
/// piece of up to 7 (sent as the length then a repeat, or one by one below 4) and pieces of
/// up to 6 (a repeat, or one by one below 3).
pub(super) fn length_symbols(tree: &Tree, mut emit: impl FnMut(usize, u16, u16)) {
    // The run of equal lengths being walked, and the first symbol after it.
    let (mut len, mut run, mut next) = (0, 0, 0);
    for n in tree.used_symbols() {
        let this = tree.len[n];
        if n != next || this != len {
            if run != 0 {
                length_run(len, run, &mut emit);
            }
            zero_run(n - next, &mut emit);
            run = 0;
            len = this;
        }
        run += 1;
        next = n + 1;
    }
    if run != 0 {
        length_run(len, run, &mut emit);
    }
}

/// The code-length symbols of `run` unused symbols.
pub(super) fn zero_run(mut run: usize, emit: &mut impl FnMut(usize, u16, u16)) {
    while run > 0 {
        let piece = run.min(138);
        match piece {
            0..3 => (0..piece).for_each(|_| emit(0, 0, 0)),
            3..=10 => emit(REPZ_3_10, piece as u16 - 3, 3),
            _ => emit(REPZ_11_138, piece as u16 - 11, 7),
        }
        run -= piece;
    }
}

/// The code-length symbols of `run` symbols of length `len`, after a different length.
fn length_run(len: u16, run: usize, emit: &mut impl FnMut(usize, u16, u16)) {
    let len = usize::from(len);
    let first = run.min(7);
    if first < 4 {
        (0..first).for_each(|_| emit(len, 0, 0));
    } else {
        emit(len, 0, 0);
        emit(REP_3_6, first as u16 - 4, 2);
    }
    let mut rest = run - first;
    while rest > 0 {
        let piece = rest.min(6);
        if piece < 3 {
            (0..piece).for_each(|_| emit(len, 0, 0));
        } else {
            emit(REP_3_6, piece as u16 - 3, 2);
        }
        rest -= piece;
    }
}

/// `scan_tree`: counts the code-length symbols that will describe `tree`.
pub(super) fn scan_tree(bltree: &mut Tree, tree: &Tree) {
    length_symbols(tree, |symbol, _, _| bltree.tally(symbol));
}
