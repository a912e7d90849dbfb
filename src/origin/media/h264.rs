//! H.264 (ITU-T H.264 / ISO/IEC 14496-10) access units written directly, without an encoder.
//!
//! The stream is Constrained Baseline with CAVLC. An IDR picture sends one macroblock as raw
//! samples (I_PCM) and codes every other one as Intra_16x16 with no residual, so the decoder
//! spreads that one colour over the picture by prediction alone; a P picture is a single
//! `mb_skip_run` over the whole frame, so it repeats its reference. An IDR picture costs 384 bytes
//! plus six bits per macroblock, a P picture a few bytes, whatever the resolution.
//! Byte budgets are met with filler data NAL units (section 7.3.2.7) appended to access units.

use super::bits::{BitWriter, write_nal, write_nal_unit};

/// profile_idc: Baseline (A.2.1).
const PROFILE_IDC: u8 = 66;
/// constraint_set0/1/2 flags: the stream obeys Baseline, Main (making it Constrained Baseline,
/// A.2.1.1) and Extended constraints alike, since it uses none of FMO, ASO, B slices or CABAC.
const CONSTRAINT_FLAGS: u8 = 0b1110_0000;
/// log2_max_frame_num_minus4 = 0: frame_num counts modulo 16.
pub const MAX_FRAME_NUM: u32 = 16;

// nal_unit_type values, Table 7-1, with the nal_ref_idc each is sent with (section 7.4.1).
const NAL_SLICE: u8 = 1;
const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_AUD: u8 = 9;
const NAL_FILLER: u8 = 12;

/// Smallest filler data NAL unit: start code, header and rbsp_trailing_bits, no 0xFF byte.
pub const MIN_FILLER_LEN: usize = START_LEN + 2;
const START_LEN: usize = 4;

/// One row of Table A-1: (level_idc, MaxMBPS, MaxFS, MaxBR in kbit/s for Baseline).
const LEVELS: [(u8, u64, u64, u64); 18] = [
    (10, 1_485, 99, 64),
    (11, 3_000, 396, 192),
    (12, 6_000, 396, 384),
    (13, 11_880, 396, 768),
    (20, 11_880, 396, 2_000),
    (21, 19_800, 792, 4_000),
    (22, 20_250, 1_620, 4_000),
    (30, 40_500, 1_620, 10_000),
    (31, 108_000, 3_600, 14_000),
    (32, 216_000, 5_120, 20_000),
    (40, 245_760, 8_192, 20_000),
    (41, 245_760, 8_192, 50_000),
    (42, 522_240, 8_704, 50_000),
    (50, 589_824, 22_080, 135_000),
    (51, 983_040, 36_864, 240_000),
    (52, 2_073_600, 36_864, 240_000),
    (60, 4_177_920, 139_264, 240_000),
    (61, 8_355_840, 139_264, 480_000),
];

/// Picture geometry and level: everything the parameter sets and slices depend on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VideoParams {
    pub mb_width: u32,
    pub mb_height: u32,
    /// Frame cropping in 2-sample units (CropUnitX = CropUnitY = 2 for 4:2:0 frames, eq. 7-19, 7-20).
    pub crop_right: u32,
    pub crop_bottom: u32,
    pub level_idc: u8,
    pub fps: u32,
}

impl VideoParams {
    /// Codes `width` x `height` (odd sizes round up to even: 4:2:0 cropping works in pairs) in whole
    /// macroblocks and crops the excess on the right and bottom.
    pub fn new(width: u32, height: u32, fps: u32, bitrate: u64) -> Self {
        let width = width.max(2).next_multiple_of(2);
        let height = height.max(2).next_multiple_of(2);
        let mb_width = width.div_ceil(16);
        let mb_height = height.div_ceil(16);
        Self {
            mb_width,
            mb_height,
            crop_right: (mb_width * 16 - width) / 2,
            crop_bottom: (mb_height * 16 - height) / 2,
            level_idc: level_idc(mb_width, mb_height, fps, bitrate),
            fps,
        }
    }

    pub fn mb_count(&self) -> u32 {
        self.mb_width * self.mb_height
    }

    /// Width of the picture shown, after cropping.
    pub fn width(&self) -> u32 {
        self.mb_width * 16 - 2 * self.crop_right
    }

    /// Height of the picture shown, after cropping.
    pub fn height(&self) -> u32 {
        self.mb_height * 16 - 2 * self.crop_bottom
    }
}

/// The lowest level of Table A-1 whose limits (A.3.1: frame size, frame width and height of at most
/// sqrt(8 * MaxFS) macroblocks, macroblock rate; A.3.3: bit rate) admit the stream.
pub fn level_idc(mb_width: u32, mb_height: u32, fps: u32, bitrate: u64) -> u8 {
    let (w, h) = (u64::from(mb_width), u64::from(mb_height));
    let frame = w * h;
    LEVELS
        .iter()
        .find(|&&(_, max_mbps, max_fs, max_br)| {
            frame <= max_fs
                && w * w <= 8 * max_fs
                && h * h <= 8 * max_fs
                && frame * u64::from(fps) <= max_mbps
                && bitrate <= max_br * 1000
        })
        .map_or(62, |&(level, ..)| level)
}

/// The RFC 6381 `avc1` codecs parameter: profile_idc, constraint byte and level_idc in hex.
pub fn codecs_tag(params: &VideoParams) -> String {
    format!("avc1.{PROFILE_IDC:02x}{CONSTRAINT_FLAGS:02x}{:02x}", params.level_idc)
}

/// seq_parameter_set_rbsp(), section 7.3.2.1.1.
fn sps_rbsp(p: &VideoParams) -> Vec<u8> {
    let mut w = BitWriter::with_capacity(32);
    w.put(u64::from(PROFILE_IDC), 8);
    w.put(u64::from(CONSTRAINT_FLAGS), 8);
    w.put(u64::from(p.level_idc), 8);
    w.ue(0); // seq_parameter_set_id
    w.ue(MAX_FRAME_NUM.trailing_zeros() - 4); // log2_max_frame_num_minus4
    // pic_order_cnt_type 2: output order is decoding order (8.2.1.3), so no POC in slice headers.
    w.ue(2);
    w.ue(1); // max_num_ref_frames
    w.flag(false); // gaps_in_frame_num_value_allowed_flag
    w.ue(p.mb_width - 1); // pic_width_in_mbs_minus1
    w.ue(p.mb_height - 1); // pic_height_in_map_units_minus1
    w.flag(true); // frame_mbs_only_flag
    w.flag(true); // direct_8x8_inference_flag
    let cropped = p.crop_right > 0 || p.crop_bottom > 0;
    w.flag(cropped); // frame_cropping_flag
    if cropped {
        for offset in [0, p.crop_right, 0, p.crop_bottom] {
            w.ue(offset); // frame_crop_left/right/top/bottom_offset
        }
    }
    w.flag(true); // vui_parameters_present_flag
    write_vui(&mut w, p.fps);
    w.rbsp_trailing_bits();
    w.into_bytes()
}

/// vui_parameters(), Annex E.1.1: square pixels, BT.709, and the frame rate (E.2.1: a frame lasts
/// two ticks of `time_scale`, so time_scale = 2 * fps with num_units_in_tick = 1).
fn write_vui(w: &mut BitWriter, fps: u32) {
    w.flag(true); // aspect_ratio_info_present_flag
    w.put(1, 8); // aspect_ratio_idc 1: 1:1 (Table E-1)
    w.flag(false); // overscan_info_present_flag
    w.flag(true); // video_signal_type_present_flag
    w.put(5, 3); // video_format: unspecified
    w.flag(false); // video_full_range_flag
    w.flag(true); // colour_description_present_flag
    for bt709 in [1, 1, 1] {
        w.put(bt709, 8); // colour_primaries, transfer_characteristics, matrix_coefficients
    }
    w.flag(false); // chroma_loc_info_present_flag
    w.flag(true); // timing_info_present_flag
    w.put(1, 32); // num_units_in_tick
    w.put(2 * u64::from(fps), 32); // time_scale
    w.flag(true); // fixed_frame_rate_flag
    w.flag(false); // nal_hrd_parameters_present_flag
    w.flag(false); // vcl_hrd_parameters_present_flag
    w.flag(false); // pic_struct_present_flag
    // bitstream_restriction: no reordering and a one-frame DPB, so decoders output every frame at
    // once instead of guessing a reorder delay.
    w.flag(true); // bitstream_restriction_flag
    w.flag(true); // motion_vectors_over_pic_boundaries_flag
    w.ue(2); // max_bytes_per_pic_denom (the inferred default)
    w.ue(1); // max_bits_per_mb_denom (the inferred default)
    w.ue(15); // log2_max_mv_length_horizontal (the inferred default)
    w.ue(15); // log2_max_mv_length_vertical
    w.ue(0); // max_num_reorder_frames
    w.ue(1); // max_dec_frame_buffering
}

/// pic_parameter_set_rbsp(), section 7.3.2.2: CAVLC, one slice group, QP 26, no deblocking control.
fn pps_rbsp() -> Vec<u8> {
    let mut w = BitWriter::with_capacity(8);
    w.ue(0); // pic_parameter_set_id
    w.ue(0); // seq_parameter_set_id
    w.flag(false); // entropy_coding_mode_flag: CAVLC
    w.flag(false); // bottom_field_pic_order_in_frame_present_flag
    w.ue(0); // num_slice_groups_minus1
    w.ue(0); // num_ref_idx_l0_default_active_minus1
    w.ue(0); // num_ref_idx_l1_default_active_minus1
    w.flag(false); // weighted_pred_flag
    w.put(0, 2); // weighted_bipred_idc
    w.se(0); // pic_init_qp_minus26
    w.se(0); // pic_init_qs_minus26
    w.se(0); // chroma_qp_index_offset
    w.flag(false); // deblocking_filter_control_present_flag
    w.flag(false); // constrained_intra_pred_flag
    w.flag(false); // redundant_pic_cnt_present_flag
    w.rbsp_trailing_bits();
    w.into_bytes()
}

/// access_unit_delimiter_rbsp(), section 7.3.2.4; primary_pic_type from Table 7-5.
fn write_aud(out: &mut Vec<u8>, primary_pic_type: u8) {
    write_nal(out, NAL_AUD, &[(primary_pic_type << 5) | 0x10]);
}

/// A flat picture colour (8-bit Y, Cb, Cr samples).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Colour {
    pub y: u8,
    pub cb: u8,
    pub cr: u8,
}

/// (Cb, Cr) offsets from 128 of twelve hues around the colour wheel at saturation 48.
const HUES: [(i8, i8); 12] = [
    (48, 0),
    (42, 24),
    (24, 42),
    (0, 48),
    (-24, 42),
    (-42, 24),
    (-48, 0),
    (-42, -24),
    (-24, -42),
    (0, -48),
    (24, -42),
    (42, -24),
];

/// The colour of the `n`th segment: mid luma, the hue turning one step per segment, so a viewer
/// can see segments change (and every rendition of one segment looks the same).
pub fn segment_colour(n: u64) -> Colour {
    let (cb, cr) = HUES[(n % HUES.len() as u64) as usize];
    Colour { y: 128, cb: 128u8.wrapping_add_signed(cb), cr: 128u8.wrapping_add_signed(cr) }
}

/// IDR slice_layer_without_partitioning_rbsp() (sections 7.3.3 and 7.3.4), slice_type 7 (all I).
///
/// The top-left macroblock is I_PCM in `colour`; every other one predicts from its left or upper
/// neighbour with no residual, which copies that colour over the whole picture.
fn idr_slice_rbsp(p: &VideoParams, idr_pic_id: u32, colour: Colour) -> Vec<u8> {
    let mut w = BitWriter::with_capacity(p.mb_count() as usize + PCM_BYTES + 16);
    w.ue(0); // first_mb_in_slice
    w.ue(7); // slice_type: I, and every slice of the picture is I
    w.ue(0); // pic_parameter_set_id
    w.put(0, MAX_FRAME_NUM.trailing_zeros()); // frame_num: 0 for IDR (7.4.3)
    w.ue(idr_pic_id);
    w.flag(false); // dec_ref_pic_marking: no_output_of_prior_pics_flag
    w.flag(false); // dec_ref_pic_marking: long_term_reference_flag
    w.se(0); // slice_qp_delta
    write_pcm_mb(&mut w, colour);
    for y in 0..p.mb_height {
        for x in (0..p.mb_width).skip(usize::from(y == 0)) {
            write_intra16x16_mb(&mut w, x, y);
        }
    }
    w.rbsp_trailing_bits();
    w.into_bytes()
}

/// Luma and chroma samples of a 4:2:0 macroblock: 256 + 2 * 64.
const PCM_BYTES: usize = 384;

/// macroblock_layer() (7.3.5) of an I_PCM macroblock (mb_type 25, Table 7-11): zero bits to the
/// byte boundary, then raw samples. Samples stay within 16..=240, so they can never take part in
/// an emulated start code and the slice size does not depend on the colour.
fn write_pcm_mb(w: &mut BitWriter, colour: Colour) {
    w.ue(25);
    w.align_with_zeros(); // pcm_alignment_zero_bit
    for (value, count) in [(colour.y, 256), (colour.cb, 64), (colour.cr, 64)] {
        for _ in 0..count {
            w.put(u64::from(value), 8);
        }
    }
}

/// macroblock_layer() (7.3.5) of an Intra_16x16 macroblock with coded_block_pattern 0.
///
/// The prediction mode (8.3.3) only uses a neighbour that exists: horizontal along the first row,
/// vertical below it. mb_type 1 and 2 are I_16x16_{0,1}_0_0 (Table 7-11), 3 bits each.
fn write_intra16x16_mb(w: &mut BitWriter, x: u32, y: u32) {
    let mb_type = if y == 0 { 2 } else { 1 }; // Intra_16x16_Horizontal, Intra_16x16_Vertical
    w.ue(mb_type);
    w.ue(0); // intra_chroma_pred_mode: DC (Table 7-16)
    w.se(0); // mb_qp_delta, always present for Intra_16x16 (7.3.5)
    // residual(): Intra16x16DCLevel is always coded. Its nC (9.2.1) counts the coefficients of the
    // left and upper blocks: 16 next to the I_PCM macroblock (its right and lower neighbours),
    // 0 elsewhere. coeff_token for TotalCoeff 0 is "000011" for 8 <= nC, "1" for 0 <= nC < 2
    // (Table 9-5).
    let next_to_pcm = (x, y) == (1, 0) || (x, y) == (0, 1);
    if next_to_pcm { w.put(0b000011, 6) } else { w.put(1, 1) }
}

/// Non-IDR reference slice (slice_type 5, all P) in which every macroblock is P_Skip (7.3.4).
fn p_slice_rbsp(p: &VideoParams, frame_num: u32) -> Vec<u8> {
    let mut w = BitWriter::with_capacity(16);
    w.ue(0); // first_mb_in_slice
    w.ue(5); // slice_type: P, and every slice of the picture is P
    w.ue(0); // pic_parameter_set_id
    w.put(u64::from(frame_num % MAX_FRAME_NUM), MAX_FRAME_NUM.trailing_zeros());
    w.flag(false); // num_ref_idx_active_override_flag
    w.flag(false); // ref_pic_list_modification_flag_l0
    w.flag(false); // dec_ref_pic_marking: adaptive_ref_pic_marking_mode_flag (sliding window)
    w.se(0); // slice_qp_delta
    w.ue(p.mb_count()); // mb_skip_run covering the picture, then no more data
    w.rbsp_trailing_bits();
    w.into_bytes()
}

/// NAL header byte: nal_ref_idc in bits 6-5, nal_unit_type below (7.3.1).
const fn header(nal_ref_idc: u8, nal_unit_type: u8) -> u8 {
    (nal_ref_idc << 5) | nal_unit_type
}

/// An IDR access unit (7.4.1.2.3 order): delimiter, SPS, PPS, then the IDR slice.
///
/// Consecutive IDR pictures need different idr_pic_id values (7.4.3); callers alternate 0 and 1.
pub fn idr_access_unit(p: &VideoParams, idr_pic_id: u32, colour: Colour) -> Vec<u8> {
    let slice = idr_slice_rbsp(p, idr_pic_id, colour);
    let mut out = Vec::with_capacity(slice.len() + 64);
    write_aud(&mut out, 0); // primary_pic_type 0: I slices only
    write_nal(&mut out, header(3, NAL_SPS), &sps_rbsp(p));
    write_nal(&mut out, header(3, NAL_PPS), &pps_rbsp());
    write_nal(&mut out, header(3, NAL_IDR), &slice);
    out
}

/// A P access unit: delimiter and an all-skip slice. nal_ref_idc stays non-zero because
/// pic_order_cnt_type 2 forbids two consecutive non-reference pictures (7.4.2.1.1).
pub fn p_access_unit(p: &VideoParams, frame_num: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    write_aud(&mut out, 1); // primary_pic_type 1: I and P slices
    write_nal(&mut out, header(2, NAL_SLICE), &p_slice_rbsp(p, frame_num));
    out
}

// The same NAL units without start codes, for the avcC record and the length-prefixed samples of
// fMP4 (ISO/IEC 14496-15 5.3). With an `avc1` sample entry the parameter sets travel in avcC, and
// samples need no delimiter, so an fMP4 sample is the slice alone (and filler).

pub fn sps_nal(p: &VideoParams) -> Vec<u8> {
    nal_unit(header(3, NAL_SPS), &sps_rbsp(p))
}

pub fn pps_nal() -> Vec<u8> {
    nal_unit(header(3, NAL_PPS), &pps_rbsp())
}

/// The IDR slice of [`idr_access_unit`].
pub fn idr_slice_nal(p: &VideoParams, idr_pic_id: u32, colour: Colour) -> Vec<u8> {
    nal_unit(header(3, NAL_IDR), &idr_slice_rbsp(p, idr_pic_id, colour))
}

/// The P slice of [`p_access_unit`].
pub fn p_slice_nal(p: &VideoParams, frame_num: u32) -> Vec<u8> {
    nal_unit(header(2, NAL_SLICE), &p_slice_rbsp(p, frame_num))
}

fn nal_unit(header: u8, rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len() + rbsp.len() / 64 + 2);
    write_nal_unit(&mut out, header, rbsp);
    out
}

/// [`write_filler`] with a 4-byte length prefix in place of the start code (AVCC framing with
/// lengthSizeMinusOne 3): the same `len` bytes in all.
pub fn write_filler_avcc(out: &mut Vec<u8>, len: usize) {
    let start = out.len();
    write_filler(out, len);
    out[start..start + START_LEN].copy_from_slice(&((len - START_LEN) as u32).to_be_bytes());
}

/// Appends a filler data NAL unit (7.3.2.7) of exactly `len` bytes (at least [`MIN_FILLER_LEN`]).
/// Filler may follow the last VCL NAL unit of an access unit (7.4.1.2.3); 0xFF bytes need no
/// emulation prevention, so they are written in bulk.
pub fn write_filler(out: &mut Vec<u8>, len: usize) {
    debug_assert!(len >= MIN_FILLER_LEN);
    out.extend_from_slice(&[0, 0, 0, 1, header(0, NAL_FILLER)]);
    out.resize(out.len() + len - MIN_FILLER_LEN, 0xFF);
    out.push(0x80); // rbsp_trailing_bits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::media::bits::reader::{BitReader, unescape};

    fn params(width: u32, height: u32) -> VideoParams {
        VideoParams::new(width, height, 30, 2_000_000)
    }

    #[test]
    fn levels_follow_table_a1() {
        let cases = [(640, 360, 30), (854, 480, 31), (1280, 720, 31), (1920, 1080, 40), (3840, 2160, 51)];
        for (w, h, level) in cases {
            assert_eq!(params(w, h).level_idc, level, "{w}x{h}");
        }
        assert_eq!(VideoParams::new(28, 16, 30, 50_000).level_idc, 10);
        assert_eq!(VideoParams::new(1920, 1080, 30, 30_000_000).level_idc, 41);
        assert_eq!(VideoParams::new(7680, 4320, 30, 30_000_000).level_idc, 60);
    }

    #[test]
    fn geometry_crops_to_even_size() {
        let p = params(1920, 1080);
        assert_eq!((p.mb_width, p.mb_height, p.crop_right, p.crop_bottom), (120, 68, 0, 4));
        let p = params(854, 480);
        assert_eq!((p.mb_width, p.mb_height, p.crop_right, p.crop_bottom), (54, 30, 5, 0));
        let p = params(27, 17);
        assert_eq!((p.mb_width * 16 - 2 * p.crop_right, p.mb_height * 16 - 2 * p.crop_bottom), (28, 18));
    }

    #[test]
    fn sps_parses_back() {
        let p = params(854, 480);
        let sps = sps_rbsp(&p);
        let mut r = BitReader::new(&sps);
        assert_eq!((r.bits(8), r.bits(8), r.bits(8)), (66, 0xe0, 31));
        assert_eq!((r.ue(), r.ue(), r.ue(), r.ue(), r.bit()), (0, 0, 2, 1, 0));
        assert_eq!((r.ue(), r.ue(), r.bit(), r.bit(), r.bit()), (53, 29, 1, 1, 1));
        assert_eq!((r.ue(), r.ue(), r.ue(), r.ue()), (0, 5, 0, 0));
        assert_eq!(codecs_tag(&p), "avc1.42e01f");
    }

    #[test]
    fn idr_slice_spends_six_bits_per_macroblock() {
        let p = params(1920, 1080);
        let header_bits = 1 + 7 + 1 + 4 + 1 + 1 + 1 + 1;
        let pcm_bits = (header_bits + 9usize).next_multiple_of(8) + 8 * PCM_BYTES;
        let bits = pcm_bits + 6 * (p.mb_count() as usize - 1) + 2 * 5 + 1;
        assert_eq!(idr_slice_rbsp(&p, 0, segment_colour(0)).len(), bits.div_ceil(8));
    }

    #[test]
    fn idr_size_does_not_depend_on_colour() {
        let p = params(854, 480);
        let sizes: Vec<usize> = (0..12).map(|n| idr_access_unit(&p, 1, segment_colour(n)).len()).collect();
        assert!(sizes.iter().all(|&s| s == sizes[0]), "{sizes:?}");
        let colour = segment_colour(3);
        assert_eq!((colour.y, colour.cb, colour.cr), (128, 128, 176));
    }

    #[test]
    fn p_slice_is_one_skip_run() {
        let p = params(640, 360);
        let au = p_access_unit(&p, 17);
        assert_eq!(&au[..6], &[0, 0, 0, 1, 0x09, 0x30]);
        assert_eq!(&au[6..11], &[0, 0, 0, 1, 0x41]);
        let rbsp = unescape(&au[11..]);
        let mut r = BitReader::new(&rbsp);
        assert_eq!((r.ue(), r.ue(), r.ue(), r.bits(4)), (0, 5, 0, 1));
        assert_eq!((r.bit(), r.bit(), r.bit(), r.se(), r.ue()), (0, 0, 0, 0, 40 * 23));
        assert_eq!(r.bit(), 1, "rbsp_stop_one_bit");
    }

    #[test]
    fn nal_units_are_the_access_units_without_start_codes() {
        let p = params(854, 480);
        let mut idr = Vec::new();
        for nal in [sps_nal(&p), pps_nal(), idr_slice_nal(&p, 1, segment_colour(2))] {
            idr.extend_from_slice(&[0, 0, 0, 1]);
            idr.extend_from_slice(&nal);
        }
        assert_eq!(idr_access_unit(&p, 1, segment_colour(2))[6..], idr[..], "after the delimiter");
        let p_nal = p_slice_nal(&p, 3);
        assert_eq!(p_access_unit(&p, 3)[10..], p_nal[..]);
        assert_eq!((p.width(), p.height()), (854, 480));
        let mut filler = Vec::new();
        write_filler_avcc(&mut filler, 9);
        assert_eq!(filler, [0, 0, 0, 5, 12, 0xFF, 0xFF, 0xFF, 0x80]);
    }

    #[test]
    fn filler_has_exact_length() {
        for len in [MIN_FILLER_LEN, 7, 1000] {
            let mut out = vec![1];
            write_filler(&mut out, len);
            assert_eq!(out.len(), 1 + len);
            assert_eq!(&out[1..6], &[0, 0, 0, 1, 12]);
            assert_eq!(out.last(), Some(&0x80));
        }
    }
}
