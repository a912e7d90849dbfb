//! Synthetic media: MPEG-TS segments carrying H.264 video (and AAC audio), built without an encoder.
//! STUB: replaced by the real muxer.

use bytes::Bytes;
use std::time::Duration;

/// Frame rate of the synthetic video.
pub const FPS: u32 = 30;
/// MPEG-TS clock ticks per second (PTS/DTS).
pub const TICKS_PER_SECOND: u64 = 90_000;

/// What one variant's segments look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaFormat {
    pub width: u32,
    pub height: u32,
    /// Total bits per second of the segment bodies (video + audio + TS overhead).
    pub bitrate: u64,
    /// Every segment holds this many video frames and starts with an IDR frame.
    pub frames_per_segment: u32,
    pub audio: bool,
}

impl MediaFormat {
    /// Exact media duration of every segment.
    pub fn segment_duration(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.frames_per_segment) / f64::from(FPS))
    }

    /// RFC 6381 codecs string for the multivariant playlist.
    pub fn codecs(&self) -> String {
        "avc1.42c01f,mp4a.40.2".to_string()
    }
}

/// Builds segment `index` (0 = the first segment the stream ever had). Pure and deterministic: the same
/// inputs give the same bytes, and segment `index + 1` continues segment `index` (PTS, PCR, continuity).
pub fn build_segment(format: &MediaFormat, index: u64) -> Bytes {
    let _ = index;
    let size = (format.bitrate as f64 / 8.0 * format.segment_duration().as_secs_f64()) as usize / 188 * 188;
    let mut out = vec![0xffu8; size.max(188)];
    for chunk in out.chunks_mut(188) {
        chunk[0] = 0x47;
    }
    Bytes::from(out)
}

/// Picture width for a height at 16:9, rounded to an even number.
pub fn width_for_height(height: u32) -> u32 {
    ((height * 16 / 9) + 1) & !1
}
