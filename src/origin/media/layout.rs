//! How many transport packets each part of a segment takes, and the closed forms that let segment
//! `k` know its timestamps and continuity counters without building segments `0..k`.
//!
//! Every segment has the same packet plan: PAT, PMT, then frame by frame a fixed number of video
//! packets (more for the IDR frame than for a P frame), each followed by the audio frames whose PTS
//! falls in that frame's interval, and null packets at the end. Audio frames (1920 ticks) do not
//! divide segments (3000 ticks per video frame) evenly, so the audio packet count varies by one
//! from segment to segment; the null packets absorb that and keep every segment the same size.

use super::aac;
use super::ts::{PACKET_LEN, packets_needed};
use super::{FPS, MediaFormat, TICKS_PER_SECOND};

/// 90 kHz ticks per video frame.
pub const FRAME_TICKS: u64 = TICKS_PER_SECOND / FPS as u64;
/// PTS of the first frame the stream ever had: one second, as encoders commonly start.
pub const PTS_OFFSET: u64 = TICKS_PER_SECOND;
/// How far the PCR runs behind the DTS of the frame it precedes: the T-STD decoding delay (2.4.2).
/// Each frame's packets are sent within one frame interval after its PCR, so 100 ms leaves margin.
pub const PCR_DELAY: u64 = TICKS_PER_SECOND / 10;
/// Share of the video budget given to the IDR frame, in P-frame units: intra pictures are bigger.
pub const IDR_WEIGHT: u64 = 4;
/// PAT and PMT.
const PSI_PACKETS: u64 = 2;

/// Packet counts of one segment; identical for every segment of a format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub frames: u64,
    pub idr_packets: u64,
    /// Packets of a P frame; the first `p_extra` P frames of a segment take one more.
    pub p_packets: u64,
    pub p_extra: u64,
    pub audio_packets_per_frame: u64,
    /// Packets of every segment, null packets included.
    pub total_packets: u64,
}

impl Layout {
    /// Splits the byte budget `bitrate * duration / 8` (rounded to whole packets). The IDR frame
    /// gets `IDR_WEIGHT` shares, each P frame one, but never less than its access unit needs
    /// (`idr_min`, `p_min` payload bytes with the PES header); if even the minimum exceeds the
    /// budget, the segment is as small as possible and larger than the budget.
    pub fn new(format: &MediaFormat, idr_min: usize, p_min: usize, audio_pes_len: usize) -> Self {
        let frames = u64::from(format.frames_per_segment.max(1));
        let bytes = u128::from(format.bitrate) * u128::from(frames) / (8 * u128::from(FPS));
        let budget = ((bytes + PACKET_LEN as u128 / 2) / PACKET_LEN as u128) as u64;
        let audio_packets_per_frame = if format.audio { packets_needed(audio_pes_len, false) as u64 } else { 0 };
        let audio_max = max_audio_frames(frames) * audio_packets_per_frame;
        let idr_min = packets_needed(idr_min, true) as u64;
        let p_min = packets_needed(p_min, true) as u64;
        let p_frames = frames - 1;
        let video = budget.saturating_sub(PSI_PACKETS + audio_max).max(idr_min + p_frames * p_min);
        let idr_share = video * IDR_WEIGHT / (IDR_WEIGHT + p_frames);
        let idr_packets = idr_share.clamp(idr_min, video - p_frames * p_min);
        let p_left = video - idr_packets;
        let (p_packets, p_extra) = p_left.checked_div(p_frames).zip(p_left.checked_rem(p_frames)).unwrap_or((0, 0));
        Self {
            frames,
            idr_packets,
            p_packets,
            p_extra,
            audio_packets_per_frame,
            total_packets: (PSI_PACKETS + video + audio_max).max(budget),
        }
    }

    /// Video packets of frame `i` (0 = the IDR frame) of a segment.
    pub fn frame_packets(&self, i: u64) -> u64 {
        match i {
            0 => self.idr_packets,
            _ if i <= self.p_extra => self.p_packets + 1,
            _ => self.p_packets,
        }
    }

    pub fn video_packets_per_segment(&self) -> u64 {
        self.idr_packets + (self.frames - 1) * self.p_packets + self.p_extra
    }

    /// Global number of the first video frame of segment `index`.
    pub fn first_frame(&self, index: u64) -> u64 {
        index.wrapping_mul(self.frames)
    }

    /// Continuity counter of the first video packet of segment `index`.
    pub fn video_cc(&self, index: u64) -> u8 {
        mod16_product(index, self.video_packets_per_segment())
    }

    /// Continuity counter of the first audio packet of segment `index`.
    pub fn audio_cc(&self, index: u64) -> u8 {
        mod16_product(audio_frames_before(index.wrapping_mul(self.frames)), self.audio_packets_per_frame)
    }
}

/// (a * b) mod 16 without overflow: continuity counters are 4 bits (2.4.3.3).
fn mod16_product(a: u64, b: u64) -> u8 {
    ((a % 16) * (b % 16) % 16) as u8
}

/// Number of audio frames whose PTS comes before video frame `frame`, i.e. frames `j` with
/// `j * 1920 < frame * 3000`: ceil(frame * 3000 / 1920). Audio frame `j` belongs to the video
/// frame (and so the segment) whose interval holds its PTS.
pub fn audio_frames_before(frame: u64) -> u64 {
    let ticks = u128::from(frame) * u128::from(FRAME_TICKS);
    ticks.div_ceil(u128::from(aac::FRAME_TICKS)) as u64
}

/// Most audio frames one segment of `frames` video frames can hold: the ceiling of its length.
fn max_audio_frames(frames: u64) -> u64 {
    (frames * FRAME_TICKS).div_ceil(aac::FRAME_TICKS)
}

/// PTS of global video frame `frame` (modulo 2^33 when written).
pub fn video_pts(frame: u64) -> u64 {
    PTS_OFFSET.wrapping_add(frame.wrapping_mul(FRAME_TICKS))
}

/// PTS of global audio frame `j`.
pub fn audio_pts(j: u64) -> u64 {
    PTS_OFFSET.wrapping_add(j.wrapping_mul(aac::FRAME_TICKS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(bitrate: u64, frames: u32, audio: bool) -> MediaFormat {
        MediaFormat { width: 640, height: 360, bitrate, frames_per_segment: frames, audio }
    }

    #[test]
    fn budget_is_split_between_frames() {
        let layout = Layout::new(&format(2_000_000, 60, true), 1000, 40, 28);
        assert_eq!(layout.total_packets, (2_000_000 * 2 / 8 + 94) / 188);
        assert!(layout.idr_packets > 3 * layout.p_packets);
        let audio = max_audio_frames(60) * layout.audio_packets_per_frame;
        assert_eq!(layout.video_packets_per_segment() + audio + PSI_PACKETS, layout.total_packets);
        let sum: u64 = (0..60).map(|i| layout.frame_packets(i)).sum();
        assert_eq!(sum, layout.video_packets_per_segment());
    }

    #[test]
    fn small_budget_keeps_minimums() {
        let layout = Layout::new(&format(10_000, 6, false), 20_000, 40, 28);
        assert_eq!(layout.idr_packets, packets_needed(20_000, true) as u64);
        assert_eq!(layout.p_packets, 1);
        assert_eq!(layout.total_packets, 2 + layout.video_packets_per_segment());
    }

    #[test]
    fn single_frame_segments_are_all_idr() {
        let layout = Layout::new(&format(1_000_000, 1, false), 500, 40, 28);
        assert_eq!(layout.video_packets_per_segment(), layout.idr_packets);
        assert_eq!(layout.idr_packets + 2, layout.total_packets);
    }

    #[test]
    fn audio_frames_split_by_pts() {
        assert_eq!(audio_frames_before(0), 0);
        assert_eq!(audio_frames_before(1), 2); // PTS 0 and 1920 are before 3000
        assert_eq!(audio_frames_before(16), 25); // 48000 ticks: frame 25 starts exactly there
        assert_eq!(max_audio_frames(1), 2);
        assert_eq!(max_audio_frames(60), 94);
    }
}
