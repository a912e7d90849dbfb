//! Checks with the real demuxer and decoder: needs `ffmpeg` and `ffprobe` on PATH (`scripts/test.sh`
//! installs them) and fails loudly without them. The streams are left in `$HLS_SWARM_MEDIA_DUMP`
//! (default: the temp dir) for manual inspection.

use super::{MediaFormat, build_segment};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `program args`; returns (stdout, stderr), failing loudly when the program is missing.
pub(super) fn run(program: &str, args: &[&str]) -> (String, String) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed for this test ({e}); install ffmpeg"));
    assert!(output.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Writes segments `first..first + 5` of `format` as one file, the way a player concatenates them.
fn dump(dir: &Path, format: &MediaFormat, first: u64) -> PathBuf {
    let name = format!(
        "{}x{}-{}f-{}{}-from{first}.ts",
        format.width,
        format.height,
        format.frames_per_segment,
        format.bitrate,
        if format.audio { "-aac" } else { "" }
    );
    let path = dir.join(name);
    let bytes: Vec<u8> = (first..first + 5).flat_map(|k| build_segment(format, k).to_vec()).collect();
    std::fs::write(&path, bytes).expect("write the dump");
    path
}

fn check(format: &MediaFormat, path: &Path) {
    let file = path.to_str().expect("utf-8 path");
    let (probe, _) = run("ffprobe", &["-v", "error", "-show_streams", file]);
    assert!(probe.contains("codec_name=h264"), "{probe}");
    assert!(probe.contains(&format!("width={}\n", format.width)), "{probe}");
    assert!(probe.contains(&format!("height={}\n", format.height)), "{probe}");
    assert!(probe.contains("r_frame_rate=30/1"), "{probe}");
    assert_eq!(probe.contains("codec_name=aac"), format.audio, "{probe}");
    let (_, decode) = run("ffmpeg", &["-nostdin", "-v", "error", "-i", file, "-f", "null", "-"]);
    assert_eq!(decode, "", "full decode of {file}");
    let (_, copy) = run("ffmpeg", &["-nostdin", "-v", "warning", "-i", file, "-c", "copy", "-f", "null", "-"]);
    assert_eq!(copy, "", "remux of {file}");
    let (_, debug) = run("ffmpeg", &["-nostdin", "-v", "debug", "-i", file, "-c", "copy", "-f", "null", "-"]);
    assert!(!debug.contains("Continuity check failed"), "{file}");
}

#[test]
fn ffmpeg_decodes_segments_cleanly() {
    let dir = std::env::var_os("HLS_SWARM_MEDIA_DUMP").map_or_else(std::env::temp_dir, PathBuf::from);
    std::fs::create_dir_all(&dir).expect("dump directory");
    let sizes = [(640, 360, 800_000), (854, 480, 1_400_000), (1920, 1080, 5_000_000)];
    for (width, height, bitrate) in sizes {
        for frames_per_segment in [1, 6, 60] {
            for audio in [true, false] {
                let format = MediaFormat { width, height, bitrate, frames_per_segment, audio };
                check(&format, &dump(&dir, &format, 3));
            }
        }
    }
    // Edges: 4K, a tiny picture, odd sizes (shown rounded up to even), a low rate with short segments.
    let edges = [(3840, 2160, 15_000_000, 60), (28, 16, 100_000, 30), (426, 240, 256_000, 3)];
    for (width, height, bitrate, frames_per_segment) in edges {
        let format = MediaFormat { width, height, bitrate, frames_per_segment, audio: true };
        check(&format, &dump(&dir, &format, 3));
    }
    let odd = MediaFormat { width: 27, height: 17, bitrate: 100_000, frames_per_segment: 30, audio: false };
    let even = MediaFormat { width: 28, height: 18, ..odd.clone() };
    check(&even, &dump(&dir, &odd, 3));
    // PTS and PCR wrap at 2^33 ticks (26.5 hours) during segment 47_721 of 2-second segments.
    let wrap = MediaFormat { width: 640, height: 360, bitrate: 800_000, frames_per_segment: 60, audio: true };
    check(&wrap, &dump(&dir, &wrap, 47_719));
}
