//! The MD5 of many files at once, one file per lane of the processor's vector
//! registers (the .deb's `md5sums`).
//!
//! MD5 is a chain: every 64-byte block of a file waits for the previous one, so
//! one file is hashed at the speed of that chain (about 400 MB/s here), whatever
//! the processor. Sixteen files side by side, one in each 32-bit lane, take
//! almost the time of one: the same instructions on vectors. A file that ends
//! frees its lane for the next one; a lane without a file hashes whatever words
//! it last held, and that result is not read. The result is the same MD5 as any other implementation's
//! (the tests compare with the `md-5` crate).
//!
//! The vector code is ordinary Rust over arrays of lanes, which the compiler
//! turns into AVX-512, AVX2 or SSE2 on x86-64 (chosen when the program runs) and
//! NEON on arm64.

use std::collections::VecDeque;

/// Files hashed side by side.
const LANES: usize = 16;

type V = [u32; LANES];

/// The files waiting for a lane, in bytes, above which [`Md5Lanes::push`]
/// hashes until a lane is free again.
const QUEUED: usize = 16 << 20;

#[rustfmt::skip]
const K: [u32; 64] = [
    0xd76a_a478, 0xe8c7_b756, 0x2420_70db, 0xc1bd_ceee, 0xf57c_0faf, 0x4787_c62a, 0xa830_4613, 0xfd46_9501,
    0x6980_98d8, 0x8b44_f7af, 0xffff_5bb1, 0x895c_d7be, 0x6b90_1122, 0xfd98_7193, 0xa679_438e, 0x49b4_0821,
    0xf61e_2562, 0xc040_b340, 0x265e_5a51, 0xe9b6_c7aa, 0xd62f_105d, 0x0244_1453, 0xd8a1_e681, 0xe7d3_fbc8,
    0x21e1_cde6, 0xc337_07d6, 0xf4d5_0d87, 0x455a_14ed, 0xa9e3_e905, 0xfcef_a3f8, 0x676f_02d9, 0x8d2a_4c8a,
    0xfffa_3942, 0x8771_f681, 0x6d9d_6122, 0xfde5_380c, 0xa4be_ea44, 0x4bde_cfa9, 0xf6bb_4b60, 0xbebf_bc70,
    0x289b_7ec6, 0xeaa1_27fa, 0xd4ef_3085, 0x0488_1d05, 0xd9d4_d039, 0xe6db_99e5, 0x1fa2_7cf8, 0xc4ac_5665,
    0xf429_2244, 0x432a_ff97, 0xab94_23a7, 0xfc93_a039, 0x655b_59c3, 0x8f0c_cc92, 0xffef_f47d, 0x8584_5dd1,
    0x6fa8_7e4f, 0xfe2c_e6e0, 0xa301_4314, 0x4e08_11a1, 0xf753_7e82, 0xbd3a_f235, 0x2ad7_d2bb, 0xeb86_d391,
];
const S: [[u32; 4]; 4] = [[7, 12, 17, 22], [5, 9, 14, 20], [4, 11, 16, 23], [6, 10, 15, 21]];
const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// One 64-byte block of every lane: `m[w][l]` is word `w` of lane `l`'s block.
/// With `N` = 1, plain MD5.
#[inline(always)]
fn compress<const N: usize>(state: &mut [[u32; N]; 4], m: &[[u32; N]; 16]) {
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn step<const N: usize>(f: impl Fn(u32, u32, u32) -> u32, a: [u32; N], b: [u32; N], c: [u32; N], d: [u32; N], m: &[u32; N], k: u32, s: u32) -> [u32; N] {
        // A loop, not array::from_fn: this must inline into the functions
        // compiled for the vector extensions, and from_fn is not.
        let mut r = [0; N];
        for l in 0..N {
            r[l] = b[l].wrapping_add(a[l].wrapping_add(f(b[l], c[l], d[l])).wrapping_add(k).wrapping_add(m[l]).rotate_left(s));
        }
        r
    }
    let [mut a, mut b, mut c, mut d] = *state;
    // Four rounds of sixteen steps: each its function, its order of the
    // block's words and its four rotations.
    macro_rules! round {
        ($r:literal, $f:expr, $word:expr) => {
            for j in 0..16 {
                let t = step($f, a, b, c, d, &m[$word(j) % 16], K[16 * $r + j], S[$r][j % 4]);
                (a, b, c, d) = (d, t, b, c);
            }
        };
    }
    round!(0, |x, y, z| z ^ (x & (y ^ z)), |j| j);
    round!(1, |x, y, z| y ^ (z & (x ^ y)), |j| 5 * j + 1);
    round!(2, |x, y, z| x ^ y ^ z, |j| 3 * j + 5);
    round!(3, |x, y, z| y ^ (x | !z), |j| 7 * j);
    for (s, x) in state.iter_mut().zip([a, b, c, d]) {
        for l in 0..N {
            s[l] = s[l].wrapping_add(x[l]);
        }
    }
}

macro_rules! compress_with {
    ($name:ident, $features:literal) => {
        #[target_feature(enable = $features)]
        fn $name(state: &mut [V; 4], m: &[V; 16]) {
            compress::<LANES>(state, m)
        }
    };
}

#[cfg(target_arch = "x86_64")]
compress_with!(compress_avx512, "avx512f");
#[cfg(target_arch = "x86_64")]
compress_with!(compress_avx2, "avx2");

/// The best [`compress`] this processor runs.
fn compressor() -> fn(&mut [V; 4], &[V; 16]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has the feature the function was compiled for.
            return |s, m| unsafe { compress_avx512(s, m) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return |s, m| unsafe { compress_avx2(s, m) };
        }
    }
    compress::<LANES>
}

/// A file in a lane.
struct Lane {
    id: usize,
    data: Vec<u8>,
    /// The next block's offset in `data`, then in `tail`.
    pos: usize,
    /// The last bytes that do not fill a block, the padding and the length in
    /// bits: one or two blocks.
    tail: [u8; 128],
    tail_len: usize,
}

impl Lane {
    fn new(id: usize, data: Vec<u8>) -> Lane {
        let whole = data.len() / 64 * 64;
        let rest = &data[whole..];
        let mut tail = [0u8; 128];
        tail[..rest.len()].copy_from_slice(rest);
        tail[rest.len()] = 0x80;
        let tail_len = if rest.len() < 56 { 64 } else { 128 };
        tail[tail_len - 8..tail_len].copy_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
        Lane { id, data, pos: 0, tail, tail_len }
    }

    /// The next block, and whether it is the last.
    fn block(&self) -> (&[u8], bool) {
        let whole = self.data.len() / 64 * 64;
        if self.pos < whole {
            (&self.data[self.pos..self.pos + 64], false)
        } else {
            let at = self.pos - whole;
            (&self.tail[at..at + 64], at + 64 == self.tail_len)
        }
    }
}

/// MD5s of files handed over one by one, [`Md5Lanes::finish`] returning them
/// by the id each was given with.
pub(crate) struct Md5Lanes {
    compress: fn(&mut [V; 4], &[V; 16]),
    queue: VecDeque<(usize, Vec<u8>)>,
    queued: usize,
    lanes: [Option<Lane>; LANES],
    state: [V; 4],
    /// The words of the blocks of one round (a free lane's are stale: its
    /// result is not read).
    words: [V; 16],
    done: Vec<(usize, [u8; 16])>,
}

impl Md5Lanes {
    pub(crate) fn new() -> Md5Lanes {
        Md5Lanes {
            compress: compressor(),
            queue: VecDeque::new(),
            queued: 0,
            lanes: std::array::from_fn(|_| None),
            state: [[0; LANES]; 4],
            words: [[0; LANES]; 16],
            done: Vec::new(),
        }
    }

    /// Hands over the bytes of file `id`. Hashes while the files waiting for
    /// a lane hold more than [`QUEUED`] bytes.
    pub(crate) fn push(&mut self, id: usize, data: Vec<u8>) {
        self.queued += data.len();
        self.queue.push_back((id, data));
        while self.queued > QUEUED {
            self.round();
        }
    }

    /// The MD5 of every file handed over, by id.
    pub(crate) fn finish(mut self) -> Vec<(usize, [u8; 16])> {
        while !self.queue.is_empty() || self.lanes.iter().filter(|l| l.is_some()).count() > 1 {
            self.round();
        }
        // The last file alone (often the largest, Node.js itself) is hashed as
        // plain MD5: one lane of the vectors would cost the whole vector.
        if let Some(l) = self.lanes.iter().position(Option::is_some) {
            let mut lane = self.lanes[l].take().expect("a lane");
            let mut state = self.state.map(|s| [s[l]]);
            loop {
                let (block, last) = lane.block();
                compress::<1>(&mut state, &le_words(block).map(|w| [w]));
                lane.pos += 64;
                if last {
                    break;
                }
            }
            self.done.push((lane.id, digest(&state, 0)));
        }
        self.done.sort_unstable_by_key(|d| d.0);
        self.done
    }

    /// Fills the free lanes and hashes one block of each.
    fn round(&mut self) {
        let m = &mut self.words;
        let mut last = [false; LANES];
        for (l, slot) in self.lanes.iter_mut().enumerate() {
            if slot.is_none() {
                if let Some((id, data)) = self.queue.pop_front() {
                    self.queued -= data.len();
                    *slot = Some(Lane::new(id, data));
                    for (s, init) in self.state.iter_mut().zip(INIT) {
                        s[l] = init;
                    }
                }
            }
            if let Some(lane) = slot {
                let (block, is_last) = lane.block();
                for (w, word) in le_words(block).into_iter().enumerate() {
                    m[w][l] = word;
                }
                last[l] = is_last;
                lane.pos += 64;
            }
        }
        (self.compress)(&mut self.state, m);
        for (l, slot) in self.lanes.iter_mut().enumerate() {
            if let Some(lane) = slot.take_if(|_| last[l]) {
                self.done.push((lane.id, digest(&self.state, l)));
            }
        }
    }
}

/// The sixteen little-endian words of a block.
fn le_words(block: &[u8]) -> [u32; 16] {
    std::array::from_fn(|w| u32::from_le_bytes(block[4 * w..4 * w + 4].try_into().expect("4 bytes")))
}

/// The digest of lane `l`.
fn digest<const N: usize>(state: &[[u32; N]; 4], l: usize) -> [u8; 16] {
    let mut digest = [0u8; 16];
    for (out, s) in digest.chunks_exact_mut(4).zip(state) {
        out.copy_from_slice(&s[l].to_le_bytes());
    }
    digest
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::Digest as _;

    fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// Every length around the padding's edges, files of very different sizes
    /// side by side, and more files than lanes, against the md-5 crate.
    #[test]
    fn the_same_md5_as_the_md5_crate() {
        let mut files: Vec<Vec<u8>> = (0..200).map(|n| bytes(n as u64, n)).collect();
        files.extend([bytes(1, 1 << 20), bytes(2, QUEUED + 3), Vec::new(), bytes(3, 100_000)]);
        let mut lanes = Md5Lanes::new();
        for (id, f) in files.iter().enumerate() {
            lanes.push(id, f.clone());
        }
        let got = lanes.finish();
        assert_eq!(got.len(), files.len());
        for ((id, digest), f) in got.iter().zip(&files) {
            assert_eq!(digest[..], md5::Md5::digest(f)[..], "file {id}, {} bytes", f.len());
        }
    }

    /// Every vector version this processor runs (the MD5 test above goes
    /// through the chosen one only) against the portable code.
    #[test]
    fn the_vector_code_agrees_with_the_portable_code() {
        let mut m = [[0u32; LANES]; 16];
        for (w, words) in m.iter_mut().enumerate() {
            *words = std::array::from_fn(|l| ((w * 31 + l * 7919) as u32).wrapping_mul(0x0101_0101));
        }
        let mut portable = INIT.map(|x| [x; LANES]);
        compress(&mut portable, &m);
        let mut chosen = INIT.map(|x| [x; LANES]);
        compressor()(&mut chosen, &m);
        assert_eq!(chosen, portable);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                let mut s = INIT.map(|x| [x; LANES]);
                // SAFETY: the processor has the feature.
                unsafe { compress_avx512(&mut s, &m) };
                assert_eq!(s, portable, "AVX-512");
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                let mut s = INIT.map(|x| [x; LANES]);
                // SAFETY: the processor has the feature.
                unsafe { compress_avx2(&mut s, &m) };
                assert_eq!(s, portable, "AVX2");
            }
        }
    }

    #[test]
    fn nothing_handed_over_nothing_returned() {
        assert!(Md5Lanes::new().finish().is_empty());
    }
}
