//! MPEG-2 transport stream packets (ISO/IEC 13818-1): PSI tables, PES headers and packetization.

/// Transport packet size (2.4.3.2).
pub const PACKET_LEN: usize = 188;
const HEADER_LEN: usize = 4;
/// Payload bytes of a packet without adaptation field.
pub const PAYLOAD_LEN: usize = PACKET_LEN - HEADER_LEN;
/// Adaptation field carrying a PCR: length byte, flags byte and the 6-byte PCR (2.4.3.4).
const PCR_FIELD_LEN: usize = 8;

pub const PAT_PID: u16 = 0;
pub const PMT_PID: u16 = 0x1000;
pub const VIDEO_PID: u16 = 0x100;
pub const AUDIO_PID: u16 = 0x101;
/// Null packets (Table 2-3); decoders discard them and ignore their continuity counter.
pub const NULL_PID: u16 = 0x1FFF;

/// stream_type values, Table 2-34.
const STREAM_TYPE_H264: u8 = 0x1B;
const STREAM_TYPE_ADTS_AAC: u8 = 0x0F;
/// stream_id values, Table 2-22.
pub const STREAM_ID_VIDEO: u8 = 0xE0;
pub const STREAM_ID_AUDIO: u8 = 0xC0;

const PROGRAM_NUMBER: u16 = 1;
/// Bytes of a PES header carrying only a PTS: 6 fixed, 3 flag/length, 5 PTS (2.4.3.6, 2.4.3.7).
pub const PES_HEADER_LEN: usize = 14;
/// PTS, DTS and the PCR base count modulo 2^33 (2.4.3.7, 2.4.2.2).
pub const TIMESTAMP_MODULUS: u64 = 1 << 33;

/// CRC_32 of PSI sections (Annex A): polynomial 0x04C11DB7, MSB first, initial value all ones,
/// no final inversion. Sections are a few dozen bytes per segment, so a bitwise loop is enough.
pub fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in data {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04C1_1DB7 } else { crc << 1 };
        }
    }
    crc
}

/// A long-form PSI section (2.4.4.10 layout): header with section_syntax_indicator 1,
/// table_id_extension, version 0, current_next_indicator 1, single section, body, CRC_32.
fn psi_section(table_id: u8, table_id_extension: u16, body: &[u8]) -> Vec<u8> {
    let section_length = 5 + body.len() + 4; // after the length field: 5 header bytes, body, CRC
    let mut section = Vec::with_capacity(3 + section_length);
    section.push(table_id);
    section.extend_from_slice(&(0xB000 | section_length as u16).to_be_bytes()); // '1' '0' '11' length
    section.extend_from_slice(&table_id_extension.to_be_bytes());
    section.push(0xC1); // '11' reserved, version_number 0, current_next_indicator 1
    section.extend_from_slice(&[0, 0]); // section_number, last_section_number
    section.extend_from_slice(body);
    let crc = crc32_mpeg2(&section);
    section.extend_from_slice(&crc.to_be_bytes());
    section
}

/// program_association_section (2.4.4.3): program 1 has its PMT on [`PMT_PID`].
pub fn write_pat(out: &mut Vec<u8>, cc: u8) {
    let mut body = PROGRAM_NUMBER.to_be_bytes().to_vec();
    body.extend_from_slice(&(0xE000 | PMT_PID).to_be_bytes());
    write_psi_packet(out, PAT_PID, cc, &psi_section(0x00, 1, &body));
}

/// TS_program_map_section (2.4.4.8): H.264 video and/or ADTS AAC; the first stream listed carries
/// the PCR (video when there is video).
pub fn write_pmt(out: &mut Vec<u8>, cc: u8, video: bool, audio: bool) {
    let mut streams = Vec::with_capacity(2);
    if video {
        streams.push((STREAM_TYPE_H264, VIDEO_PID));
    }
    if audio {
        streams.push((STREAM_TYPE_ADTS_AAC, AUDIO_PID));
    }
    let pcr_pid = streams.first().map_or(VIDEO_PID, |s| s.1);
    let mut body = Vec::with_capacity(14);
    body.extend_from_slice(&(0xE000 | pcr_pid).to_be_bytes()); // '111' PCR_PID
    body.extend_from_slice(&0xF000u16.to_be_bytes()); // '1111' program_info_length 0
    for (stream_type, pid) in streams {
        body.push(stream_type);
        body.extend_from_slice(&(0xE000 | pid).to_be_bytes()); // '111' elementary_PID
        body.extend_from_slice(&0xF000u16.to_be_bytes()); // '1111' ES_info_length 0
    }
    write_psi_packet(out, PMT_PID, cc, &psi_section(0x02, PROGRAM_NUMBER, &body));
}

/// One packet holding a whole section: pointer_field 0 (2.4.4.2), the section, then 0xFF stuffing
/// (2.4.4: bytes after the last section of a packet are 0xFF).
fn write_psi_packet(out: &mut Vec<u8>, pid: u16, cc: u8, section: &[u8]) {
    debug_assert!(section.len() < PAYLOAD_LEN);
    let start = out.len();
    write_header(out, pid, true, 0b01, cc);
    out.push(0); // pointer_field
    out.extend_from_slice(section);
    out.resize(start + PACKET_LEN, 0xFF);
}

/// transport_packet() header (2.4.3.2) without scrambling or priority.
fn write_header(out: &mut Vec<u8>, pid: u16, unit_start: bool, adaptation_field_control: u8, cc: u8) {
    let pusi = if unit_start { 0x40 } else { 0 };
    out.push(0x47);
    out.push(pusi | (pid >> 8) as u8 & 0x1F);
    out.push(pid as u8);
    out.push((adaptation_field_control << 4) | (cc & 0x0F));
}

/// A null packet: PID 0x1FFF, payload only, 0xFF bytes.
pub fn write_null_packet(out: &mut Vec<u8>) {
    let start = out.len();
    write_header(out, NULL_PID, false, 0b01, 0);
    out.resize(start + PACKET_LEN, 0xFF);
}

/// PES_packet() header (2.4.3.6) with data_alignment_indicator and a PTS only (PTS_DTS_flags '10':
/// without B pictures DTS equals PTS and is left out). `payload_len` None writes PES_packet_length
/// 0, allowed for video elementary streams in transport streams only.
pub fn write_pes_header(out: &mut Vec<u8>, stream_id: u8, pts: u64, payload_len: Option<usize>) {
    let packet_length = payload_len.map_or(0, |len| (len + PES_HEADER_LEN - 6) as u16);
    out.extend_from_slice(&[0, 0, 1, stream_id]);
    out.extend_from_slice(&packet_length.to_be_bytes());
    out.push(0x84); // '10', not scrambled, no priority, data_alignment_indicator, not copyrighted
    out.push(0x80); // PTS_DTS_flags '10', no other optional field
    out.push(5); // PES_header_data_length
    let pts = pts % TIMESTAMP_MODULUS;
    out.push(0x21 | ((pts >> 29) & 0x0E) as u8); // '0010' PTS[32..30] marker_bit
    out.extend_from_slice(&((((pts >> 15) & 0x7FFF) << 1 | 1) as u16).to_be_bytes());
    out.extend_from_slice(&((((pts & 0x7FFF) << 1) | 1) as u16).to_be_bytes());
}

/// Payload bytes that `packets` packets of one PES carry, the first one with a PCR or not.
pub fn payload_capacity(packets: usize, with_pcr: bool) -> usize {
    let first = if with_pcr { PAYLOAD_LEN - PCR_FIELD_LEN } else { PAYLOAD_LEN };
    first + PAYLOAD_LEN * packets.saturating_sub(1)
}

/// How many packets [`write_pes_packets`] uses for `len` payload bytes.
pub fn packets_needed(len: usize, with_pcr: bool) -> usize {
    let first = payload_capacity(1, with_pcr);
    1 + len.saturating_sub(first).div_ceil(PAYLOAD_LEN)
}

/// Where a PES starts on the transport clock: the PCR of its first packet (2.4.3.5), in 27 MHz
/// units, and whether it is a random access point (IDR) for the random_access_indicator.
#[derive(Clone, Copy, Debug)]
pub struct PcrMark {
    pub pcr_base: u64,
    pub random_access: bool,
}

/// Splits one PES packet (header included in `payload`) over transport packets of `pid`, starting
/// with continuity counter `cc`; returns the counter for the next packet. The shortfall of the last
/// packet is adaptation-field stuffing (2.4.3.5: stuffing_byte), the only stuffing PES allows here.
pub fn write_pes_packets(out: &mut Vec<u8>, pid: u16, mut cc: u8, payload: &[u8], pcr: Option<PcrMark>) -> u8 {
    let mut rest = payload;
    let mut first = true;
    loop {
        let mark = if first { pcr } else { None };
        let field = if mark.is_some() { PCR_FIELD_LEN } else { 0 };
        let take = rest.len().min(PAYLOAD_LEN - field);
        let stuffing = PAYLOAD_LEN - field - take;
        let field_len = field + stuffing;
        let control = if field_len > 0 { 0b11 } else { 0b01 };
        write_header(out, pid, first, control, cc);
        if field_len > 0 {
            write_adaptation_field(out, field_len, mark);
        }
        out.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        cc = (cc + 1) & 0x0F;
        first = false;
        if rest.is_empty() {
            return cc;
        }
    }
}

/// adaptation_field() (2.4.3.4) of `total` bytes including its length byte: optional PCR, then
/// 0xFF stuffing. One byte is a bare adaptation_field_length of 0.
fn write_adaptation_field(out: &mut Vec<u8>, total: usize, mark: Option<PcrMark>) {
    let end = out.len() + total;
    out.push((total - 1) as u8);
    if total == 1 {
        return;
    }
    match mark {
        None => out.push(0),
        Some(mark) => {
            let rai = if mark.random_access { 0x40 } else { 0 };
            out.push(rai | 0x10); // random_access_indicator, PCR_flag
            let base = mark.pcr_base % TIMESTAMP_MODULUS;
            // program_clock_reference_base (33), reserved '111111', extension (9) = 0
            let bits = (base << 15) | (0x3F << 9);
            out.extend_from_slice(&bits.to_be_bytes()[2..]);
        }
    }
    out.resize(end, 0xFF);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_known_pat() {
        // The PAT section ffmpeg writes for program 1 on PMT PID 0x1000 (CRC 0x2AB104B2).
        let section = [0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xF0, 0x00];
        assert_eq!(crc32_mpeg2(&section), 0x2AB1_04B2);
        let mut with_crc = section.to_vec();
        with_crc.extend_from_slice(&0x2AB1_04B2u32.to_be_bytes());
        assert_eq!(crc32_mpeg2(&with_crc), 0, "a section followed by its CRC checks to zero");
    }

    #[test]
    fn packet_counts_match_capacity() {
        for len in [1, 176, 177, 184, 185, 360, 361, 5000] {
            for pcr in [false, true] {
                let n = packets_needed(len, pcr);
                assert!(payload_capacity(n, pcr) >= len);
                assert!(n == 1 || payload_capacity(n - 1, pcr) < len);
                let mut out = Vec::new();
                let mark = pcr.then_some(PcrMark { pcr_base: 1, random_access: false });
                let cc = write_pes_packets(&mut out, VIDEO_PID, 15, &vec![7; len], mark);
                assert_eq!(out.len(), n * PACKET_LEN, "len {len} pcr {pcr}");
                assert_eq!(usize::from(cc), (15 + n) % 16);
            }
        }
    }

    #[test]
    fn pts_field_layout() {
        let mut out = Vec::new();
        write_pes_header(&mut out, STREAM_ID_AUDIO, 0x1_2345_6789, Some(14));
        assert_eq!(out.len(), PES_HEADER_LEN);
        assert_eq!(&out[4..6], &[0, 22]);
        let b = &out[9..14];
        let pts = (u64::from(b[0] >> 1) & 7) << 30
            | u64::from(u16::from_be_bytes([b[1], b[2]]) >> 1) << 15
            | u64::from(u16::from_be_bytes([b[3], b[4]]) >> 1);
        assert_eq!(pts, 0x1_2345_6789);
        assert_eq!((b[0] & 0xF1, b[2] & 1, b[4] & 1), (0x21, 1, 1));
    }
}
