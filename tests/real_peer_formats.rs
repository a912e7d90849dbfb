//! Stream formats from a real packager through a real web server: Debian's FFmpeg writes each stream
//! during the test (fMP4 with an init section, byte ranges into one file, AES-128 with a key rotation,
//! audio as a rendition of its own),
//! Debian's nginx serves the files as they are, and the binary plays them as a user runs it. nginx's
//! access log is the other side's account: the report counts every request it logged, with the same
//! bytes, by kind; each viewer asks for each init section and each key once, and for each segment once
//! with the byte range its playlist gives.
//!
//! A form is the FFmpeg flags that write it and what its playlists must show; what a viewer must ask
//! for is read from FFmpeg's playlists. FFmpeg and nginx are installed by scripts/test.sh; without
//! them these tests fail, they do not skip.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use common::peers::{Logged, access_log, ffmpeg, nginx_static, www};

/// Viewers per run.
const CLIENTS: u64 = 3;

/// Each stream lasts 4 s. A viewer downloads all of a VOD this short at once (the default `--buffer`
/// is 30 s) and starts it over when it has played out, 4 s after its start: a 2 s run lets every viewer
/// fetch the whole stream once, and ends before any starts over.
const STREAM_SECONDS: f64 = 4.0;
const RUN: &str = "2s";

/// FFmpeg's arguments for `seconds` of a test picture and a tone (H.264 and AAC) as a VOD in 0.5 s
/// segments (a keyframe every 5 frames at 10 fps) behind a multivariant playlist, `master.m3u8`; `form`
/// ends with the media playlist's name.
fn encode(seconds: f64, form: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc=size=160x90:rate=10:duration={seconds}"),
        "-f",
        "lavfi",
        "-i",
        &format!("sine=frequency=440:duration={seconds}"),
    ]
    .map(str::to_owned)
    .into();
    let codecs = "-c:v libx264 -preset ultrafast -g 5 -keyint_min 5 -sc_threshold 0 -c:a aac -b:a 32k";
    let hls = "-f hls -hls_time 0.5 -hls_playlist_type vod -master_pl_name master.m3u8";
    args.extend(codecs.split(' ').chain(hls.split(' ')).chain(form.iter().copied()).map(str::to_owned));
    args
}

#[test]
fn fmp4_init_section_once_per_viewer() {
    let form = ["-hls_segment_type", "fmp4", "-hls_segment_filename", "s%d.m4s", "v.m3u8"];
    let played = play("fmp4", |dir| ffmpeg(dir, encode(STREAM_SECONDS, &form)));
    assert_eq!(played.stream.inits.len(), 1, "one EXT-X-MAP: {:#?}", played.stream);
    assert!(played.stream.segments.iter().all(|(uri, range)| uri.ends_with(".m4s") && range.is_none()));
    assert_eq!(played.kind("init").0, CLIENTS);
}

#[test]
fn byte_ranges_into_one_file_are_each_a_206() {
    let form = ["-hls_flags", "single_file", "v.m3u8"];
    let played = play("byterange", |dir| ffmpeg(dir, encode(STREAM_SECONDS, &form)));
    let files: BTreeSet<&str> = played.stream.segments.iter().map(|(uri, _)| uri.as_str()).collect();
    assert_eq!(files.len(), 1, "one media file: {:#?}", played.stream);
    let segments: Vec<&Logged> = played.log.iter().filter(|l| kind(&played.stream, l) == "segment").collect();
    assert_eq!(segments.len() as u64, CLIENTS * played.stream.segments.len() as u64);
    assert!(segments.iter().all(|l| l.range.is_some() && l.status == 206), "{segments:#?}");
}

/// FFmpeg's `-hls_flags periodic_rekey` rereads the key info file at each segment, so a rotation with
/// it depends on when the file is rewritten while FFmpeg runs. Two runs, the second appending to the
/// first's playlist (`append_list`) with the other key, give the same rotation every time.
#[test]
fn aes128_rotation_fetches_each_key_once_per_viewer() {
    let played = play("aes", |dir| {
        for (i, key) in ["k0", "k1"].into_iter().enumerate() {
            std::fs::write(dir.join(format!("{key}.key")), [i as u8 + 1; 16]).unwrap();
            let info = format!("{key}.keyinfo");
            std::fs::write(dir.join(&info), format!("{key}.key\n{key}.key\n")).unwrap();
            // periodic_rekey as a packager rotating keys runs it; the rotation itself is the second run's.
            let flags = if i == 0 { "periodic_rekey" } else { "periodic_rekey+append_list" };
            let mut form = vec!["-hls_key_info_file", &info, "-hls_segment_filename", "s%d.ts", "-hls_flags", flags];
            form.push("v.m3u8");
            ffmpeg(dir, encode(STREAM_SECONDS / 2.0, &form));
        }
    });
    assert_eq!(played.stream.keys.len(), 2, "the key rotates once: {:#?}", played.stream);
    assert_eq!(played.kind("key"), (2 * CLIENTS, 2 * 16 * CLIENTS));
}

/// Audio as its own rendition (`EXT-X-MEDIA` group `aud`), video-only variant: each viewer plays both,
/// each on its own playlist, segments and connection.
#[test]
fn a_separate_audio_rendition_is_played_beside_the_video() {
    let form = ["-var_stream_map", "v:0,agroup:aud a:0,agroup:aud", "-hls_segment_filename", "s%v_%d.ts", "v%v.m3u8"];
    let played = play("audio", |dir| ffmpeg(dir, encode(STREAM_SECONDS, &form)));
    assert_eq!(played.stream.playlists.len(), 2, "the variant and its audio rendition: {:#?}", played.stream);
    assert_eq!(played.kind("media_playlist").0, 2 * CLIENTS);
}

/// What a viewer that plays the stream once asks for, read from FFmpeg's playlists: paths as nginx
/// logs them, with the `Range` header a byte range becomes.
#[derive(Debug, Default)]
struct Stream {
    multivariant: String,
    /// The media playlists played: the first variant's, and the rendition of its audio group.
    playlists: Vec<String>,
    inits: BTreeSet<(String, Option<String>)>,
    keys: BTreeSet<String>,
    segments: Vec<(String, Option<String>)>,
}

impl Stream {
    fn read(www: &Path, multivariant: &str) -> Stream {
        let text = |path: &str| std::fs::read_to_string(www.join(&path[1..])).unwrap();
        let master = text(multivariant);
        let lines: Vec<&str> = master.lines().collect();
        let first = lines.iter().position(|l| l.starts_with("#EXT-X-STREAM-INF:")).expect("a variant");
        let mut playlists = vec![resolve(multivariant, lines[first + 1])];
        if let Some(group) = attribute(lines[first], "AUDIO") {
            let in_group = |l: &&str| {
                l.starts_with("#EXT-X-MEDIA:")
                    && attribute(l, "TYPE") == Some("AUDIO")
                    && attribute(l, "GROUP-ID") == Some(group)
            };
            let renditions: Vec<&str> = lines.iter().copied().filter(in_group).collect();
            let chosen = renditions.iter().find(|l| attribute(l, "DEFAULT") == Some("YES")).or(renditions.first());
            playlists.extend(chosen.and_then(|l| attribute(l, "URI")).map(|uri| resolve(multivariant, uri)));
        }
        let mut stream = Stream { multivariant: multivariant.to_owned(), ..Stream::default() };
        for playlist in &playlists {
            stream.read_media(playlist, &text(playlist));
        }
        stream.playlists = playlists;
        stream
    }

    fn read_media(&mut self, playlist: &str, text: &str) {
        let mut range = None;
        let mut end = 0;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if line.starts_with("#EXT-X-MAP:") {
                let uri = resolve(playlist, attribute(line, "URI").unwrap());
                self.inits.insert((uri, attribute(line, "BYTERANGE").map(|r| byte_range(r, &mut 0))));
            } else if line.starts_with("#EXT-X-KEY:") && attribute(line, "METHOD") != Some("NONE") {
                self.keys.insert(resolve(playlist, attribute(line, "URI").unwrap()));
            } else if let Some(r) = line.strip_prefix("#EXT-X-BYTERANGE:") {
                range = Some(byte_range(r, &mut end));
            } else if !line.starts_with('#') {
                self.segments.push((resolve(playlist, line), range.take()));
            }
        }
    }

    /// Each request once per viewer; the multivariant playlist once more (the run's first check).
    fn requests(&self) -> BTreeMap<(String, Option<String>), u64> {
        let once = self.playlists.iter().map(|p| (p.clone(), None)).chain([(self.multivariant.clone(), None)]);
        let once = once.chain(self.keys.iter().map(|k| (k.clone(), None)));
        let mut all: BTreeMap<_, u64> = once.chain(self.inits.iter().cloned()).map(|r| (r, CLIENTS)).collect();
        for segment in &self.segments {
            *all.entry(segment.clone()).or_default() += CLIENTS;
        }
        *all.get_mut(&(self.multivariant.clone(), None)).unwrap() += 1;
        all
    }
}

/// A URI in a playlist at `base` as a path on the server.
fn resolve(base: &str, uri: &str) -> String {
    url::Url::parse("http://nginx.test").unwrap().join(base).unwrap().join(uri).unwrap().path().to_owned()
}

/// An attribute's value in a tag's attribute list (RFC 8216 4.2), without its quotes.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag.split_once(':')?.1;
    while let Some((key, after)) = rest.split_once('=') {
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => quoted.split_once('"')?,
            None => after.split_once(',').unwrap_or((after, "")),
        };
        if key == name {
            return Some(value);
        }
        rest = next.trim_start_matches(',');
    }
    None
}

/// `<length>[@<offset>]` as a `Range` header value; without an offset the range follows the last one.
fn byte_range(text: &str, end: &mut u64) -> String {
    let (length, offset) = text.split_once('@').map_or((text, None), |(l, o)| (l, Some(o)));
    let length: u64 = length.parse().unwrap();
    let offset = offset.map_or(*end, |o| o.parse().unwrap());
    *end = offset + length;
    format!("bytes={offset}-{}", offset + length - 1)
}

/// The kind the report counts a logged request under, told by what the playlists say it is.
fn kind(stream: &Stream, logged: &Logged) -> &'static str {
    if logged.uri == stream.multivariant {
        "multivariant"
    } else if logged.uri.ends_with(".m3u8") {
        "media_playlist"
    } else if stream.inits.iter().any(|(uri, _)| *uri == logged.uri) {
        "init"
    } else if stream.keys.contains(&logged.uri) {
        "key"
    } else {
        "segment"
    }
}

/// One run against a form's stream: what was played, what nginx logged and the report.
struct Played {
    stream: Stream,
    log: Vec<Logged>,
    report: serde_json::Value,
}

impl Played {
    /// The report's request count and bytes of `kind`.
    fn kind(&self, kind: &str) -> (u64, u64) {
        let figures = &self.report["requests"][kind];
        (figures["count"].as_u64().unwrap_or(0), figures["bytes"].as_u64().unwrap_or(0))
    }
}

/// Writes the stream `name` with `write` (into its folder under nginx's root), plays it with the binary
/// and checks what every form must hold.
fn play(name: &str, write: impl FnOnce(&Path)) -> Played {
    let (nginx, port) = nginx_static();
    let dir = www(&nginx).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    write(&dir);
    let stream = Stream::read(&www(&nginx), &format!("/{name}/master.m3u8"));
    let report_path = nginx.dir.join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(["run", &format!("http://127.0.0.1:{port}{}", stream.multivariant), "--no-tui"])
        .args(["--clients", &CLIENTS.to_string(), "--ramp-rate", "50", "--duration", RUN])
        .args(["--metrics-addr", "none", "--report"])
        .arg(&report_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    common::validate_report(&report);
    let played = Played { stream, log: access_log(&nginx), report };
    check_requests(&played, &www(&nginx));
    check_playback(&played, &stderr);
    played
}

/// nginx served one play of the stream per viewer, nothing else, each answer whole; the report counts
/// the same requests and bytes by kind.
fn check_requests(played: &Played, www: &Path) {
    let Played { stream, log, .. } = played;
    let mut logged: BTreeMap<(String, Option<String>), u64> = BTreeMap::new();
    for l in log {
        *logged.entry((l.uri.clone(), l.range.clone())).or_default() += 1;
    }
    assert_eq!(logged, stream.requests(), "nginx's requests against one play per viewer of {stream:#?}");
    for l in log {
        let size = std::fs::metadata(www.join(&l.uri[1..])).unwrap().len();
        let (status, bytes) = match &l.range {
            Some(range) => {
                let (first, last) = range.strip_prefix("bytes=").and_then(|r| r.split_once('-')).unwrap();
                (206, last.parse::<u64>().unwrap() + 1 - first.parse::<u64>().unwrap())
            }
            None => (200, size),
        };
        assert_eq!((l.status, l.body_bytes), (status, bytes), "{l:?}");
    }
    for name in ["multivariant", "media_playlist", "segment", "init", "key", "part", "other"] {
        let of_kind = log.iter().filter(|l| kind(stream, l) == name);
        let expected = of_kind.fold((0, 0), |(n, bytes), l| (n + 1, bytes + l.body_bytes));
        assert_eq!(played.kind(name), expected, "{name}: the report's (count, bytes) against nginx's log");
        let ok = played.report["requests"][name]["ok"].as_u64().unwrap_or(0);
        assert_eq!(ok, expected.0, "{name}: every request answered in full");
    }
    // A viewer's track keeps one connection, and the run's first check has its own.
    let connections: BTreeSet<u64> = log.iter().map(|l| l.connection).collect();
    let expected = 1 + CLIENTS * stream.playlists.len() as u64;
    assert_eq!(connections.len() as u64, expected, "{log:#?}");
    assert_eq!(played.report["connections"]["opened"].as_u64(), Some(expected));
}

/// Every viewer played the whole stream once, without an error or a stall.
fn check_playback(played: &Played, stderr: &str) {
    let report = &played.report;
    let errors: u64 = report["errors"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(errors, 0, "{:#}\n{stderr}", report["errors"]);
    assert_eq!(report["playback"]["stall_count"].as_u64(), Some(0), "{:#}", report["playback"]);
    assert_eq!(report["clients"]["starts"].as_u64(), Some(CLIENTS), "{:#}", report["clients"]);
    assert_eq!(report["clients"]["restarts"].as_u64(), Some(0), "no viewer started over: {:#}", report["clients"]);
    let segments = CLIENTS * played.stream.segments.len() as u64;
    assert_eq!(report["segments"]["downloaded"].as_u64(), Some(segments), "{:#}", report["segments"]);
    assert_eq!(report["segments"]["skipped"].as_u64(), Some(0), "{:#}", report["segments"]);
}
