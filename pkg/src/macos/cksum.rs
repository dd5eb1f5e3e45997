//! The checksum of POSIX `cksum`: CRC-32 (polynomial 0x04C11DB7, most significant
//! bit first) over the data followed by its length, inverted. A Bom records it for
//! every file and link.

const POLY: u32 = 0x04C1_1DB7;

const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 0x8000_0000 != 0 { (c << 1) ^ POLY } else { c << 1 };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

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
        for &b in data {
            self.crc = (self.crc << 8) ^ TABLE[((self.crc >> 24) as u8 ^ b) as usize];
        }
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
}
