//! ISO base media file format boxes (ISO/IEC 14496-12 4.2): a 32-bit size and a four-character
//! type, and for a full box a version byte and 24 bits of flags, then the body.

use bytes::BufMut;

/// Bytes of a box header with a 32-bit size.
pub const HEADER_LEN: usize = 8;
/// Bytes of a full box header: the box header, version and flags.
pub const FULL_HEADER_LEN: usize = 12;

/// Appends a box of type `kind` whose body `body` writes, then patches its size in.
/// Only `mdat` can outgrow 32 bits (see [`write_mdat_header`]); every other box holds headers and
/// tables of a few kilobytes.
pub fn write_box(out: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.put_u32(0);
    out.put_slice(kind);
    body(out);
    let size = u32::try_from(out.len() - start).unwrap_or(u32::MAX);
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

/// Appends a full box (4.2: `FullBox`) of type `kind`.
pub fn write_full_box(out: &mut Vec<u8>, kind: &[u8; 4], version: u8, flags: u32, body: impl FnOnce(&mut Vec<u8>)) {
    write_box(out, kind, |out| {
        out.put_u32((u32::from(version) << 24) | (flags & 0x00FF_FFFF));
        body(out);
    });
}

/// Bytes of the header of an `mdat` holding `payload` bytes: 8, or 16 with a 64-bit `largesize`
/// when the box would not fit a 32-bit size.
pub fn mdat_header_len(payload: u64) -> usize {
    if payload + HEADER_LEN as u64 > u64::from(u32::MAX) { 2 * HEADER_LEN } else { HEADER_LEN }
}

/// The header of an `mdat` (8.1.1) whose `payload` bytes the caller appends after it.
pub fn write_mdat_header(out: &mut Vec<u8>, payload: u64) {
    let header = mdat_header_len(payload);
    let size = payload + header as u64;
    if header == HEADER_LEN {
        out.put_u32(size as u32);
        out.put_slice(b"mdat");
    } else {
        out.put_u32(1); // size 1: the size is the largesize after the type
        out.put_slice(b"mdat");
        out.put_u64(size);
    }
}

/// The unity transformation matrix of `mvhd` and `tkhd` (8.2.2.3): 16.16 fixed point, and 2.30
/// for the last column.
pub fn write_unity_matrix(out: &mut Vec<u8>) {
    for value in [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000u32] {
        out.put_u32(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_patched_in() {
        let mut out = vec![9];
        write_box(&mut out, b"moov", |out| {
            write_full_box(out, b"mvhd", 1, 0x02_0001, |out| out.put_u8(7));
        });
        assert_eq!(out[1..5], 21u32.to_be_bytes());
        assert_eq!(&out[5..9], b"moov");
        assert_eq!(out[9..13], 13u32.to_be_bytes());
        assert_eq!(out[13..21], [b'm', b'v', b'h', b'd', 1, 2, 0, 1]);
        assert_eq!(out.len(), 1 + 21);
    }

    #[test]
    fn large_mdat_uses_largesize() {
        let mut out = Vec::new();
        write_mdat_header(&mut out, 100);
        assert_eq!(out, [0, 0, 0, 108, b'm', b'd', b'a', b't']);
        out.clear();
        let payload = u64::from(u32::MAX);
        write_mdat_header(&mut out, payload);
        assert_eq!(out.len(), mdat_header_len(payload));
        assert_eq!(out[..8], [0, 0, 0, 1, b'm', b'd', b'a', b't']);
        assert_eq!(out[8..], (payload + 16).to_be_bytes());
    }
}
