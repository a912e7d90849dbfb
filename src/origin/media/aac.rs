//! Silent AAC-LC frames in ADTS framing (ISO/IEC 14496-3), written bit by bit without an encoder.
//!
//! A frame is one channel_pair_element whose two channels each carry zero scale factor bands
//! (max_sfb = 0): no section, scale factor or spectral data, so the decoder outputs 1024 samples
//! of silence per channel. It takes 7 bytes of raw data plus a 7-byte ADTS header.

use super::bits::BitWriter;

pub const SAMPLE_RATE: u32 = 48_000;
/// Samples per channel in one AAC-LC frame (frameLengthFlag 0).
pub const SAMPLES_PER_FRAME: u32 = 1024;
/// Duration of one frame in 90 kHz ticks: 1024 / 48000 s = 1920 ticks exactly.
pub const FRAME_TICKS: u64 = super::TICKS_PER_SECOND * SAMPLES_PER_FRAME as u64 / SAMPLE_RATE as u64;

/// sampling_frequency_index of 48 kHz (Table 1.18).
const SAMPLING_FREQUENCY_INDEX: u64 = 3;
/// channel_configuration 2: one channel pair element, left and right (Table 1.19).
const CHANNEL_CONFIGURATION: u64 = 2;
/// Audio object type 2 (AAC LC); ADTS stores it minus one in `profile_ObjectType`.
const AAC_LC: u64 = 2;

// id_syn_ele values, Table 4.85.
const ID_CPE: u64 = 1;
const ID_END: u64 = 7;

const ADTS_HEADER_LEN: usize = 7;

/// One ADTS frame (1.A.2.2, protection_absent = 1) carrying a silent raw_data_block().
pub fn silent_adts_frame() -> Vec<u8> {
    let raw = silent_raw_data_block();
    let len = (ADTS_HEADER_LEN + raw.len()) as u64;
    let mut w = BitWriter::with_capacity(len as usize);
    // adts_fixed_header(), 1.A.2.2.1
    w.put(0xFFF, 12); // syncword
    w.put(0, 1); // ID: MPEG-4
    w.put(0, 2); // layer
    w.put(1, 1); // protection_absent: no CRC
    w.put(AAC_LC - 1, 2); // profile_ObjectType
    w.put(SAMPLING_FREQUENCY_INDEX, 4);
    w.put(0, 1); // private_bit
    w.put(CHANNEL_CONFIGURATION, 3);
    w.put(0, 2); // original_copy, home
    // adts_variable_header(), 1.A.2.2.2
    w.put(0, 2); // copyright_identification_bit, copyright_identification_start
    w.put(len, 13); // aac_frame_length, header included
    w.put(0x7FF, 11); // adts_buffer_fullness: variable bit rate
    w.put(0, 2); // number_of_raw_data_blocks_in_frame minus one
    let mut out = w.into_bytes();
    out.extend_from_slice(&raw);
    out
}

/// AudioSpecificConfig() (1.6.2.1) of the stream, for the `esds` of an fMP4 init section:
/// audioObjectType, samplingFrequencyIndex, channelConfiguration, then GASpecificConfig() with
/// frameLengthFlag, dependsOnCoreCoder and extensionFlag all 0.
pub fn audio_specific_config() -> [u8; 2] {
    let mut w = BitWriter::with_capacity(2);
    w.put(AAC_LC, 5);
    w.put(SAMPLING_FREQUENCY_INDEX, 4);
    w.put(CHANNEL_CONFIGURATION, 4);
    w.put(0, 3);
    let bytes = w.into_bytes();
    [bytes[0], bytes[1]]
}

/// One silent frame without ADTS header, as an fMP4 sample carries it (ISO/IEC 14496-14).
pub fn silent_raw_frame() -> Vec<u8> {
    silent_raw_data_block()
}

/// raw_data_block() (4.4.2.1, Table 4.3): a channel_pair_element (Table 4.5) with separate
/// windows, then ID_END and byte_alignment().
fn silent_raw_data_block() -> Vec<u8> {
    let mut w = BitWriter::with_capacity(8);
    w.put(ID_CPE, 3);
    w.put(0, 4); // element_instance_tag
    w.put(0, 1); // common_window: each channel has its own ics_info
    for _ in 0..2 {
        write_silent_ics(&mut w);
    }
    w.put(ID_END, 3);
    w.align_with_zeros();
    w.into_bytes()
}

/// individual_channel_stream(common_window = 0) (4.4.2.7) with ics_info (Table 4.6) of a long
/// window and max_sfb = 0, which leaves section_data, scale_factor_data and spectral_data empty.
fn write_silent_ics(w: &mut BitWriter) {
    w.put(100, 8); // global_gain: any value; no band uses it
    w.put(0, 1); // ics_reserved_bit
    w.put(0, 2); // window_sequence: ONLY_LONG_SEQUENCE
    w.put(0, 1); // window_shape: sine
    w.put(0, 6); // max_sfb
    w.put(0, 1); // predictor_data_present (must be 0 for AAC LC)
    w.put(0, 1); // pulse_data_present
    w.put(0, 1); // tns_data_present
    w.put(0, 1); // gain_control_data_present
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::media::bits::reader::BitReader;

    #[test]
    fn frame_ticks_are_exact() {
        assert_eq!(FRAME_TICKS, 1920);
    }

    #[test]
    fn adts_header_parses_back() {
        let frame = silent_adts_frame();
        let mut r = BitReader::new(&frame);
        assert_eq!(r.bits(12), 0xFFF);
        assert_eq!((r.bits(1), r.bits(2), r.bits(1)), (0, 0, 1));
        assert_eq!((r.bits(2), r.bits(4), r.bits(1), r.bits(3)), (1, 3, 0, 2));
        r.bits(4);
        assert_eq!(r.bits(13), frame.len() as u64);
        assert_eq!((r.bits(11), r.bits(2)), (0x7FF, 0));
        assert_eq!(frame.len(), 14);
    }

    #[test]
    fn config_is_lc_48k_stereo() {
        assert_eq!(audio_specific_config(), [0x11, 0x90]);
        assert_eq!(silent_adts_frame()[ADTS_HEADER_LEN..], silent_raw_frame()[..]);
    }

    #[test]
    fn raw_block_ends_with_id_end() {
        let raw = silent_raw_data_block();
        let mut r = BitReader::new(&raw);
        assert_eq!((r.bits(3), r.bits(4), r.bits(1)), (ID_CPE, 0, 0));
        for _ in 0..2 {
            assert_eq!(r.bits(8), 100);
            assert_eq!(r.bits(14), 0);
        }
        assert_eq!(r.bits(3), ID_END);
        assert_eq!(raw.len(), r.position().div_ceil(8));
    }
}
