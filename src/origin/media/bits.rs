//! Bit-level writing shared by the H.264 and AAC generators: an MSB-first bit writer with the
//! Exp-Golomb codes of ITU-T H.264 section 9.1, and the NAL unit framing of H.264 section 7.4.1 and
//! Annex B (start codes and emulation prevention bytes).

/// Writes bits most significant first into a growing byte vector.
///
/// Whole bytes leave the accumulator as soon as they are complete, so at rest it holds fewer than 8
/// pending bits and one call can add up to 56 bits without overflowing the `u64`.
#[derive(Debug, Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    acc: u64,
    pending: u32,
}

impl BitWriter {
    pub fn with_capacity(bytes: usize) -> Self {
        Self { bytes: Vec::with_capacity(bytes), acc: 0, pending: 0 }
    }

    /// Appends the `bits` low bits of `value` (at most 56).
    pub fn put(&mut self, value: u64, bits: u32) {
        debug_assert!(bits <= 56, "put takes at most 56 bits at once");
        if bits == 0 {
            return;
        }
        self.acc = (self.acc << bits) | (value & ((1u64 << bits) - 1));
        self.pending += bits;
        while self.pending >= 8 {
            self.pending -= 8;
            self.bytes.push((self.acc >> self.pending) as u8);
        }
    }

    pub fn flag(&mut self, value: bool) {
        self.put(u64::from(value), 1);
    }

    /// ue(v), H.264 section 9.1: `codeNum + 1` in binary, preceded by as many zeros as it has bits
    /// after the leading one.
    pub fn ue(&mut self, value: u32) {
        let code = u64::from(value) + 1;
        let len = 64 - code.leading_zeros();
        self.put(0, len - 1);
        self.put(code, len);
    }

    /// se(v), H.264 section 9.1.1 (Table 9-3): k > 0 maps to codeNum 2k - 1, k <= 0 to -2k.
    pub fn se(&mut self, value: i32) {
        let magnitude = i64::from(value).unsigned_abs();
        let code = if value > 0 { 2 * magnitude - 1 } else { 2 * magnitude };
        let code = code + 1;
        let len = 64 - code.leading_zeros();
        self.put(0, len - 1);
        self.put(code, len);
    }

    /// rbsp_trailing_bits(), H.264 section 7.3.2.11: a stop bit, then zeros up to the byte boundary.
    pub fn rbsp_trailing_bits(&mut self) {
        self.put(1, 1);
        self.align_with_zeros();
    }

    /// Pads with zero bits up to the next byte boundary (also AAC byte_alignment()).
    pub fn align_with_zeros(&mut self) {
        if self.pending > 0 {
            self.put(0, 8 - self.pending);
        }
    }

    /// Number of bits written so far.
    #[cfg(test)]
    pub fn bit_len(&self) -> usize {
        self.bytes.len() * 8 + self.pending as usize
    }

    /// The written bytes; a partial last byte is completed with zero bits.
    pub fn into_bytes(mut self) -> Vec<u8> {
        self.align_with_zeros();
        self.bytes
    }
}

/// Annex B start code with the leading zero_byte (B.1.1), so every NAL unit may start an access unit.
pub const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Appends one Annex B NAL unit: start code, `header` (forbidden_zero_bit, nal_ref_idc,
/// nal_unit_type; section 7.3.1), then `rbsp` with emulation prevention applied.
///
/// Section 7.4.1: inside a NAL unit the byte sequences 0x000000 to 0x000003 may not occur, so an
/// emulation_prevention_three_byte (0x03) goes after every pair of zero bytes that precedes a byte
/// <= 0x03. A payload ending in 0x00 also gets a final 0x03 (the decoder would drop trailing zeros).
pub fn write_nal(out: &mut Vec<u8>, header: u8, rbsp: &[u8]) {
    out.reserve(rbsp.len() + rbsp.len() / 64 + 6);
    out.extend_from_slice(&START_CODE);
    write_nal_unit(out, header, rbsp);
}

/// Appends one NAL unit without a start code: `header`, then `rbsp` with emulation prevention, as
/// length-prefixed (AVCC) samples and the avcC record carry it (ISO/IEC 14496-15 5.3.2).
pub fn write_nal_unit(out: &mut Vec<u8>, header: u8, rbsp: &[u8]) {
    out.push(header);
    let mut zeros = 0u32;
    for &byte in rbsp {
        if zeros >= 2 && byte <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(byte);
        zeros = if byte == 0 { zeros + 1 } else { 0 };
    }
    if zeros > 0 {
        out.push(3);
    }
}

#[cfg(test)]
pub(crate) mod reader {
    //! Test-only bit reader: the inverse of [`super::BitWriter`] and of the emulation prevention.

    pub struct BitReader<'a> {
        bytes: &'a [u8],
        pos: usize,
    }

    impl<'a> BitReader<'a> {
        pub fn new(bytes: &'a [u8]) -> Self {
            Self { bytes, pos: 0 }
        }

        pub fn bit(&mut self) -> u32 {
            let byte = self.bytes[self.pos / 8];
            let bit = (byte >> (7 - self.pos % 8)) & 1;
            self.pos += 1;
            u32::from(bit)
        }

        pub fn bits(&mut self, n: u32) -> u64 {
            (0..n).fold(0u64, |acc, _| (acc << 1) | u64::from(self.bit()))
        }

        pub fn ue(&mut self) -> u64 {
            let mut zeros = 0;
            while self.bit() == 0 {
                zeros += 1;
            }
            (1u64 << zeros) - 1 + self.bits(zeros)
        }

        pub fn se(&mut self) -> i64 {
            let code = self.ue() as i64;
            if code % 2 == 1 { (code + 1) / 2 } else { -code / 2 }
        }

        pub fn position(&self) -> usize {
            self.pos
        }
    }

    /// Removes emulation prevention bytes (H.264 section 7.3.1, the inverse of `write_nal`).
    pub fn unescape(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(payload.len());
        let mut zeros = 0;
        for &byte in payload {
            if zeros >= 2 && byte == 3 {
                zeros = 0;
                continue;
            }
            out.push(byte);
            zeros = if byte == 0 { zeros + 1 } else { 0 };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::reader::{BitReader, unescape};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ue_matches_table_9_2() {
        let mut w = BitWriter::default();
        for v in [0, 1, 2, 3, 7] {
            w.ue(v);
        }
        // 1 010 011 00100 0001000
        assert_eq!(w.bit_len(), 1 + 3 + 3 + 5 + 7);
        assert_eq!(w.into_bytes(), vec![0b1010_0110, 0b0100_0001, 0b0000_0000]);
    }

    #[test]
    fn trailing_bits_align() {
        let mut w = BitWriter::default();
        w.put(0b101, 3);
        w.rbsp_trailing_bits();
        assert_eq!(w.into_bytes(), vec![0b1011_0000]);
    }

    #[test]
    fn nal_escapes_zero_runs() {
        let mut out = Vec::new();
        write_nal(&mut out, 0x65, &[0, 0, 1, 0, 0, 0, 0, 0, 3, 0x80, 0, 0]);
        assert_eq!(out, vec![0, 0, 0, 1, 0x65, 0, 0, 3, 1, 0, 0, 3, 0, 0, 3, 0, 3, 0x80, 0, 0, 3]);
    }

    proptest! {
        #[test]
        fn exp_golomb_round_trips(values in proptest::collection::vec((any::<u32>(), any::<i32>(), 0u32..=56, any::<u64>()), 1..40)) {
            let mut w = BitWriter::default();
            for &(u, s, n, raw) in &values {
                w.ue(u);
                w.se(s);
                w.put(raw, n);
            }
            let bits = w.bit_len();
            let bytes = w.into_bytes();
            let mut r = BitReader::new(&bytes);
            for &(u, s, n, raw) in &values {
                prop_assert_eq!(r.ue(), u64::from(u));
                prop_assert_eq!(r.se(), i64::from(s));
                let mask = if n == 0 { 0 } else { (1u64 << n) - 1 };
                prop_assert_eq!(r.bits(n), raw & mask);
            }
            prop_assert_eq!(r.position(), bits);
        }

        #[test]
        fn emulation_prevention_round_trips(
            mut rbsp in proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(3u8), any::<u8>()], 0..200),
        ) {
            // Every RBSP written here ends with rbsp_trailing_bits, so its last byte is not zero.
            rbsp.push(0x80);
            let mut out = Vec::new();
            write_nal(&mut out, 0x41, &rbsp);
            let payload = &out[5..];
            for window in payload.windows(3) {
                prop_assert!(!(window[0] == 0 && window[1] == 0 && window[2] <= 2), "start code emulated");
            }
            prop_assert_eq!(unescape(payload), rbsp);
        }
    }
}
