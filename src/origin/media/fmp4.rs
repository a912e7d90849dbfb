//! CMAF fragments (ISO/IEC 23000-19 7.3.2.3; ISO/IEC 14496-12 8.8): `moof` + `mdat` pairs carrying
//! the same frames, timestamps and byte rate as the MPEG-TS segments, built in closed form.
//!
//! A fragment holds the video frames `a..b` of segment `k` and the audio frames whose time falls in
//! their interval (the split [`layout::audio_frames_before`] makes for TS). Its `moof` has an `mfhd`
//! and one `traf` per track: `tfhd` (default-base-is-moof, default duration and flags), `tfdt`
//! (version 1: the decode time of the first sample) and `trun` (data offset, first-sample flags,
//! sizes of the video samples; audio samples are all one size). The `mdat` has the audio samples,
//! then the video ones (so both data offsets stay small whatever the bit rate). Video samples are the slice NAL unit with a 4-byte length (AVCC), then a
//! filler NAL unit; parameter sets are in the init section's `avcC`.
//!
//! A segment is its parts one after another, each a fragment: per CMAF a segment may hold several
//! fragments (chunks), and an LL-HLS segment's bytes are exactly its parts' bytes
//! (draft-pantos-hls-rfc8216bis 4.4.4.9). A segment of one part is one fragment.
//!
//! Decode times equal the TS PTS in seconds (the same one-second offset): video counts 90 kHz
//! ticks, audio 48 kHz samples. `mfhd` sequence numbers are the global number of the fragment's
//! first frame plus one, so they increase across parts and segments however a segment is split.
//!
//! Byte rate: each frame has a share of the segment's budget `bitrate * duration / 8` (IDR
//! frames four shares, as in TS), which its video and audio samples fill; a fragment's boxes are
//! taken from the filler of its first frames. A fragment is then exactly as long as its frames'
//! shares, so every segment is exactly the budget, however it is split into parts, unless a
//! share is too small for the picture and the boxes (a very low bit rate: the fragment is as
//! small as it can be) or a part's last frame is left 1 to 5 bytes short, less than a filler NAL
//! unit.

use bytes::{BufMut, Bytes};
use std::ops::Range;

use super::boxes::{self, FULL_HEADER_LEN, HEADER_LEN};
use super::fmp4_init::{AUDIO_TRACK, VIDEO_TRACK};
use super::h264::{self, MAX_FRAME_NUM, VideoParams};
use super::layout::{self, IDR_WEIGHT};
use super::{FPS, MediaFormat, TICKS_PER_SECOND, aac};

/// `mdhd` timescale of the video track: the TS clock, so decode times match TS PTS.
pub const VIDEO_TIMESCALE: u32 = TICKS_PER_SECOND as u32;
/// Video sample duration in [`VIDEO_TIMESCALE`] ticks.
const FRAME_DURATION: u32 = layout::FRAME_TICKS as u32;
/// Bytes of the length that precedes each NAL unit in a sample (lengthSizeMinusOne 3).
const NAL_LENGTH_LEN: usize = 4;
/// Most audio frames that start during one video frame: 3000 / 1920 ticks, rounded up.
const MAX_AUDIO_PER_FRAME: u64 = layout::FRAME_TICKS.div_ceil(aac::FRAME_TICKS);

// Sample flags (8.8.3.1): sample_depends_on 2 (an I picture, or audio), or sample_depends_on 1 with
// sample_is_non_sync_sample set (a P picture).
const SYNC_SAMPLE: u32 = 0x0200_0000;
const NON_SYNC_SAMPLE: u32 = 0x0101_0000;
// tfhd flags (8.8.7.1).
const DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
const DEFAULT_DURATION: u32 = 0x08;
const DEFAULT_SIZE: u32 = 0x10;
const DEFAULT_FLAGS: u32 = 0x20;
// trun flags (8.8.8.1).
const DATA_OFFSET: u32 = 0x001;
const FIRST_SAMPLE_FLAGS: u32 = 0x004;
const SAMPLE_SIZE: u32 = 0x200;

/// Byte shares of one segment's frames; the same for every segment of a format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Plan {
    video: VideoParams,
    audio: bool,
    frames: u32,
    /// Frames from one IDR frame to the next: the segment, or in a segment built in parts each part
    /// (every LL-HLS part then starts with a key frame and is `INDEPENDENT`).
    gop: u32,
    idrs: u32,
    idr_share: u64,
    /// With no P frame (parts of one frame), the first `idr_extra` IDR frames take one byte more.
    idr_extra: u64,
    /// Share of a P frame; the first `p_extra` P frames of a segment take one byte more.
    p_share: u64,
    p_extra: u64,
}

impl Plan {
    /// Splits the budget `bitrate * frames / (8 * FPS)` (to the nearest byte) between the frames, the
    /// IDR frame [`IDR_WEIGHT`] shares and each P frame one, but never less than a frame's samples
    /// need: then the segment is larger than the budget.
    pub fn new(format: &MediaFormat, frames_per_part: u32) -> Self {
        let video = format.video_params();
        let frames = format.frames_per_segment.max(1);
        let gop = if frames_per_part == 0 { frames } else { frames_per_part.min(frames) };
        let idrs = frames.div_ceil(gop);
        let fps = u128::from(FPS);
        let budget = (u128::from(format.bitrate) * u128::from(frames) + 4 * fps) / (8 * fps);
        let budget = u64::try_from(budget).unwrap_or(u64::MAX / 2);
        let audio = if format.audio { MAX_AUDIO_PER_FRAME * raw_audio_len() } else { 0 };
        let idr_len = (0..2).map(|id| h264::idr_slice_nal(&video, id, h264::segment_colour(0)).len()).max();
        let idr_min = (NAL_LENGTH_LEN + idr_len.unwrap_or(0)) as u64 + audio;
        let p_len = (0..MAX_FRAME_NUM).map(|n| h264::p_slice_nal(&video, n).len()).max();
        let p_min = (NAL_LENGTH_LEN + p_len.unwrap_or(0)) as u64 + audio;
        let n_idr = u64::from(idrs);
        let p_frames = u64::from(frames) - n_idr;
        let total = budget.max(n_idr * idr_min + p_frames * p_min);
        let weights = u128::from(IDR_WEIGHT) * u128::from(n_idr) + u128::from(p_frames);
        let weighted = u128::from(total) * u128::from(IDR_WEIGHT) / weights;
        let idr_share = (weighted as u64).clamp(idr_min, (total - p_frames * p_min) / n_idr);
        let p_left = total - n_idr * idr_share;
        let (p_share, p_extra) = p_left.checked_div(p_frames).zip(p_left.checked_rem(p_frames)).unwrap_or((0, 0));
        let idr_extra = if p_frames == 0 { p_left } else { 0 };
        Self { video, audio: format.audio, frames, gop, idrs, idr_share, idr_extra, p_share, p_extra }
    }

    /// Whether frame `i` of a segment is an IDR frame.
    fn is_idr(&self, i: u32) -> bool {
        i.is_multiple_of(self.gop)
    }

    /// Bytes of frame `i` of a segment (IDR frames at each GOP start), its boxes' part included.
    pub fn share(&self, i: u32) -> u64 {
        if self.is_idr(i) {
            return self.idr_share + u64::from(u64::from(i / self.gop) < self.idr_extra);
        }
        // The P frame's place among the segment's P frames: the first `p_extra` take a byte more.
        let p = u64::from(i - i / self.gop - 1);
        if p < self.p_extra { self.p_share + 1 } else { self.p_share }
    }

    /// Bytes of every segment when no share is short.
    pub fn segment_len(&self) -> u64 {
        let n_idr = u64::from(self.idrs);
        n_idr * self.idr_share + self.idr_extra + (u64::from(self.frames) - n_idr) * self.p_share + self.p_extra
    }

    fn first_frame(&self, index: u64) -> u64 {
        index.wrapping_mul(u64::from(self.frames))
    }
}

/// Bytes of one silent AAC frame without ADTS header.
fn raw_audio_len() -> u64 {
    aac::silent_raw_frame().len() as u64
}

/// The frame ranges of the parts of a segment: `frames_per_part` frames each, the last one
/// shorter if need be. 0, or at least the segment's frame count, gives one part.
pub fn part_ranges(format: &MediaFormat, frames_per_part: u32) -> Vec<Range<u32>> {
    frame_ranges(format.frames_per_segment, frames_per_part)
}

/// [`part_ranges`] of a segment of `frames_per_segment` frames.
pub fn frame_ranges(frames_per_segment: u32, frames_per_part: u32) -> Vec<Range<u32>> {
    let frames = frames_per_segment.max(1);
    let step = if frames_per_part == 0 { frames } else { frames_per_part.min(frames) };
    (0..frames).step_by(step as usize).map(|a| a..(a + step).min(frames)).collect()
}

/// Segment `index` as the fragments of [`part_ranges`]`(format, frames_per_part)`, one after
/// another: byte for byte the concatenation of [`build_fmp4_part`] over those ranges.
pub fn build_fmp4_segment(format: &MediaFormat, index: u64, frames_per_part: u32) -> Bytes {
    let plan = Plan::new(format, frames_per_part);
    let mut out = Vec::with_capacity(plan.segment_len() as usize + 256);
    for range in part_ranges(format, frames_per_part) {
        write_fragment(&mut out, &plan, index, range);
    }
    Bytes::from(out)
}

/// The fragment holding frames `frames` of segment `index` built in parts of `frames_per_part` frames
/// (0: one part): an LL-HLS part, which starts with an IDR frame and is INDEPENDENT when it starts a
/// part. The range is clamped to the segment; an empty range gives no bytes.
pub fn build_fmp4_part(format: &MediaFormat, index: u64, frames: Range<u32>, frames_per_part: u32) -> Bytes {
    let plan = Plan::new(format, frames_per_part);
    let mut out = Vec::new();
    write_fragment(&mut out, &plan, index, frames);
    Bytes::from(out)
}

/// What one fragment holds, counted before anything is written.
struct Fragment {
    /// Global number of the first video frame, and of the first audio frame.
    first_frame: u64,
    first_audio: u64,
    /// The slice NAL unit of each video frame, and the filler bytes that follow it.
    slices: Vec<Vec<u8>>,
    fillers: Vec<u64>,
    audio_frames: u64,
}

impl Fragment {
    fn new(plan: &Plan, index: u64, frames: Range<u32>) -> Self {
        let segment_first = plan.first_frame(index);
        let first_frame = segment_first.wrapping_add(u64::from(frames.start));
        let audio_at = |frame: u64| if plan.audio { layout::audio_frames_before(frame) } else { 0 };
        let audio_in = |frame: u64| audio_at(frame.wrapping_add(1)).saturating_sub(audio_at(frame));
        let slices: Vec<Vec<u8>> = frames
            .clone()
            .map(|i| {
                if plan.is_idr(i) {
                    // Consecutive IDR pictures differ in idr_pic_id (7.4.3).
                    let nth = index.wrapping_mul(u64::from(plan.idrs)).wrapping_add(u64::from(i / plan.gop));
                    h264::idr_slice_nal(&plan.video, (nth % 2) as u32, h264::segment_colour(index))
                } else {
                    h264::p_slice_nal(&plan.video, (i % plan.gop) % MAX_FRAME_NUM)
                }
            })
            .collect();
        let end_frame = first_frame.wrapping_add(slices.len() as u64);
        let audio_frames = audio_at(end_frame).saturating_sub(audio_at(first_frame));
        let shares: u64 = frames.clone().map(|i| plan.share(i)).sum();
        let boxes = moof_len(slices.len(), plan.audio) + boxes::mdat_header_len(shares);
        // Each frame fills its share; the boxes come out of the first frames' filler, and a rest too
        // small for a filler NAL unit moves on to the next frame.
        let mut carry = -(boxes as i128);
        let mut fillers = Vec::with_capacity(slices.len());
        let raw_audio_len = raw_audio_len();
        for (i, slice) in frames.zip(&slices) {
            let audio = audio_in(segment_first.wrapping_add(u64::from(i))) * raw_audio_len;
            let samples = (NAL_LENGTH_LEN + slice.len()) as i128 + i128::from(audio);
            let spare = i128::from(plan.share(i)) - samples + carry;
            let filler = if spare >= h264::MIN_FILLER_LEN as i128 { spare as u64 } else { 0 };
            carry = spare - i128::from(filler);
            fillers.push(filler);
        }
        Self { first_frame, first_audio: audio_at(first_frame), slices, fillers, audio_frames }
    }

    fn video_sample_len(&self, n: usize) -> u64 {
        (NAL_LENGTH_LEN + self.slices[n].len()) as u64 + self.fillers[n]
    }
}

/// Bytes of a `moof` with `video_samples` video samples, and an audio `traf` when `audio`.
pub fn moof_len(video_samples: usize, audio: bool) -> usize {
    let video_traf = HEADER_LEN + (FULL_HEADER_LEN + 12) + TFDT_LEN + (FULL_HEADER_LEN + 12 + 4 * video_samples);
    HEADER_LEN + MFHD_LEN + video_traf + if audio { AUDIO_TRAF_LEN } else { 0 }
}

const TFDT_LEN: usize = FULL_HEADER_LEN + 8;
const MFHD_LEN: usize = FULL_HEADER_LEN + 4;
const AUDIO_TRAF_LEN: usize = HEADER_LEN + (FULL_HEADER_LEN + 16) + TFDT_LEN + (FULL_HEADER_LEN + 8);

/// Segment `index` of an audio-only rendition (for [`super::build_audio_init`]): one fragment of
/// the audio frames that segment `index` of the muxed streams holds (the same split and decode
/// times), `moof` (`mfhd`, the audio `traf`) then `mdat`. Its `mfhd` sequence number is the global
/// number of its first audio frame plus one.
pub fn build_fmp4_audio_segment(frames_per_segment: u32, index: u64) -> Bytes {
    build_fmp4_audio_part(frames_per_segment, index, 0..frames_per_segment.max(1))
}

/// The audio-only fragment beside video frames `frames` of segment `index`: the audio frames a
/// muxed part of those frames holds. An LL-HLS part of the audio rendition, lined up with the
/// video's; every video frame has one or two audio frames, so no part is empty. The parts of
/// [`part_ranges`] one after another are the segment in parts (`mfhd` numbers still increase).
pub fn build_fmp4_audio_part(frames_per_segment: u32, index: u64, frames: Range<u32>) -> Bytes {
    let per_segment = frames_per_segment.max(1);
    let segment_first = index.wrapping_mul(u64::from(per_segment));
    let at = |frame: u32| layout::audio_frames_before(segment_first.wrapping_add(u64::from(frame.min(per_segment))));
    let first = at(frames.start);
    let count = at(frames.end).saturating_sub(first);
    let raw = aac::silent_raw_frame();
    let payload = count * raw.len() as u64;
    let moof_len = HEADER_LEN + MFHD_LEN + AUDIO_TRAF_LEN;
    let data_start = (moof_len + boxes::mdat_header_len(payload)) as u64;
    let mut out = Vec::with_capacity(data_start as usize + payload as usize);
    boxes::write_box(&mut out, b"moof", |out| {
        boxes::write_full_box(out, b"mfhd", 0, 0, |out| out.put_u32(first.wrapping_add(1) as u32));
        write_audio_traf(out, first, count, data_start);
    });
    debug_assert_eq!(out.len(), moof_len);
    boxes::write_mdat_header(&mut out, payload);
    for _ in 0..count {
        out.put_slice(&raw);
    }
    Bytes::from(out)
}

/// The byte ranges of the fragments (`moof` and what follows it up to the next `moof`) of a segment
/// built in parts: the LL-HLS parts, served as slices of the cached segment. Reads only the
/// top-level box headers; a box that overruns the bytes ends the walk.
pub fn fragment_ranges(segment: &[u8]) -> Vec<Range<usize>> {
    let mut starts = Vec::new();
    let mut at = 0usize;
    while let Some(header) = segment.get(at..at + HEADER_LEN) {
        let size = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let size = match size {
            1 => segment
                .get(at + HEADER_LEN..at + 2 * HEADER_LEN)
                .map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap_or_default()) as usize),
            0 => segment.len() - at,
            n => n,
        };
        if size < HEADER_LEN || at + size > segment.len() {
            break;
        }
        if &header[4..8] == b"moof" {
            starts.push(at);
        }
        at += size;
    }
    let ends = starts.iter().skip(1).copied().chain(std::iter::once(at));
    starts.iter().zip(ends).map(|(&a, b)| a..b).collect()
}

/// Appends the fragment of `frames` of segment `index` to `out`.
fn write_fragment(out: &mut Vec<u8>, plan: &Plan, index: u64, frames: Range<u32>) {
    let frames = frames.start.min(plan.frames)..frames.end.min(plan.frames);
    if frames.is_empty() {
        return;
    }
    let independent = plan.is_idr(frames.start);
    let fragment = Fragment::new(plan, index, frames);
    let video_len: u64 = (0..fragment.slices.len()).map(|n| fragment.video_sample_len(n)).sum();
    let audio_len = fragment.audio_frames * raw_audio_len();
    out.reserve((video_len + audio_len) as usize + 512);
    let moof_start = out.len();
    let moof_len = moof_len(fragment.slices.len(), plan.audio);
    let payload = video_len + audio_len;
    let data_start = (moof_len + boxes::mdat_header_len(payload)) as u64;
    boxes::write_box(out, b"moof", |out| {
        boxes::write_full_box(out, b"mfhd", 0, 0, |out| out.put_u32(fragment.first_frame.wrapping_add(1) as u32));
        write_video_traf(out, &fragment, independent, data_start + audio_len);
        if plan.audio {
            write_audio_traf(out, fragment.first_audio, fragment.audio_frames, data_start);
        }
    });
    debug_assert_eq!(out.len() - moof_start, moof_len);
    boxes::write_mdat_header(out, payload);
    let raw = aac::silent_raw_frame();
    for _ in 0..fragment.audio_frames {
        out.put_slice(&raw);
    }
    for (slice, &filler) in fragment.slices.iter().zip(&fragment.fillers) {
        out.put_u32(slice.len() as u32);
        out.put_slice(slice);
        if filler > 0 {
            h264::write_filler_avcc(out, filler as usize);
        }
    }
}

/// `tfhd` (8.8.7) with default-base-is-moof and the given defaults, and `tfdt` (8.8.12) version 1.
fn write_tfhd_tfdt(out: &mut Vec<u8>, track_id: u32, defaults: &[(u32, u32)], decode_time: u64) {
    let flags = defaults.iter().fold(DEFAULT_BASE_IS_MOOF, |flags, &(flag, _)| flags | flag);
    boxes::write_full_box(out, b"tfhd", 0, flags, |out| {
        out.put_u32(track_id);
        for &(_, value) in defaults {
            out.put_u32(value);
        }
    });
    boxes::write_full_box(out, b"tfdt", 1, 0, |out| out.put_u64(decode_time));
}

fn write_video_traf(out: &mut Vec<u8>, fragment: &Fragment, independent: bool, data_offset: u64) {
    boxes::write_box(out, b"traf", |out| {
        let defaults = [(DEFAULT_DURATION, FRAME_DURATION), (DEFAULT_FLAGS, NON_SYNC_SAMPLE)];
        write_tfhd_tfdt(out, VIDEO_TRACK, &defaults, layout::video_pts(fragment.first_frame));
        boxes::write_full_box(out, b"trun", 0, DATA_OFFSET | FIRST_SAMPLE_FLAGS | SAMPLE_SIZE, |out| {
            out.put_u32(fragment.slices.len() as u32); // sample_count
            out.put_u32(data_offset as u32);
            out.put_u32(if independent { SYNC_SAMPLE } else { NON_SYNC_SAMPLE }); // first_sample_flags
            for n in 0..fragment.slices.len() {
                out.put_u32(fragment.video_sample_len(n) as u32);
            }
        });
    });
}

/// The audio `traf` of `frames` samples from global audio frame `first_audio` on.
fn write_audio_traf(out: &mut Vec<u8>, first_audio: u64, frames: u64, data_offset: u64) {
    boxes::write_box(out, b"traf", |out| {
        let defaults = [
            (DEFAULT_DURATION, aac::SAMPLES_PER_FRAME),
            (DEFAULT_SIZE, raw_audio_len() as u32),
            (DEFAULT_FLAGS, SYNC_SAMPLE),
        ];
        write_tfhd_tfdt(out, AUDIO_TRACK, &defaults, audio_decode_time(first_audio));
        boxes::write_full_box(out, b"trun", 0, DATA_OFFSET, |out| {
            out.put_u32(frames as u32); // sample_count
            out.put_u32(data_offset as u32);
        });
    });
}

/// Decode time of global audio frame `j` in 48 kHz samples: its TS PTS, rescaled exactly.
pub fn audio_decode_time(j: u64) -> u64 {
    let offset = layout::PTS_OFFSET * u64::from(aac::SAMPLE_RATE) / TICKS_PER_SECOND;
    offset.wrapping_add(j.wrapping_mul(u64::from(aac::SAMPLES_PER_FRAME)))
}
