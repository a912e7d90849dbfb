//! What one media playlist's segments carry, in either container: the one place that picks a muxer.

use bytes::Bytes;

use super::fmp4::{build_fmp4_audio_part, frame_ranges};
use super::{FPS, MediaFormat, build_audio_init, build_audio_segment, build_fmp4_segment, build_init, build_segment};

/// How segments are packaged: MPEG-TS (RFC 8216 3.2) or fragmented MP4 with an init section
/// (3.3, CMAF).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Container {
    #[default]
    Ts,
    Fmp4,
}

impl Container {
    /// The segment file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Ts => "ts",
            Self::Fmp4 => "m4s",
        }
    }

    /// The Content-Type of segments (and of the init section, for fMP4).
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Ts => "video/mp2t",
            Self::Fmp4 => "video/mp4",
        }
    }
}

/// The streams of one playlist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rendition {
    /// A video variant, with its audio muxed in when `audio` is set.
    Muxed(MediaFormat),
    /// An audio-only rendition (EXT-X-MEDIA TYPE=AUDIO): the AAC frames the muxed segments would
    /// hold, segment for segment.
    AudioOnly { frames_per_segment: u32 },
}

impl Rendition {
    /// Segment `index` (0 = the first the stream ever had); pure, as the muxers are.
    pub fn segment(&self, container: Container, index: u64) -> Bytes {
        self.segment_in_parts(container, index, 0)
    }

    /// Segment `index`, in fMP4 a fragment per `frames_per_part` video frames (an LL-HLS part each;
    /// 0: one fragment). MPEG-TS segments are never split.
    pub fn segment_in_parts(&self, container: Container, index: u64, frames_per_part: u32) -> Bytes {
        match (self, container) {
            (Self::Muxed(f), Container::Ts) => build_segment(f, index),
            (Self::Muxed(f), Container::Fmp4) => build_fmp4_segment(f, index, frames_per_part),
            (Self::AudioOnly { frames_per_segment }, Container::Ts) => build_audio_segment(*frames_per_segment, index),
            (Self::AudioOnly { frames_per_segment }, Container::Fmp4) => {
                let parts = frame_ranges(*frames_per_segment, frames_per_part);
                match parts.as_slice() {
                    [one] => build_fmp4_audio_part(*frames_per_segment, index, one.clone()),
                    _ => {
                        let each = parts.into_iter().map(|r| build_fmp4_audio_part(*frames_per_segment, index, r));
                        Bytes::from(each.flat_map(|p| p.to_vec()).collect::<Vec<u8>>())
                    }
                }
            }
        }
    }

    /// The fMP4 init section (EXT-X-MAP).
    pub fn init(&self) -> Bytes {
        match self {
            Self::Muxed(f) => build_init(f),
            Self::AudioOnly { .. } => build_audio_init(),
        }
    }

    /// Peak bits per second of an audio-only rendition's segments, for the BANDWIDTH of the
    /// variants that play it (RFC 8216 4.3.4.2: the sum over a playable combination of renditions).
    /// Segments repeat their frame counts every 16 segments at most (1920 / gcd(3000 x frames, 1920)),
    /// so the largest of the first 16 is the largest of all.
    /// With parts (`frames_per_part`, as [`Self::segment_in_parts`]) each part adds its boxes.
    pub fn audio_peak_bitrate(frames_per_segment: u32, container: Container, frames_per_part: u32) -> u64 {
        let audio = Self::AudioOnly { frames_per_segment };
        let largest =
            (0..16).map(|k| audio.segment_in_parts(container, k, frames_per_part).len() as u64).max().unwrap_or(0);
        let frames = u64::from(frames_per_segment.max(1));
        (largest * 8 * u64::from(FPS)).div_ceil(frames)
    }
}
