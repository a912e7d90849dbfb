//! AES-128 segment encryption as HLS defines it (RFC 8216 4.3.2.4, 5.2): AES-128 in CBC mode with
//! PKCS7 padding over the whole segment, the key a 16-byte file, the IV from the tag's `IV` attribute or
//! else the media sequence number as a big-endian 128-bit integer. The origin encrypts with it; a
//! viewer with `--decrypt-check` decrypts the start of the first segment after each new key and checks
//! it looks like media, so a wrong key served under load shows up as an error.
//!
//! The cipher is RustCrypto's (`aes`, `cbc`): well kept, constant-time, no C.

use aes::Aes128;
use cbc::cipher::block_padding::{NoPadding, Pkcs7};
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};

/// An AES-128 key is 16 bytes.
pub const KEY_LEN: usize = 16;
const BLOCK: usize = 16;
/// Bytes decrypted to check a segment's start: two MPEG-TS sync bytes 188 bytes apart, or an fMP4 box.
pub const CHECK_PREFIX: usize = 192;

/// The IV of a segment: the `IV` attribute (`0x` and up to 32 hex digits, left-padded: some packagers
/// write fewer), else the media sequence number (RFC 8216 5.2). `None`: an IV that is not hexadecimal.
pub fn iv_for(attribute: Option<&str>, sequence: u64) -> Option<[u8; BLOCK]> {
    let Some(text) = attribute else {
        return Some(u128::from(sequence).to_be_bytes());
    };
    let hex = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))?;
    if hex.is_empty() || hex.len() > 32 {
        return None;
    }
    u128::from_str_radix(hex, 16).ok().map(u128::to_be_bytes)
}

/// The whole segment encrypted (PKCS7-padded, so it grows to the next multiple of 16 bytes).
pub fn encrypt(key: &[u8; KEY_LEN], iv: &[u8; BLOCK], plain: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<Aes128>::new(key.into(), iv.into()).encrypt_padded_vec::<Pkcs7>(plain)
}

/// The whole segment decrypted; `None` when its length or padding is wrong (a wrong key, mostly).
pub fn decrypt(key: &[u8; KEY_LEN], iv: &[u8; BLOCK], cipher: &[u8]) -> Option<Vec<u8>> {
    cbc::Decryptor::<Aes128>::new(key.into(), iv.into()).decrypt_padded_vec::<Pkcs7>(cipher).ok()
}

/// The first whole blocks of `cipher` decrypted (up to `CHECK_PREFIX` bytes): CBC needs nothing after
/// them, so a check of the start costs no copy of the segment.
pub fn decrypt_prefix(key: &[u8; KEY_LEN], iv: &[u8; BLOCK], cipher: &[u8]) -> Vec<u8> {
    let len = cipher.len().min(CHECK_PREFIX) / BLOCK * BLOCK;
    let decryptor = cbc::Decryptor::<Aes128>::new(key.into(), iv.into());
    decryptor.decrypt_padded_vec::<NoPadding>(&cipher[..len]).unwrap_or_default()
}

/// Whether `start` begins as a media segment does: an MPEG-TS packet (sync byte 0x47, and again 188
/// bytes on when there is that much), or an ISO BMFF box a CMAF segment or init section starts with.
/// A wrong key garbles every byte; a wrong IV only the first 16 (CBC), which this sees when the
/// difference reaches the sync byte or the box header.
pub fn looks_like_media(start: &[u8]) -> bool {
    if start.first() == Some(&0x47) {
        return start.get(188).is_none_or(|b| *b == 0x47);
    }
    const BOXES: [&[u8; 4]; 8] = [b"ftyp", b"styp", b"moof", b"sidx", b"emsg", b"prft", b"mdat", b"moov"];
    let size = start.get(..4).map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
    let kind = start.get(4..8);
    size.is_some_and(|s| s == 1 || s >= 8) && kind.is_some_and(|k| BOXES.iter().any(|b| &b[..] == k))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 16] = *b"0123456789abcdef";

    fn ts(packets: usize) -> Vec<u8> {
        (0..packets).flat_map(|i| std::iter::once(0x47).chain(std::iter::repeat_n(i as u8, 187))).collect()
    }

    #[test]
    fn iv_from_the_attribute_or_the_sequence_number() {
        assert_eq!(iv_for(None, 7), Some([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]));
        let full = iv_for(Some("0x000102030405060708090A0B0C0D0E0F"), 7).unwrap();
        assert_eq!(full, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        assert_eq!(iv_for(Some("0x1F"), 0).unwrap()[15], 0x1F, "short IVs are left-padded");
        for bad in ["1F", "0x", "0xZZ", "0x000102030405060708090A0B0C0D0E0F00"] {
            assert_eq!(iv_for(Some(bad), 0), None, "{bad}");
        }
    }

    #[test]
    fn a_segment_round_trips_and_its_start_is_checked_without_the_rest() {
        let plain = ts(10);
        let iv = iv_for(None, 42).unwrap();
        let cipher = encrypt(&KEY, &iv, &plain);
        assert_eq!(cipher.len(), (plain.len() / 16 + 1) * 16);
        assert_eq!(decrypt(&KEY, &iv, &cipher).as_deref(), Some(&plain[..]));
        assert!(looks_like_media(&decrypt_prefix(&KEY, &iv, &cipher)));
        assert!(!looks_like_media(&cipher), "the ciphertext does not pass as media");
        let wrong = *b"fedcba9876543210";
        assert!(!looks_like_media(&decrypt_prefix(&wrong, &iv, &cipher)));
        // A wrong IV garbles only the first block (CBC): caught when it reaches the sync byte.
        let far_iv = iv_for(Some("0xFF000000000000000000000000000000"), 0).unwrap();
        assert!(!looks_like_media(&decrypt_prefix(&KEY, &far_iv, &cipher)));
    }

    #[test]
    fn fmp4_boxes_pass_as_media_and_short_or_odd_input_does_not_panic() {
        assert!(looks_like_media(b"\x00\x00\x00\x18ftypiso6\x00\x00\x00\x00"));
        assert!(looks_like_media(b"\x00\x00\x00\x10moof\x00\x00"));
        assert!(!looks_like_media(b"\x00\x00\x00\x04moof"), "a box smaller than its header");
        assert!(!looks_like_media(b"<html>"));
        assert!(!looks_like_media(b""));
        assert!(decrypt_prefix(&KEY, &[0; 16], b"short").is_empty());
        assert_eq!(decrypt(&KEY, &[0; 16], b"not a multiple of 16"), None);
    }
}
