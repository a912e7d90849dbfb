//! Test-only transport stream reader: just enough of ISO/IEC 13818-1 to check what the muxer wrote.

use super::ts::{PACKET_LEN, crc32_mpeg2};

#[derive(Debug)]
pub struct Packet<'a> {
    pub pid: u16,
    pub unit_start: bool,
    pub cc: u8,
    pub has_payload: bool,
    pub random_access: bool,
    /// PCR base (90 kHz) when the adaptation field has one.
    pub pcr: Option<u64>,
    pub payload: &'a [u8],
}

/// Splits `data` into packets, checking the sync byte and the adaptation field length of each.
pub fn packets(data: &[u8]) -> Vec<Packet<'_>> {
    assert_eq!(data.len() % PACKET_LEN, 0, "not a whole number of packets");
    data.chunks(PACKET_LEN).map(packet).collect()
}

fn packet(p: &[u8]) -> Packet<'_> {
    assert_eq!(p[0], 0x47, "sync byte");
    let control = (p[3] >> 4) & 3;
    assert_ne!(control, 0, "reserved adaptation_field_control");
    let mut start = 4;
    let (mut pcr, mut random_access) = (None, false);
    if control & 2 != 0 {
        let len = usize::from(p[4]);
        assert!(len <= 183, "adaptation field too long");
        if len > 0 {
            random_access = p[5] & 0x40 != 0;
            if p[5] & 0x10 != 0 {
                let b = &p[6..12];
                let raw = b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
                assert_eq!(raw & 0x1FF, 0, "PCR extension");
                pcr = Some(raw >> 15);
            }
        }
        start = 5 + len;
    }
    Packet {
        pid: u16::from_be_bytes([p[1], p[2]]) & 0x1FFF,
        unit_start: p[1] & 0x40 != 0,
        cc: p[3] & 0x0F,
        has_payload: control & 1 != 0,
        random_access,
        pcr,
        payload: &p[start..],
    }
}

/// One reassembled PES packet of a PID.
#[derive(Debug)]
pub struct Pes {
    pub pts: u64,
    /// PCR and random_access_indicator of its first transport packet.
    pub pcr: Option<u64>,
    pub random_access: bool,
    /// Elementary stream bytes after the PES header.
    pub data: Vec<u8>,
}

/// The PES packets of `pid`, in order; checks PES_packet_length when it is not 0.
pub fn pes_units(packets: &[Packet], pid: u16) -> Vec<Pes> {
    let mut units: Vec<(Vec<u8>, Option<u64>, bool)> = Vec::new();
    for p in packets.iter().filter(|p| p.pid == pid) {
        if p.unit_start {
            units.push((Vec::new(), p.pcr, p.random_access));
        }
        units.last_mut().expect("PES starts with unit_start").0.extend_from_slice(p.payload);
    }
    units.into_iter().map(|(bytes, pcr, random_access)| pes(&bytes, pcr, random_access)).collect()
}

fn pes(bytes: &[u8], pcr: Option<u64>, random_access: bool) -> Pes {
    assert_eq!(&bytes[..3], &[0, 0, 1], "packet_start_code_prefix");
    let length = usize::from(u16::from_be_bytes([bytes[4], bytes[5]]));
    if length != 0 {
        assert_eq!(length, bytes.len() - 6, "PES_packet_length");
    }
    assert_eq!(bytes[7] >> 6, 0b10, "PTS only");
    let header_len = usize::from(bytes[8]);
    let b = &bytes[9..14];
    let pts = (u64::from(b[0] >> 1) & 7) << 30
        | u64::from(u16::from_be_bytes([b[1], b[2]]) >> 1) << 15
        | u64::from(u16::from_be_bytes([b[3], b[4]]) >> 1);
    Pes { pts, pcr, random_access, data: bytes[9 + header_len..].to_vec() }
}

/// A long-form PSI section from a packet payload: (table_id, table_id_extension, body before CRC).
/// Checks the pointer field, section_length and CRC_32.
pub fn section(payload: &[u8]) -> (u8, u16, Vec<u8>) {
    let pointer = usize::from(payload[0]);
    let s = &payload[1 + pointer..];
    assert_eq!(s[1] & 0xC0, 0x80, "section_syntax_indicator 1, '0'");
    let length = usize::from(u16::from_be_bytes([s[1], s[2]]) & 0x0FFF);
    let whole = &s[..3 + length];
    assert_eq!(crc32_mpeg2(whole), 0, "CRC_32");
    assert!(s[3 + length..].iter().all(|&b| b == 0xFF), "stuffing after the section");
    (s[0], u16::from_be_bytes([s[3], s[4]]), whole[8..whole.len() - 4].to_vec())
}

/// (nal_unit_type, payload after the header) of each Annex B NAL unit in `es`.
pub fn nal_units(es: &[u8]) -> Vec<(u8, &[u8])> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= es.len() {
        if es[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut units = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let mut end = starts.get(n + 1).map_or(es.len(), |&next| next - 3);
        while end > start && es[end - 1] == 0 {
            end -= 1; // zero_byte of the next start code
        }
        units.push((es[start] & 0x1F, &es[start + 1..end]));
    }
    units
}
