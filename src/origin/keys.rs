//! AES-128 segment encryption as the origin serves it (RFC 8216 4.3.2.4, 5.2): key `k` covers the
//! segments `k * rotation ..`, each segment is encrypted whole (CBC, PKCS#7) with the IV its media
//! sequence number gives when EXT-X-KEY has no IV attribute. The cipher is [`crate::hls::crypto`], the
//! one the viewer decrypts with.
//!
//! Keys come from `--seed` and the key number through SplitMix64: a load test needs keys that change
//! and that a rerun repeats, not secret ones (anyone who knows the seed knows every key).

use crate::hls::crypto::{self, KEY_LEN};
use crate::seeded::splitmix64;

/// Keeps key derivation apart from the fault rolls of the same seed.
const KEY_STREAM: u64 = 0x6b65_7973_2d61_6573;

#[derive(Clone, Debug)]
pub struct KeySchedule {
    seed: u64,
    /// Segments per key (at least 1).
    rotation: u64,
}

impl KeySchedule {
    pub fn new(seed: u64, rotation: u64) -> Self {
        Self { seed, rotation: rotation.max(1) }
    }

    /// The number of the key of segment `index`.
    pub fn key_number(&self, index: u64) -> u64 {
        index / self.rotation
    }

    /// The first segment key `number` encrypts (`None` past the last segment a u64 counts).
    pub fn first_segment(&self, number: u64) -> Option<u64> {
        number.checked_mul(self.rotation)
    }

    /// The 16 bytes of key `number`.
    pub fn key(&self, number: u64) -> [u8; KEY_LEN] {
        let base = splitmix64(self.seed ^ KEY_STREAM);
        let word = |n: u64| splitmix64(base ^ splitmix64(n)).to_be_bytes();
        let mut key = [0; KEY_LEN];
        key[..8].copy_from_slice(&word(number.wrapping_mul(2)));
        key[8..].copy_from_slice(&word(number.wrapping_mul(2).wrapping_add(1)));
        key
    }

    /// Segment `index` (media sequence number `sequence`) encrypted: 1 to 16 bytes longer.
    pub fn encrypt(&self, index: u64, sequence: u64, plain: &[u8]) -> Vec<u8> {
        let iv = u128::from(sequence).to_be_bytes();
        crypto::encrypt(&self.key(self.key_number(index)), &iv, plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::media::{MediaFormat, build_segment};

    #[test]
    fn an_encrypted_segment_decrypts_to_the_plain_one_with_its_key_and_sequence_iv() {
        let format = MediaFormat { width: 640, height: 360, bitrate: 400_000, frames_per_segment: 6, audio: true };
        let keys = KeySchedule::new(7, 4);
        for (index, start_sequence) in [(0, 0), (5, 0), (9, 1_000)] {
            let plain = build_segment(&format, index);
            let sequence = start_sequence + index;
            let cipher = keys.encrypt(index, sequence, &plain);
            assert_eq!(cipher.len(), (plain.len() / 16 + 1) * 16, "PKCS#7 pads to the next block");
            let iv = crypto::iv_for(None, sequence).unwrap();
            let key = keys.key(index / 4);
            assert_eq!(crypto::decrypt(&key, &iv, &cipher).as_deref(), Some(&plain[..]));
            assert!(crypto::looks_like_media(&crypto::decrypt_prefix(&key, &iv, &cipher)));
            assert_ne!(crypto::decrypt(&keys.key(index / 4 + 1), &iv, &cipher).as_deref(), Some(&plain[..]));
        }
    }

    #[test]
    fn keys_rotate_and_repeat_under_a_seed() {
        let keys = KeySchedule::new(1, 10);
        assert_eq!((keys.key_number(9), keys.key_number(10)), (0, 1));
        assert_eq!(keys.first_segment(3), Some(30));
        assert_eq!(keys.first_segment(u64::MAX), None);
        assert_ne!(keys.key(0), keys.key(1));
        assert_eq!(keys.key(5), KeySchedule::new(1, 3).key(5), "the key of a number depends on the seed only");
        assert_ne!(keys.key(5), KeySchedule::new(2, 10).key(5));
        assert_eq!(KeySchedule::new(1, 0).key_number(7), 7, "rotation 0 is 1");
    }
}
