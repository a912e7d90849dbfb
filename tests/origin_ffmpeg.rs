//! The real binary's origin read by Debian's ffmpeg and ffprobe: identified as HLS with H.264, and read
//! live across many segments without a single error or warning. ffmpeg is installed by scripts/test.sh;
//! without it these tests fail, they do not skip.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Origin {
    child: Child,
    url: String,
}

impl Drop for Origin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_origin(args: &[&str]) -> Origin {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(["origin", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start hls-swarm origin");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("origin prints its URL");
    assert!(line.starts_with("http://127.0.0.1:"), "first line is the base URL: {line:?}");
    Origin { child, url: line.trim().to_string() }
}

fn tool(name: &str) -> Command {
    if Command::new(name).arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
        panic!("{name} is not installed: run scripts/test.sh, which installs Debian's ffmpeg");
    }
    Command::new(name)
}

#[test]
fn ffprobe_identifies_hls_with_h264_and_aac() {
    let origin = start_origin(&["--segment-duration", "0.5"]);
    let out = tool("ffprobe")
        .args(["-v", "error", "-show_entries", "format=format_name:stream=codec_name,width,height,avg_frame_rate"])
        .args(["-of", "compact"])
        .arg(format!("{}master.m3u8", origin.url))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffprobe failed: {err}");
    assert!(err.trim().is_empty(), "ffprobe complained: {err}");
    assert!(text.contains("format_name=hls"), "{text}");
    assert!(text.contains("codec_name=h264|width=1920|height=1080|avg_frame_rate=30/1"), "{text}");
    assert!(text.contains("codec_name=h264|width=640|height=360"), "{text}");
    assert!(text.contains("codec_name=aac"), "{text}");
}

#[test]
fn ffmpeg_reads_the_live_stream_without_a_warning() {
    // 0.5 s segments for 12 s of media: ffmpeg starts near the live edge and follows about 20 reloads.
    let origin = start_origin(&["--segment-duration", "0.5", "--window", "6"]);
    let started = std::time::Instant::now();
    let out = tool("ffmpeg")
        .args(["-nostdin", "-v", "warning", "-i"])
        .arg(format!("{}master.m3u8", origin.url))
        .args(["-map", "0", "-c", "copy", "-t", "12", "-f", "null", "-"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg failed: {err}");
    assert!(err.trim().is_empty(), "ffmpeg printed: {err}");
    assert!(started.elapsed() > Duration::from_secs(8), "read live, in real time");
}

#[test]
fn ffmpeg_decodes_every_frame_without_error() {
    let origin = start_origin(&["--segment-duration", "0.5", "--variants", "360p:400k", "--vod", "5"]);
    let url = format!("{}stream.m3u8", origin.url);
    let out = tool("ffmpeg").args(["-nostdin", "-v", "error", "-i", &url, "-f", "null", "-"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "decode errors: {err}");
    // What the origin made: 10 segments of 15 frames at 30 fps, and AAC frames of 1024 samples at
    // 48 kHz covering the 5 s (the last one starts before the end).
    let (video, audio) = (10 * 15, (5 * 48_000_u32).div_ceil(1024));
    let out = tool("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries", "stream=codec_type,nb_read_frames", "-of", "csv=p=0"])
        .arg(&url)
        .output()
        .unwrap();
    let counts = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<&str> = counts.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    // HLS gives a program: ffprobe lists its streams under it and again on their own.
    lines.sort_unstable();
    lines.dedup();
    assert_eq!(lines, [format!("audio,{audio}"), format!("video,{video}")], "frames decoded: {counts}");
}

/// ffmpeg decodes `path` of `origin` without a warning; ffprobe counts its frames: the sorted
/// `codec_type,frames` lines.
fn decode_and_count(origin: &Origin, path: &str) -> Vec<String> {
    let url = format!("{}{path}", origin.url);
    let out = tool("ffmpeg").args(["-nostdin", "-v", "warning", "-i", &url, "-f", "null", "-"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "{path}: {err}");
    let out = tool("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries", "stream=codec_type,nb_read_frames", "-of", "csv=p=0"])
        .arg(&url)
        .output()
        .unwrap();
    let counts = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<String> = counts.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    lines.sort_unstable();
    lines.dedup();
    lines
}

/// 3 s of VOD in 0.5 s segments, one 360p variant: 6 segments of 15 frames, and the AAC frames that
/// start before 3 s (ceil(3 * 48000 / 1024)).
const FORM_ARGS: [&str; 6] = ["--segment-duration", "0.5", "--variants", "360p:400k", "--vod", "3"];
const VIDEO: &str = "video,90";
const AUDIO: &str = "audio,141";

fn form(args: &[&str]) -> Origin {
    start_origin(&[&FORM_ARGS[..], args].concat())
}

#[test]
fn ffmpeg_decodes_the_fmp4_stream() {
    let origin = form(&["--container", "fmp4"]);
    assert_eq!(decode_and_count(&origin, "360p/stream.m3u8"), [AUDIO, VIDEO]);
}

#[test]
fn ffmpeg_decodes_the_audio_rendition_and_the_video_only_variant() {
    let origin = form(&["--audio-rendition"]);
    assert_eq!(decode_and_count(&origin, "360p/stream.m3u8"), [VIDEO]);
    assert_eq!(decode_and_count(&origin, "audio/stream.m3u8"), [AUDIO]);
    assert_eq!(decode_and_count(&origin, "master.m3u8"), [AUDIO, VIDEO], "the variant with its rendition");
}

#[test]
fn ffmpeg_decodes_byte_ranges() {
    let origin = form(&["--byterange", "4"]);
    assert_eq!(decode_and_count(&origin, "360p/stream.m3u8"), [AUDIO, VIDEO]);
}

#[test]
fn ffmpeg_decrypts_and_decodes_rotating_aes_128_keys() {
    let origin = form(&["--encrypt", "aes-128", "--key-rotation", "2"]);
    assert_eq!(decode_and_count(&origin, "360p/stream.m3u8"), [AUDIO, VIDEO]);
}

#[test]
fn ffmpeg_decodes_every_form_at_once() {
    // A key per resource: Debian's ffmpeg 5.1 sends a key request with the Range of the segment it is
    // for, so a key whose first segment is not at offset 0 of its resource gets a 416 (as from nginx).
    let all = ["--container", "fmp4", "--audio-rendition", "--byterange", "4", "--encrypt", "aes-128"];
    let origin = form(&[&all[..], &["--key-rotation", "4"]].concat());
    assert_eq!(decode_and_count(&origin, "360p/stream.m3u8"), [VIDEO]);
    assert_eq!(decode_and_count(&origin, "audio/stream.m3u8"), [AUDIO]);
}

#[test]
fn ffmpeg_reads_the_low_latency_stream_live_as_regular_hls() {
    // Parts, blocking reloads and preload hints are for low-latency players; FFmpeg plays the same
    // playlists by their whole segments, live, with the audio rendition beside the video.
    let args = ["--low-latency", "--segment-duration", "1", "--part-duration", "200ms", "--window", "4"];
    let origin = start_origin(&[&args[..], &["--variants", "360p:400k", "--audio-rendition"]].concat());
    let out = tool("ffmpeg")
        .args(["-nostdin", "-v", "warning", "-i"])
        .arg(format!("{}master.m3u8", origin.url))
        .args(["-map", "0", "-c", "copy", "-t", "4", "-f", "null", "-"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg failed: {err}");
    // FFmpeg 5.1 feeds a live fMP4 stream's init section to its demuxer again after a reload and says
    // so; it does the same without --low-latency (--container fmp4 live), and plays on.
    let noise = |l: &&str| l.contains("Found duplicated MOOV Atom") || l.contains("Last message repeated");
    let other: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty() && !noise(l)).collect();
    assert!(other.is_empty(), "ffmpeg printed: {err}");
}
