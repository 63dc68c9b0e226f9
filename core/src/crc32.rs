//! CRC-32 (IEEE 802.3, the zlib/PNG/Ethernet one): reflected polynomial
//! `0xEDB88320`, initial value and final XOR `0xFFFF_FFFF`.
//!
//! Table-driven, one nibble per step: the 16-entry (64-byte) table is built
//! at compile time and lives in flash. A byte-wide table would be 1 KiB — a
//! quarter of a small model's flash budget — for a check that runs once per
//! load. Check value: `crc32(b"123456789") == 0xCBF4_3926`.

/// The reflected generator polynomial.
pub const POLY: u32 = 0xEDB8_8320;

/// One entry per nibble value: that nibble fed through a zero register.
static TABLE: [u32; 16] = build_table();

const fn build_table() -> [u32; 16] {
    let mut table = [0u32; 16];
    let mut i = 0;
    while i < 16 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 4 {
            c = if c & 1 != 0 { POLY ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// An incremental CRC-32: feed bytes in any number of pieces, then
/// [`finish`](Self::finish).
#[derive(Debug, Clone, Copy)]
pub struct Crc32 {
    state: u32,
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32 {
    /// A fresh register.
    pub const fn new() -> Self {
        Crc32 { state: 0xFFFF_FFFF }
    }

    /// Feeds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        let mut c = self.state;
        for &b in bytes {
            // Low nibble first: the reflected CRC consumes bits LSB first.
            c = TABLE[((c ^ b as u32) & 0xF) as usize] ^ (c >> 4);
            c = TABLE[((c ^ (b as u32 >> 4)) & 0xF) as usize] ^ (c >> 4);
        }
        self.state = c;
    }

    /// The CRC of everything fed so far.
    pub const fn finish(&self) -> u32 {
        self.state ^ 0xFFFF_FFFF
    }
}

/// The CRC-32 of `bytes` in one call.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(bytes);
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_matches_the_standard() {
        // The "check" value of CRC-32/ISO-HDLC in the CRC catalogue.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        // zlib.crc32(b"The quick brown fox jumps over the lazy dog")
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    /// The textbook bit-at-a-time CRC, as an oracle for the table.
    fn bitwise(bytes: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in bytes {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { POLY ^ (c >> 1) } else { c >> 1 };
            }
        }
        c ^ 0xFFFF_FFFF
    }

    #[test]
    fn table_equals_the_bitwise_definition() {
        let data: [u8; 256] =
            core::array::from_fn(|i| (i as u8).wrapping_mul(167).wrapping_add(13));
        for len in [0, 1, 2, 3, 17, 255, 256] {
            assert_eq!(crc32(&data[..len]), bitwise(&data[..len]), "len {len}");
        }
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data = b"axon model blob, fed in uneven pieces";
        for split in 0..data.len() {
            let mut c = Crc32::new();
            c.update(&data[..split]);
            c.update(&data[split..]);
            assert_eq!(c.finish(), crc32(data), "split at {split}");
        }
    }

    #[test]
    fn every_single_bit_flip_changes_the_crc() {
        let data = [0x5Au8; 16];
        let good = crc32(&data);
        for byte in 0..data.len() {
            for bit in 0..8 {
                let mut d = data;
                d[byte] ^= 1 << bit;
                assert_ne!(crc32(&d), good);
            }
        }
    }
}
