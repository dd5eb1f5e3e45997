//! The checksum of POSIX `cksum`: CRC-32 (polynomial 0x04C11DB7, most significant
//! bit first) over the data followed by its length, inverted. A Bom records it for
//! every file and link.

const POLY: u32 = 0x04C1_1DB7;

/// `TABLES[k][b]`: the CRC of byte `b` followed by `k` zero bytes, so that eight
/// bytes are taken at a time ("slicing by 8"; a byte at a time was 12 % of the
/// processor time of a .pkg).
const TABLES: [[u32; 256]; 8] = {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 0x8000_0000 != 0 { (c << 1) ^ POLY } else { c << 1 };
            bit += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev << 8) ^ t[0][(prev >> 24) as usize];
            i += 1;
        }
        k += 1;
    }
    t
};
const TABLE: [u32; 256] = TABLES[0];

#[derive(Debug, Clone, Default)]
pub struct Cksum {
    crc: u32,
    len: u64,
}

impl Cksum {
    pub fn new() -> Cksum {
        Cksum::default()
    }

    pub fn update(&mut self, data: &[u8]) {
        let t = &TABLES;
        let mut crc = self.crc;
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            let a = u32::from_be_bytes([c[0], c[1], c[2], c[3]]) ^ crc;
            let b = u32::from_be_bytes([c[4], c[5], c[6], c[7]]);
            crc = t[7][(a >> 24) as usize]
                ^ t[6][(a >> 16) as u8 as usize]
                ^ t[5][(a >> 8) as u8 as usize]
                ^ t[4][a as u8 as usize]
                ^ t[3][(b >> 24) as usize]
                ^ t[2][(b >> 16) as u8 as usize]
                ^ t[1][(b >> 8) as u8 as usize]
                ^ t[0][b as u8 as usize];
        }
        for &b in chunks.remainder() {
            crc = (crc << 8) ^ TABLE[((crc >> 24) as u8 ^ b) as usize];
        }
        self.crc = crc;
        self.len += data.len() as u64;
    }

    pub fn finish(&self) -> u32 {
        let mut crc = self.crc;
        let mut len = self.len;
        while len != 0 {
            crc = (crc << 8) ^ TABLE[((crc >> 24) as u8 ^ len as u8) as usize];
            len >>= 8;
        }
        !crc
    }

    pub fn of(data: &[u8]) -> u32 {
        let mut c = Cksum::new();
        c.update(data);
        c.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_posix_cksum() {
        // Values printed by `cksum` (GNU coreutils).
        assert_eq!(Cksum::of(b""), 4_294_967_295);
        assert_eq!(Cksum::of(b"hello\n"), 3_015_617_425);
        let mut split = Cksum::new();
        split.update(b"hel");
        split.update(b"lo\n");
        assert_eq!(split.finish(), 3_015_617_425);
    }

    #[test]
    fn eight_bytes_at_a_time_is_the_crc_of_one_at_a_time() {
        let data: Vec<u8> = (0u32..5000).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 1000, 4999, 5000] {
            let mut one = 0u32;
            for &b in &data[..len] {
                one = (one << 8) ^ TABLE[((one >> 24) as u8 ^ b) as usize];
            }
            let mut c = Cksum::new();
            // Split unevenly, so that chunks start at every offset.
            let (x, y) = data[..len].split_at(len / 3);
            c.update(x);
            c.update(y);
            assert_eq!(c.crc, one, "{len} bytes");
        }
        // `cksum` of 1000 bytes 0, 1, ..., 255, 0, 1, ... (GNU coreutils).
        let bytes: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        assert_eq!(Cksum::of(&bytes), 1_520_827_854);
    }
}
