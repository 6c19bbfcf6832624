//! zlib's `deflate.c` for level 6: the hash chains, the lazy-matching parse of
//! `deflate_slow` and the chain search of `longest_match`.

#![allow(clippy::indexing_slicing)]

use super::trees::{dist_code, length_code};
use super::*;

impl Scratch {
    pub(super) fn insert_string(&mut self, ins_h: &mut u32, pos: usize) -> usize {
        *ins_h = ((*ins_h << HASH_SHIFT) ^ u32::from(self.window[pos + MIN_MATCH - 1])) & HASH_MASK;
        let h = *ins_h as usize;
        let match_head = self.head[h];
        self.prev[pos & (WINDOW_SIZE - 1)] = match_head;
        self.head[h] = pos as u16;
        self.touched.push(h as u16);
        usize::from(match_head)
    }

    pub(super) fn tally_lit(&mut self, c: u8) {
        self.symbols.push(Symbol { dist: 0, lc: c });
        self.ltree.tally(usize::from(c));
    }

    pub(super) fn tally_dist(&mut self, dist: usize, lc: usize) {
        self.symbols.push(Symbol {
            dist: dist as u16,
            lc: lc as u8,
        });
        self.ltree.tally(length_code(lc) + LITERALS + 1);
        self.dtree.tally(dist_code(dist - 1));
    }

    /// `deflate_slow` over the whole input at once (one `fill_window`, one final block).
    pub(super) fn parse(&mut self, n: usize) {
        self.symbols.clear();
        self.ltree.reset();
        self.dtree.reset();
        self.bltree.reset();
        self.ltree.tally(END_BLOCK);

        let mut ins_h: u32 = 0;
        if n >= MIN_MATCH {
            ins_h = u32::from(self.window[0]);
            ins_h = ((ins_h << HASH_SHIFT) ^ u32::from(self.window[1])) & HASH_MASK;
        }
        let mut strstart = 0_usize;
        let mut lookahead = n;
        let mut match_length = MIN_MATCH - 1;
        let mut match_start = 0_usize;
        let mut match_available = false;
        while lookahead > 0 {
            let mut hash_head = 0;
            if lookahead >= MIN_MATCH {
                hash_head = self.insert_string(&mut ins_h, strstart);
            }
            let prev_length = match_length;
            let prev_match = match_start;
            match_length = MIN_MATCH - 1;
            if hash_head != 0 && prev_length < MAX_LAZY && strstart - hash_head <= MAX_DIST {
                let (len, start) =
                    self.longest_match(strstart, hash_head, prev_length, lookahead, match_start);
                match_length = len;
                match_start = start;
                if match_length == MIN_MATCH && strstart - match_start > TOO_FAR {
                    match_length = MIN_MATCH - 1;
                }
            }
            if prev_length >= MIN_MATCH && match_length <= prev_length {
                let max_insert = strstart + lookahead - MIN_MATCH;
                self.tally_dist(strstart - 1 - prev_match, prev_length - MIN_MATCH);
                lookahead -= prev_length - 1;
                for _ in 0..prev_length - 2 {
                    strstart += 1;
                    if strstart <= max_insert {
                        self.insert_string(&mut ins_h, strstart);
                    }
                }
                match_available = false;
                match_length = MIN_MATCH - 1;
                strstart += 1;
            } else if match_available {
                self.tally_lit(self.window[strstart - 1]);
                strstart += 1;
                lookahead -= 1;
            } else {
                match_available = true;
                strstart += 1;
                lookahead -= 1;
            }
        }
        if match_available {
            self.tally_lit(self.window[strstart - 1]);
        }
    }

    /// `longest_match`: the best match along the hash chain, as (length, start).
    pub(super) fn longest_match(
        &self,
        strstart: usize,
        mut cur_match: usize,
        prev_length: usize,
        lookahead: usize,
        match_start: usize,
    ) -> (usize, usize) {
        let window = &self.window;
        let mut chain_length = MAX_CHAIN;
        let mut best_len = prev_length;
        let mut best_start = match_start;
        let nice_match = NICE_LENGTH.min(lookahead);
        let limit = strstart.saturating_sub(MAX_DIST);
        if prev_length >= GOOD_LENGTH {
            chain_length >>= 2;
        }
        let scan = strstart;
        let mut scan_end1 = window[scan + best_len - 1];
        let mut scan_end = window[scan + best_len];
        loop {
            let m = cur_match;
            let candidate = window[m + best_len] == scan_end
                && window[m + best_len - 1] == scan_end1
                && window[m] == window[scan]
                && window[m + 1] == window[scan + 1];
            if candidate {
                // Byte 2 is equal whenever bytes 0 and 1 are: they share the hash.
                let len = common_prefix(window, scan, m, 3);
                if len > best_len {
                    best_start = cur_match;
                    best_len = len;
                    if len >= nice_match {
                        break;
                    }
                    scan_end1 = window[scan + best_len - 1];
                    scan_end = window[scan + best_len];
                }
            }
            cur_match = usize::from(self.prev[cur_match & (WINDOW_SIZE - 1)]);
            chain_length -= 1;
            if cur_match <= limit || chain_length == 0 {
                break;
            }
        }
        (best_len.min(lookahead), best_start)
    }
}

/// How many bytes at `a` and `b` agree, counting from `from`, up to [`MAX_MATCH`]; eight
/// at a time. The window is padded so that the reads stay inside it.
pub(super) fn common_prefix(window: &[u8], a: usize, b: usize, from: usize) -> usize {
    let word = |at: usize| {
        window
            .get(at..at + 8)
            .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
            .map_or(0, u64::from_le_bytes)
    };
    let mut len = from;
    while len < MAX_MATCH {
        let diff = word(a + len) ^ word(b + len);
        if diff != 0 {
            len += (diff.trailing_zeros() / 8) as usize;
            break;
        }
        len += 8;
    }
    len.min(MAX_MATCH)
}
