//! The CMAF header (ISO/IEC 23000-19 7.3.2.1): `ftyp` and a `moov` with one track per stream and
//! no samples, `mvex`/`trex` announcing that the samples come in movie fragments (ISO/IEC 14496-12
//! 8.8). Box layouts follow ISO/IEC 14496-12 section 8; the sample entries ISO/IEC 14496-15 (`avc1`,
//! `avcC`) and ISO/IEC 14496-14 (`mp4a`, `esds`).

use bytes::{BufMut, Bytes};

use super::boxes::{write_box, write_full_box, write_unity_matrix};
use super::h264::{self, VideoParams};
use super::{MediaFormat, aac, fmp4};

/// Track IDs: video first, so a video-only init has the same video track as one with audio.
pub const VIDEO_TRACK: u32 = 1;
pub const AUDIO_TRACK: u32 = 2;
/// `mvhd` timescale; the movie has no duration of its own (every sample is in a fragment).
const MOVIE_TIMESCALE: u32 = 1000;
/// ISO 639-2/T "und" packed in three 5-bit letters (8.4.2.3): undetermined language.
const LANGUAGE_UND: u16 = (((b'u' - 0x60) as u16) << 10) | (((b'n' - 0x60) as u16) << 5) | (b'd' - 0x60) as u16;

/// The init section of `format`'s variant: what an `EXT-X-MAP` names (RFC 8216 4.3.2.5). It
/// depends only on the picture size, the level and whether there is audio, never on time.
pub fn build_init(format: &MediaFormat) -> Bytes {
    write_init(Some(&format.video_params()), format.audio)
}

/// The init section of an audio-only rendition: the audio track alone, with the same track ID
/// ([`AUDIO_TRACK`]) as in a muxed init, so its fragments are written the same way.
pub fn build_audio_init() -> Bytes {
    write_init(None, true)
}

fn write_init(video: Option<&VideoParams>, audio: bool) -> Bytes {
    let mut out = Vec::with_capacity(768);
    write_ftyp(&mut out);
    write_box(&mut out, b"moov", |out| {
        let next_track = if audio { AUDIO_TRACK + 1 } else { VIDEO_TRACK + 1 };
        write_mvhd(out, next_track);
        if let Some(video) = video {
            write_video_trak(out, video);
        }
        if audio {
            write_audio_trak(out);
        }
        write_box(out, b"mvex", |out| {
            if video.is_some() {
                write_trex(out, VIDEO_TRACK);
            }
            if audio {
                write_trex(out, AUDIO_TRACK);
            }
        });
    });
    Bytes::from(out)
}

/// `ftyp` (4.3): ISO base media version 6 (the `tfdt` and default-base-is-moof fragments) and the
/// CMAF structural brand `cmfc` (ISO/IEC 23000-19 7.2).
fn write_ftyp(out: &mut Vec<u8>) {
    write_box(out, b"ftyp", |out| {
        out.put_slice(b"iso6"); // major_brand
        out.put_u32(0); // minor_version
        for brand in [b"iso6", b"cmfc"] {
            out.put_slice(brand);
        }
    });
}

/// `mvhd` (8.2.2), version 0, all times zero: a live presentation of unknown duration.
fn write_mvhd(out: &mut Vec<u8>, next_track_id: u32) {
    write_full_box(out, b"mvhd", 0, 0, |out| {
        out.put_u32(0); // creation_time
        out.put_u32(0); // modification_time
        out.put_u32(MOVIE_TIMESCALE);
        out.put_u32(0); // duration
        out.put_u32(0x0001_0000); // rate 1.0
        out.put_u16(0x0100); // volume 1.0
        out.put_bytes(0, 2 + 8); // reserved
        write_unity_matrix(out);
        out.put_bytes(0, 6 * 4); // pre_defined
        out.put_u32(next_track_id);
    });
}

/// `tkhd` (8.3.2), version 0, flags track_enabled | track_in_movie; `size` is (width, height) of a
/// visual track, (0, 0) for audio.
fn write_tkhd(out: &mut Vec<u8>, track_id: u32, size: (u32, u32)) {
    write_full_box(out, b"tkhd", 0, 0x3, |out| {
        out.put_u32(0); // creation_time
        out.put_u32(0); // modification_time
        out.put_u32(track_id);
        out.put_u32(0); // reserved
        out.put_u32(0); // duration
        out.put_bytes(0, 8); // reserved
        out.put_u16(0); // layer
        out.put_u16(0); // alternate_group
        out.put_u16(if size == (0, 0) { 0x0100 } else { 0 }); // volume: 1.0 for audio
        out.put_u16(0); // reserved
        write_unity_matrix(out);
        out.put_u32(size.0 << 16); // width, 16.16 fixed point
        out.put_u32(size.1 << 16); // height
    });
}

/// `mdia` (8.4) with `mdhd` (timescale, language "und"), `hdlr` and the media information box
/// that `minf` writes.
fn write_mdia(out: &mut Vec<u8>, timescale: u32, handler: &[u8; 4], name: &str, minf: impl FnOnce(&mut Vec<u8>)) {
    write_box(out, b"mdia", |out| {
        write_full_box(out, b"mdhd", 0, 0, |out| {
            out.put_u32(0); // creation_time
            out.put_u32(0); // modification_time
            out.put_u32(timescale);
            out.put_u32(0); // duration
            out.put_u16(LANGUAGE_UND);
            out.put_u16(0); // pre_defined
        });
        write_full_box(out, b"hdlr", 0, 0, |out| {
            out.put_u32(0); // pre_defined
            out.put_slice(handler);
            out.put_bytes(0, 12); // reserved
            out.put_slice(name.as_bytes());
            out.put_u8(0);
        });
        write_box(out, b"minf", minf);
    });
}

/// `dinf` with a self-contained `url ` (8.7.1, 8.7.2), and `stbl` (8.5) holding the one sample
/// entry and empty sample tables: the samples are all in fragments.
fn write_dinf_stbl(out: &mut Vec<u8>, sample_entry: impl FnOnce(&mut Vec<u8>)) {
    write_box(out, b"dinf", |out| {
        write_full_box(out, b"dref", 0, 0, |out| {
            out.put_u32(1); // entry_count
            write_full_box(out, b"url ", 0, 0x1, |_| {}); // flag 1: media data in the same file
        });
    });
    write_box(out, b"stbl", |out| {
        write_full_box(out, b"stsd", 0, 0, |out| {
            out.put_u32(1); // entry_count
            sample_entry(out);
        });
        for kind in [b"stts", b"stsc", b"stco"] {
            write_full_box(out, kind, 0, 0, |out| out.put_u32(0)); // entry_count
        }
        write_full_box(out, b"stsz", 0, 0, |out| out.put_bytes(0, 8)); // sample_size, sample_count
    });
}

fn write_video_trak(out: &mut Vec<u8>, video: &VideoParams) {
    let (width, height) = (video.width(), video.height());
    write_box(out, b"trak", |out| {
        write_tkhd(out, VIDEO_TRACK, (width, height));
        write_mdia(out, fmp4::VIDEO_TIMESCALE, b"vide", "VideoHandler", |out| {
            write_full_box(out, b"vmhd", 0, 0x1, |out| out.put_bytes(0, 8)); // graphicsmode, opcolor
            write_dinf_stbl(out, |out| write_avc1(out, video));
        });
    });
}

/// `avc1` VisualSampleEntry (ISO/IEC 14496-12 12.1.3, ISO/IEC 14496-15 5.4.2) with its `avcC`.
fn write_avc1(out: &mut Vec<u8>, video: &VideoParams) {
    write_box(out, b"avc1", |out| {
        out.put_bytes(0, 6); // reserved
        out.put_u16(1); // data_reference_index
        out.put_bytes(0, 16); // pre_defined, reserved, pre_defined[3]
        out.put_u16(u16::try_from(video.width()).unwrap_or(u16::MAX));
        out.put_u16(u16::try_from(video.height()).unwrap_or(u16::MAX));
        out.put_u32(0x0048_0000); // horizresolution 72 dpi
        out.put_u32(0x0048_0000); // vertresolution
        out.put_u32(0); // reserved
        out.put_u16(1); // frame_count
        out.put_bytes(0, 32); // compressorname: empty
        out.put_u16(0x0018); // depth: colour, no alpha
        out.put_i16(-1); // pre_defined
        write_box(out, b"avcC", |out| write_avc_config(out, video));
    });
}

/// AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1): profile, compatibility and level
/// copied from the SPS, 4-byte NAL unit lengths, one SPS and one PPS.
fn write_avc_config(out: &mut Vec<u8>, video: &VideoParams) {
    let sps = h264::sps_nal(video);
    let pps = h264::pps_nal();
    out.put_u8(1); // configurationVersion
    out.put_slice(&sps[1..4]); // AVCProfileIndication, profile_compatibility, AVCLevelIndication
    out.put_u8(0xFC | 3); // '111111' lengthSizeMinusOne 3
    out.put_u8(0xE0 | 1); // '111' numOfSequenceParameterSets
    out.put_u16(sps.len() as u16);
    out.put_slice(&sps);
    out.put_u8(1); // numOfPictureParameterSets
    out.put_u16(pps.len() as u16);
    out.put_slice(&pps);
}

fn write_audio_trak(out: &mut Vec<u8>) {
    write_box(out, b"trak", |out| {
        write_tkhd(out, AUDIO_TRACK, (0, 0));
        write_mdia(out, aac::SAMPLE_RATE, b"soun", "SoundHandler", |out| {
            write_full_box(out, b"smhd", 0, 0, |out| out.put_bytes(0, 4)); // balance, reserved
            write_dinf_stbl(out, write_mp4a);
        });
    });
}

/// `mp4a` AudioSampleEntry (ISO/IEC 14496-12 12.2.3, ISO/IEC 14496-14 5.6) with its `esds`.
fn write_mp4a(out: &mut Vec<u8>) {
    write_box(out, b"mp4a", |out| {
        out.put_bytes(0, 6); // reserved
        out.put_u16(1); // data_reference_index
        out.put_bytes(0, 8); // reserved
        out.put_u16(2); // channelcount
        out.put_u16(16); // samplesize
        out.put_u32(0); // pre_defined, reserved
        out.put_u32(aac::SAMPLE_RATE << 16); // samplerate, 16.16 fixed point
        write_full_box(out, b"esds", 0, 0, write_es_descriptor);
    });
}

/// ES_Descriptor (ISO/IEC 14496-1 7.2.6.5) holding the DecoderConfigDescriptor (7.2.6.6: AAC,
/// audio stream), the AudioSpecificConfig as DecoderSpecificInfo and an SLConfigDescriptor
/// (predefined 2, as MP4 files require). Every descriptor is shorter than 128 bytes, so each size
/// takes one byte (8.3.3).
fn write_es_descriptor(out: &mut Vec<u8>) {
    let config = aac::audio_specific_config();
    let frame_bits = 8 * aac::silent_raw_frame().len() as u32;
    let bitrate = frame_bits * aac::SAMPLE_RATE / aac::SAMPLES_PER_FRAME;
    let decoder_config_len = 13 + 2 + config.len();
    out.put_u8(0x03); // ES_DescrTag
    out.put_u8((3 + 2 + decoder_config_len + 2 + 1) as u8);
    out.put_u16(AUDIO_TRACK as u16); // ES_ID
    out.put_u8(0); // no dependency, URL or OCR stream; streamPriority 0
    out.put_u8(0x04); // DecoderConfigDescrTag
    out.put_u8(decoder_config_len as u8);
    out.put_u8(0x40); // objectTypeIndication: Audio ISO/IEC 14496-3
    out.put_u8((0x05 << 2) | 1); // streamType audio, upStream 0, reserved 1
    out.put_uint(u64::from(frame_bits / 8), 3); // bufferSizeDB: one frame
    out.put_u32(bitrate); // maxBitrate
    out.put_u32(bitrate); // avgBitrate
    out.put_u8(0x05); // DecSpecificInfoTag
    out.put_u8(config.len() as u8);
    out.put_slice(&config);
    out.put_u8(0x06); // SLConfigDescrTag
    out.put_u8(1);
    out.put_u8(2); // predefined: reserved for MP4 files
}

/// `trex` (8.8.3): the first sample description; fragments give durations, sizes and flags.
fn write_trex(out: &mut Vec<u8>, track_id: u32) {
    write_full_box(out, b"trex", 0, 0, |out| {
        out.put_u32(track_id);
        out.put_u32(1); // default_sample_description_index
        out.put_bytes(0, 12); // default_sample_duration, _size, _flags
    });
}
