//! The fMP4 muxer checked with the real demuxers and decoder: needs `ffmpeg` and `ffprobe` on PATH
//! (`scripts/test.sh` installs them) and fails loudly without them. Each stream is written twice,
//! as one `.mp4` (init section, then the segments) and as an fMP4 HLS playlist with `EXT-X-MAP`,
//! and left in `$HLS_SWARM_MEDIA_DUMP` (default: the temp dir) for manual inspection.

use super::ffmpeg_check::run;
use super::{FPS, MediaFormat, build_fmp4_segment, build_init, layout};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const SEGMENTS: u64 = 5;

/// Writes segments `first..first + SEGMENTS` of `format`, each split into parts of
/// `frames_per_part` frames; returns the `.mp4` and the playlist.
fn dump(format: &MediaFormat, first: u64, frames_per_part: u32) -> (PathBuf, PathBuf) {
    let root = std::env::var_os("HLS_SWARM_MEDIA_DUMP").map_or_else(std::env::temp_dir, PathBuf::from);
    let name = format!(
        "fmp4-{}x{}-{}f-{}{}-p{frames_per_part}-from{first}",
        format.width,
        format.height,
        format.frames_per_segment,
        format.bitrate,
        if format.audio { "-aac" } else { "" }
    );
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("dump directory");
    let init = build_init(format);
    std::fs::write(dir.join("init.mp4"), &init).expect("write the init section");
    let duration = f64::from(format.frames_per_segment) / f64::from(FPS);
    let mut playlist = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{first}\n\
         #EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n",
        duration.ceil()
    );
    let mut whole = init.to_vec();
    for k in first..first + SEGMENTS {
        let segment = build_fmp4_segment(format, k, frames_per_part);
        std::fs::write(dir.join(format!("{k}.m4s")), &segment).expect("write a segment");
        whole.extend_from_slice(&segment);
        let _ = write!(playlist, "#EXTINF:{duration:.5},\n{k}.m4s\n");
    }
    playlist.push_str("#EXT-X-ENDLIST\n");
    let (mp4, m3u8) = (dir.join("stream.mp4"), dir.join("stream.m3u8"));
    std::fs::write(&mp4, whole).expect("write the mp4");
    std::fs::write(&m3u8, playlist).expect("write the playlist");
    (mp4, m3u8)
}

/// Video and audio frames in segments `first..first + SEGMENTS`.
fn expected_frames(format: &MediaFormat, first: u64) -> (u64, u64) {
    let frames = u64::from(format.frames_per_segment);
    let audio = layout::audio_frames_before((first + SEGMENTS) * frames) - layout::audio_frames_before(first * frames);
    (SEGMENTS * frames, if format.audio { audio } else { 0 })
}

fn check(format: &MediaFormat, path: &Path, first: u64) {
    let file = path.to_str().expect("utf-8 path");
    let (probe, _) = run("ffprobe", &["-v", "error", "-show_streams", file]);
    assert!(probe.contains("codec_name=h264"), "{probe}");
    assert!(probe.contains(&format!("width={}\n", format.width)), "{probe}");
    assert!(probe.contains(&format!("height={}\n", format.height)), "{probe}");
    assert!(probe.contains("r_frame_rate=30/1"), "{probe}");
    assert_eq!(probe.contains("codec_name=aac"), format.audio, "{probe}");
    let (_, decode) = run("ffmpeg", &["-nostdin", "-v", "warning", "-i", file, "-f", "null", "-"]);
    assert_eq!(decode, "", "full decode of {file}");
    // The HLS demuxer puts its streams in a program too, which lists them again: one line per index.
    let entries = ["-v", "error", "-count_frames", "-show_entries", "stream=index,codec_type,nb_read_frames"];
    let (counts, _) = run("ffprobe", &[&entries[..], &["-of", "csv=p=0", file]].concat());
    let mut lines: Vec<&str> = counts.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines.sort_unstable();
    lines.dedup();
    let (video, audio) = expected_frames(format, first);
    let mut expected = vec![format!("0,video,{video}")];
    if format.audio {
        expected.push(format!("1,audio,{audio}"));
    }
    assert_eq!(lines, expected, "frames decoded from {file}");
}

fn check_both(format: &MediaFormat, first: u64, frames_per_part: u32) {
    let (mp4, playlist) = dump(format, first, frames_per_part);
    check(format, &mp4, first);
    check(format, &playlist, first);
}

#[test]
fn ffmpeg_decodes_fmp4_cleanly() {
    let sizes = [(640, 360, 800_000), (854, 480, 1_400_000), (1920, 1080, 5_000_000)];
    for (width, height, bitrate) in sizes {
        for (frames_per_segment, frames_per_part) in [(1, 0), (6, 0), (60, 10)] {
            for audio in [true, false] {
                let format = MediaFormat { width, height, bitrate, frames_per_segment, audio };
                check_both(&format, 3, frames_per_part);
            }
        }
    }
    // One fragment per segment, and parts that do not divide the segment.
    for frames_per_part in [0, 7] {
        let format = MediaFormat { width: 854, height: 480, bitrate: 1_400_000, frames_per_segment: 60, audio: true };
        check_both(&format, 3, frames_per_part);
    }
    // Edges: 4K, a tiny picture, a low rate with short segments, a budget below what the pictures need.
    let edges = [(3840, 2160, 15_000_000, 60), (28, 16, 100_000, 30), (426, 240, 256_000, 3), (1920, 1080, 200_000, 3)];
    for (width, height, bitrate, frames_per_segment) in edges {
        let format = MediaFormat { width, height, bitrate, frames_per_segment, audio: true };
        check_both(&format, 3, 1);
    }
    // Video decode times pass 2^32 ticks (13 hours) here: tfdt needs its 64-bit version.
    let late = MediaFormat { width: 640, height: 360, bitrate: 800_000, frames_per_segment: 60, audio: true };
    check_both(&late, 47_719, 10);
}
