//! The flow hash: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, initial value and
//! final XOR 0xFFFFFFFF — the iSCSI/SSE4.2 CRC) over the 88-byte packed key. The bucket
//! of a key in a table of 2^n sets is the hash's low n bits; hardware computes the same
//! CRC with a parallel XOR tree in one cycle.

use crate::key::KEY_BYTES;

/// CRC-32C of a packed key.
pub fn flow_hash(packed_key: &[u8; KEY_BYTES]) -> u32 {
    crc32c::crc32c(packed_key)
}

/// The set a hash selects in a table of `1 << sets_log2` sets.
pub const fn bucket(hash: u32, sets_log2: u8) -> u32 {
    if sets_log2 >= 32 {
        hash
    } else {
        hash & ((1u32 << sets_log2) - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit-serial reference CRC-32C, straight from the polynomial.
    fn crc32c_bitwise(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for b in data {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn matches_the_published_check_value_and_a_bitwise_crc() {
        // RFC 3720 / the CRC catalogue: CRC-32C("123456789") = 0xE3069283.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c_bitwise(b"123456789"), 0xE306_9283);
        let mut k = [0u8; KEY_BYTES];
        for (i, b) in k.iter_mut().enumerate() {
            *b = (i * 37 % 251) as u8;
        }
        assert_eq!(flow_hash(&k), crc32c_bitwise(&k));
        assert_eq!(bucket(0xDEAD_BEEF, 12), 0xEEF);
        assert_eq!(bucket(0xDEAD_BEEF, 32), 0xDEAD_BEEF);
    }
}
