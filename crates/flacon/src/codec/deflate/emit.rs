//! Writing the block: the bit writer, the tree descriptions and the symbols in their
//! codes (zlib's `send_bits`, `send_all_trees`, `compress_block`).

#![allow(clippy::indexing_slicing)]

use super::trees::{
    dist_code, length_code, length_symbols, Tree, BASE_DIST, BASE_LENGTH, BL_ORDER, EXTRA_DBITS,
    EXTRA_LBITS,
};
use super::*;

pub(super) struct BitWriter<'a> {
    pub(super) out: &'a mut Vec<u8>,
    pub(super) buf: u64,
    pub(super) bits: u32,
}

impl BitWriter<'_> {
    pub(super) fn send(&mut self, value: u16, len: u16) {
        self.buf |= u64::from(value) << self.bits;
        self.bits += u32::from(len);
        while self.bits >= 8 {
            self.out.push((self.buf & 0xff) as u8);
            self.buf >>= 8;
            self.bits -= 8;
        }
    }

    pub(super) fn windup(&mut self) {
        if self.bits > 0 {
            self.out.push((self.buf & 0xff) as u8);
        }
        self.buf = 0;
        self.bits = 0;
    }
}

pub(super) fn send_tree(bits: &mut BitWriter<'_>, bl: &Tree, tree: &Tree) {
    length_symbols(tree, |symbol, extra, extra_bits| {
        bits.send(bl.code[symbol], bl.len[symbol]);
        if extra_bits != 0 {
            bits.send(extra, extra_bits);
        }
    });
}

pub(super) fn send_all_trees(
    bits: &mut BitWriter<'_>,
    ltree: &Tree,
    dtree: &Tree,
    bltree: &Tree,
    blcodes: usize,
) {
    bits.send((ltree.max_code + 1 - 257) as u16, 5);
    bits.send(dtree.max_code as u16, 5);
    bits.send((blcodes - 4) as u16, 4);
    for &symbol in &BL_ORDER[..blcodes] {
        bits.send(bltree.len[symbol], 3);
    }
    send_tree(bits, bltree, ltree);
    send_tree(bits, bltree, dtree);
}

pub(super) fn compress_block(
    symbols: &[Symbol],
    bits: &mut BitWriter<'_>,
    ltree: (&[u16], &[u16]),
    dtree: (&[u16], &[u16]),
) {
    let (lcode, llen) = ltree;
    let (dcode, dlen) = dtree;
    for symbol in symbols {
        let lc = usize::from(symbol.lc);
        if symbol.dist == 0 {
            bits.send(lcode[lc], llen[lc]);
            continue;
        }
        let code = length_code(lc);
        bits.send(lcode[code + LITERALS + 1], llen[code + LITERALS + 1]);
        let extra = EXTRA_LBITS[code];
        if extra != 0 {
            bits.send(
                (lc - usize::from(BASE_LENGTH[code])) as u16,
                u16::from(extra),
            );
        }
        let dist = usize::from(symbol.dist) - 1;
        let code = dist_code(dist);
        bits.send(dcode[code], dlen[code]);
        let extra = EXTRA_DBITS[code];
        if extra != 0 {
            bits.send(
                (dist - usize::from(BASE_DIST[code])) as u16,
                u16::from(extra),
            );
        }
    }
    bits.send(lcode[END_BLOCK], llen[END_BLOCK]);
}
