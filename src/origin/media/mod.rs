//! Synthetic media: H.264 video (and AAC audio) in MPEG-TS segments or CMAF fMP4 fragments, built
//! without an encoder.
//!
//! Written here rather than taken from a crate: the origin needs a tiny, deterministic generator of
//! valid bitstreams at an exact byte rate, not an encoder or a general muxer, and no crate does
//! that without pulling in codec libraries. The fMP4 side is written here for the same reason:
//! MP4 crates write boxes from samples an encoder made, while the origin must size every sample
//! to a byte budget and build any fragment of any segment alone, in closed form; the dozen
//! fixed-layout boxes that takes are a few hundred lines.
//!
//! - [`bits`]: bit writer, Exp-Golomb codes and NAL framing (H.264 7.4.1, Annex B);
//! - [`h264`]: parameter sets, flat-colour IDR and all-skip P access units, filler (H.264);
//! - [`aac`]: silent AAC-LC frames in ADTS (ISO/IEC 14496-3);
//! - [`ts`]: PAT, PMT, PES and transport packets (ISO/IEC 13818-1);
//! - [`layout`]: packet budget per frame and the closed forms (PTS, PCR, continuity counters) that
//!   make [`build_segment`] pure: segment `k` is computed alone yet continues segment `k - 1`;
//! - [`boxes`]: ISO base media file format box writing (ISO/IEC 14496-12);
//! - [`fmp4_init`]: the CMAF header, `ftyp` and `moov` ([`build_init`]);
//! - [`fmp4`]: `moof` + `mdat` fragments with the TS timestamps and byte rate
//!   ([`build_fmp4_segment`], and [`build_fmp4_part`] for LL-HLS parts; [`fragment_ranges`] finds
//!   the parts in a segment built in parts);
//! - [`rendition`]: what one playlist serves (audio and video muxed, or an audio-only rendition:
//!   [`build_audio_segment`], [`build_audio_init`], [`build_fmp4_audio_segment`]) in either
//!   container.

mod aac;
mod bits;
mod boxes;
mod fmp4;
mod fmp4_init;
mod h264;
mod layout;
mod rendition;
mod ts;

#[cfg(test)]
mod audio_tests;
#[cfg(test)]
mod boxparse;
#[cfg(test)]
mod ffmpeg_check;
#[cfg(test)]
mod ffmpeg_fmp4_check;
#[cfg(test)]
mod fmp4_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tsparse;

use bytes::Bytes;
use std::time::Duration;

pub use fmp4::{
    build_fmp4_audio_part, build_fmp4_audio_segment, build_fmp4_part, build_fmp4_segment, fragment_ranges, part_ranges,
};
pub use fmp4_init::{build_audio_init, build_init};
pub use rendition::{Container, Rendition};

use h264::{MAX_FRAME_NUM, VideoParams};
use layout::Layout;
use ts::{PES_HEADER_LEN, PcrMark};

/// Frame rate of the synthetic video.
pub const FPS: u32 = 30;
/// MPEG-TS clock ticks per second (PTS/DTS).
pub const TICKS_PER_SECOND: u64 = 90_000;

/// What one variant's segments look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaFormat {
    /// Picture size; odd values are rounded up to even (4:2:0 cropping works in pairs of samples).
    pub width: u32,
    pub height: u32,
    /// Total bits per second of the segment bodies (video + audio + TS overhead).
    pub bitrate: u64,
    /// Every segment holds this many video frames and starts with an IDR frame (0 counts as 1).
    pub frames_per_segment: u32,
    pub audio: bool,
}

impl MediaFormat {
    /// Exact media duration of every segment.
    pub fn segment_duration(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.frames_per_segment) / f64::from(FPS))
    }

    /// RFC 6381 codecs string for the multivariant playlist, e.g. `avc1.42e01f,mp4a.40.2`: the
    /// level is the one written in the SPS, so it follows the resolution and bit rate.
    pub fn codecs(&self) -> String {
        let video = h264::codecs_tag(&self.video_params());
        if self.audio { format!("{video},mp4a.40.2") } else { video }
    }

    fn video_params(&self) -> VideoParams {
        VideoParams::new(self.width, self.height, FPS, self.bitrate)
    }
}

/// Width of a 16:9 picture `height` lines high, rounded to the nearest even number
/// (360 -> 640, 480 -> 854, 1080 -> 1920).
pub fn width_for_height(height: u32) -> u32 {
    let half = (u64::from(height) * 16 + 9) / 18;
    (half * 2) as u32
}

/// Builds segment `index` (0 = the first segment the stream ever had). Pure and deterministic: the same
/// inputs give the same bytes, and segment `index + 1` continues segment `index` (PTS, PCR, continuity).
///
/// The segment is PAT, PMT, an IDR access unit (AUD, SPS, PPS, slice) and P access units, each video
/// frame followed by the audio frames that start during it, and null packets up to the byte budget.
/// Its size is `bitrate * duration / 8` rounded to whole packets, unless the pictures alone need more
/// (a very low bit rate for the resolution, e.g. 1080p below about 700 kbit/s with 0.1 s segments).
pub fn build_segment(format: &MediaFormat, index: u64) -> Bytes {
    let video = format.video_params();
    // Both idr_pic_id values are built so the packet plan (sized on the larger) is the same for
    // every segment; consecutive IDR pictures must differ in idr_pic_id (H.264 7.4.3). The colour
    // changes no size (see h264::write_pcm_mb).
    let colour = h264::segment_colour(index);
    let idrs = [h264::idr_access_unit(&video, 0, colour), h264::idr_access_unit(&video, 1, colour)];
    let p_units: Vec<Vec<u8>> = (0..MAX_FRAME_NUM).map(|n| h264::p_access_unit(&video, n)).collect();
    let adts = aac::silent_adts_frame();
    let idr_min = PES_HEADER_LEN + idrs.iter().map(Vec::len).max().unwrap_or(0);
    let p_min = PES_HEADER_LEN + p_units.iter().map(Vec::len).max().unwrap_or(0);
    let layout = Layout::new(format, idr_min, p_min, PES_HEADER_LEN + adts.len());

    let mut out = Vec::with_capacity(layout.total_packets as usize * ts::PACKET_LEN);
    let psi_cc = (index % 16) as u8;
    ts::write_pat(&mut out, psi_cc);
    ts::write_pmt(&mut out, psi_cc, true, format.audio);
    let mut video_cc = layout.video_cc(index);
    let mut audio_cc = layout.audio_cc(index);
    let mut pes = Vec::with_capacity(ts::payload_capacity(layout.idr_packets as usize, true));
    let first = layout.first_frame(index);
    for i in 0..layout.frames {
        let frame = first.wrapping_add(i);
        let au = match i {
            0 => &idrs[(index % 2) as usize],
            _ => &p_units[(i % u64::from(MAX_FRAME_NUM)) as usize],
        };
        let capacity = ts::payload_capacity(layout.frame_packets(i) as usize, true);
        video_pes(&mut pes, layout::video_pts(frame), au, capacity);
        let pcr_base = layout::video_pts(frame).wrapping_sub(layout::PCR_DELAY);
        let mark = PcrMark { pcr_base, random_access: i == 0 };
        video_cc = ts::write_pes_packets(&mut out, ts::VIDEO_PID, video_cc, &pes, Some(mark));
        if format.audio {
            for j in layout::audio_frames_before(frame)..layout::audio_frames_before(frame + 1) {
                pes.clear();
                ts::write_pes_header(&mut pes, ts::STREAM_ID_AUDIO, layout::audio_pts(j), Some(adts.len()));
                pes.extend_from_slice(&adts);
                audio_cc = ts::write_pes_packets(&mut out, ts::AUDIO_PID, audio_cc, &pes, None);
            }
        }
    }
    while out.len() < layout.total_packets as usize * ts::PACKET_LEN {
        ts::write_null_packet(&mut out);
    }
    Bytes::from(out)
}

/// Segment `index` of an audio-only rendition in MPEG-TS: PAT, a PMT listing only the AAC stream
/// (which carries the PCR), then one PES per AAC frame, each in its own packets with a PCR in the
/// first. It holds the audio frames segment `index` of a muxed stream holds (the same PTS), so an
/// audio rendition lines up with video-only variants. No null packets: its size follows its frame
/// count, which varies by one from segment to segment.
pub fn build_audio_segment(frames_per_segment: u32, index: u64) -> Bytes {
    let (first, end) = audio_span(frames_per_segment, index);
    let adts = aac::silent_adts_frame();
    let per_frame = ts::packets_needed(PES_HEADER_LEN + adts.len(), true) as u64;
    let mut out = Vec::with_capacity((2 + (end - first) * per_frame) as usize * ts::PACKET_LEN);
    let psi_cc = (index % 16) as u8;
    ts::write_pat(&mut out, psi_cc);
    ts::write_pmt(&mut out, psi_cc, false, true);
    let mut cc = ((first % 16) * (per_frame % 16) % 16) as u8;
    let mut pes = Vec::with_capacity(PES_HEADER_LEN + adts.len());
    for j in first..end {
        pes.clear();
        ts::write_pes_header(&mut pes, ts::STREAM_ID_AUDIO, layout::audio_pts(j), Some(adts.len()));
        pes.extend_from_slice(&adts);
        let mark = PcrMark { pcr_base: layout::audio_pts(j).wrapping_sub(layout::PCR_DELAY), random_access: true };
        cc = ts::write_pes_packets(&mut out, ts::AUDIO_PID, cc, &pes, Some(mark));
    }
    Bytes::from(out)
}

/// The global numbers `first..end` of the audio frames of segment `index` (the split
/// [`layout::audio_frames_before`] makes: by PTS).
fn audio_span(frames_per_segment: u32, index: u64) -> (u64, u64) {
    let frames = u64::from(frames_per_segment.max(1));
    let first = layout::audio_frames_before(index.wrapping_mul(frames));
    let end = layout::audio_frames_before(index.wrapping_add(1).wrapping_mul(frames));
    (first, end.max(first))
}

/// Fills `pes` with a video PES packet of exactly `capacity` bytes (the payload of the frame's
/// packets): header, access unit, then a filler NAL unit for the rest. A rest too short for a
/// filler NAL unit stays as adaptation-field stuffing in the last packet.
fn video_pes(pes: &mut Vec<u8>, pts: u64, access_unit: &[u8], capacity: usize) {
    pes.clear();
    ts::write_pes_header(pes, ts::STREAM_ID_VIDEO, pts, None);
    pes.extend_from_slice(access_unit);
    debug_assert!(pes.len() <= capacity, "the layout reserves room for the largest access unit");
    let rest = capacity.saturating_sub(pes.len());
    if rest >= h264::MIN_FILLER_LEN {
        h264::write_filler(pes, rest);
    }
}
