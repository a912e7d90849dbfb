//! The built-in origin in low-latency mode over real HTTP on 127.0.0.1:0 (1 s segments of five 200 ms
//! parts): blocking playlist reloads, preload hints, delta updates and parts, each playlist read back
//! with the viewer's own parser; counters per kind equal to what this client received; HTTP/2 with
//! prior knowledge on the same port; Debian's ffmpeg decodes the parts of a segment. No sleeps: each
//! wait is a held request of the origin's.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Client, Fetched};
use hls_swarm::hls::{self, MediaPlaylist, Playlist};
use hls_swarm::origin::{
    self, Container, FaultConfig, LowLatency, OriginConfig, OriginHandle, ServedKind, VariantSpec,
};
use url::Url;

const PART: Duration = Duration::from_millis(200);

fn config() -> OriginConfig {
    OriginConfig {
        variants: vec![
            VariantSpec { name: "360p".into(), height: 360, bitrate: 400_000 },
            VariantSpec { name: "720p".into(), height: 720, bitrate: 1_200_000 },
        ],
        segment_duration: Duration::from_secs(1),
        window: 10,
        container: Container::Fmp4,
        audio_rendition: true,
        low_latency: Some(LowLatency { part_duration: PART }),
        ..OriginConfig::local_default()
    }
}

/// A client that keeps what it received, per kind, to compare with the origin's counters.
struct Player {
    client: Client,
    base: Url,
    got: BTreeMap<&'static str, (u64, u64)>,
}

impl Player {
    async fn new(origin: &OriginHandle) -> Player {
        Player {
            client: Client::connect(origin.addr()).await,
            base: Url::parse(origin.url()).unwrap(),
            got: Default::default(),
        }
    }

    async fn fetch(&mut self, kind: ServedKind, url: &Url) -> Fetched {
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let r = self.client.get(&path).await;
        let entry = self.got.entry(kind.as_str()).or_default();
        entry.0 += 1;
        entry.1 += r.body.len() as u64;
        r
    }

    /// A media playlist, parsed without a warning; `query` adds delivery directives.
    async fn playlist(&mut self, path: &str, query: &str) -> MediaPlaylist {
        let mut url = self.base.join(path).unwrap();
        let kind = if query.contains("_HLS_msn") { ServedKind::BlockingPlaylist } else { ServedKind::MediaPlaylist };
        url.set_query(Some(query).filter(|q| !q.is_empty()));
        let r = self.fetch(kind, &url).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        parse(&r.body, &url)
    }

    fn assert_counters(&self, origin: &OriginHandle) {
        let c = origin.counters();
        for kind in ServedKind::ALL.into_iter().filter(|k| *k != ServedKind::Other) {
            let got = self.got.get(kind.as_str()).copied().unwrap_or_default();
            assert_eq!((c.requests_all(kind), c.body_bytes(kind)), got, "{} (requests, bytes)", kind.as_str());
        }
    }
}

fn parse(body: &[u8], url: &Url) -> MediaPlaylist {
    match hls::parse_playlist(body, url).expect("the playlist parses") {
        Playlist::Media(m) => {
            assert!(m.warnings.is_empty(), "{:?}", m.warnings);
            m
        }
        Playlist::Multivariant(_) => panic!("a multivariant playlist at {url}"),
    }
}

/// Whether `playlist` lists part `part` of segment `msn`.
fn lists_part(playlist: &MediaPlaylist, msn: u64, part: u64) -> bool {
    let parts = match playlist.segments.iter().find(|s| s.sequence == msn) {
        Some(segment) => &segment.parts,
        None if playlist.end_sequence() == msn => &playlist.pending_parts,
        None => return false,
    };
    parts.len() as u64 > part
}

/// The part the playlist's preload hint names: (msn, index).
fn hinted(playlist: &MediaPlaylist) -> (u64, u64) {
    (playlist.end_sequence(), playlist.pending_parts.len() as u64)
}

#[tokio::test]
async fn a_blocking_reload_is_held_until_its_part_exists() {
    let origin = origin::spawn(config()).await.unwrap();
    let mut player = Player::new(&origin).await;
    let started = Instant::now();
    let first = player.playlist("360p/stream.m3u8", "").await;
    let (msn, part) = hinted(&first);
    assert!(!lists_part(&first, msn, part));
    // The part after the hinted one: complete at least a part's duration after the first load.
    let (want_msn, want_part) = if part + 1 == 5 { (msn + 1, 0) } else { (msn, part + 1) };
    let query = format!("_HLS_msn={want_msn}&_HLS_part={want_part}");
    let held = player.playlist("360p/stream.m3u8", &query).await;
    assert!(started.elapsed() >= PART - Duration::from_millis(1), "held: {:?}", started.elapsed());
    assert!(lists_part(&held, want_msn, want_part), "the playlist holds {want_msn}.{want_part}");
    // A part index past the segment's last asks for the next segment's first part.
    let next = held.end_sequence();
    let past = player.playlist("360p/stream.m3u8", &format!("_HLS_msn={next}&_HLS_part=9")).await;
    assert!(lists_part(&past, next + 1, 0));
    // _HLS_msn alone waits for that segment to be complete.
    let segment = past.end_sequence();
    let whole = player.playlist("720p/stream.m3u8", &format!("_HLS_msn={segment}")).await;
    assert!(whole.segments.iter().any(|s| s.sequence == segment));
    // Already there: answered at once.
    player.playlist("audio/stream.m3u8", &format!("_HLS_msn={}&_HLS_part=0", segment - 3)).await;
    player.assert_counters(&origin);
    assert_eq!(origin.counters().requests(ServedKind::BlockingPlaylist, "200"), 4);
    origin.shutdown().await;
}

#[tokio::test]
async fn directives_too_far_ahead_or_malformed_are_400() {
    let origin = origin::spawn(config()).await.unwrap();
    let mut player = Player::new(&origin).await;
    let playlist = player.playlist("360p/stream.m3u8", "").await;
    // The last complete segment is end - 1: two past it is accepted, three are not.
    let too_far = playlist.end_sequence() + 2;
    let bad = [
        (ServedKind::BlockingPlaylist, format!("_HLS_msn={too_far}")),
        (ServedKind::BlockingPlaylist, format!("_HLS_msn={too_far}&_HLS_part=0")),
        (ServedKind::BlockingPlaylist, "_HLS_msn=x".to_string()),
        (ServedKind::MediaPlaylist, "_HLS_part=1".to_string()),
        (ServedKind::MediaPlaylist, "_HLS_skip=NO".to_string()),
    ];
    for (kind, query) in bad {
        let mut url = player.base.join("360p/stream.m3u8").unwrap();
        url.set_query(Some(&query));
        let r = player.fetch(kind, &url).await;
        assert_eq!(r.status, 400, "{query}: {}", r.text());
    }
    assert_eq!(origin.counters().requests(ServedKind::BlockingPlaylist, "400"), 3);
    assert_eq!(origin.counters().requests(ServedKind::MediaPlaylist, "400"), 2);
    player.assert_counters(&origin);
    origin.shutdown().await;
}

#[tokio::test]
async fn a_hinted_part_is_held_then_served_whole_and_parts_make_the_segment() {
    let origin = origin::spawn(config()).await.unwrap();
    let mut player = Player::new(&origin).await;
    let first = player.playlist("360p/stream.m3u8", "").await;
    // Wait for the first part of the next segment: then its other four are hinted one by one.
    let msn = first.end_sequence() + 1;
    let mut playlist = player.playlist("360p/stream.m3u8", &format!("_HLS_msn={msn}&_HLS_part=0")).await;
    let mut parts = vec![];
    let part0 = player.fetch(ServedKind::Part, &playlist.pending_parts[0].uri).await;
    assert_eq!(part0.status, 200);
    parts.push(part0.body);
    for j in 1..5u64 {
        let hint = playlist.preload_hints[0].uri.clone();
        assert!(hint.path().ends_with(&format!("part{msn:05}.{j}.m4s")), "{hint}");
        let r = player.fetch(ServedKind::PreloadHint, &hint).await;
        assert_eq!(r.status, 200, "{hint}");
        parts.push(r.body);
        if j < 4 {
            playlist = player.playlist("360p/stream.m3u8", &format!("_HLS_msn={msn}&_HLS_part={j}")).await;
            assert!(lists_part(&playlist, msn, j), "the hinted part is listed once complete");
        }
    }
    // The whole segment, once listed, is its parts one after another.
    let complete = player.playlist("360p/stream.m3u8", &format!("_HLS_msn={msn}")).await;
    let segment = complete.segments.iter().find(|s| s.sequence == msn).unwrap();
    assert_eq!(segment.parts.len(), 5);
    let whole = player.fetch(ServedKind::Segment, &segment.uri).await;
    assert_eq!(whole.body, Bytes::from(parts.concat()));
    // A part asked for again now exists: kind part, the same bytes.
    let again = player.fetch(ServedKind::Part, &segment.parts[2].uri).await;
    assert_eq!(again.body, parts[2]);
    // Neither existing nor hinted: 404.
    let ahead = player.base.join(&format!("360p/part{:05}.3.m4s", complete.end_sequence() + 1)).unwrap();
    assert_eq!(player.fetch(ServedKind::Part, &ahead).await.status, 404);
    let c = origin.counters();
    assert_eq!((c.requests(ServedKind::PreloadHint, "200"), c.requests(ServedKind::Part, "404")), (4, 1));
    player.assert_counters(&origin);
    origin.shutdown().await;
}

#[tokio::test]
async fn a_delta_update_skips_the_oldest_segments_and_applies_to_the_full_playlist() {
    let origin = origin::spawn(config()).await.unwrap();
    let mut player = Player::new(&origin).await;
    let full = player.playlist("720p/stream.m3u8", "").await;
    let control = full.server_control.clone().unwrap();
    assert_eq!((control.can_skip_until, control.part_hold_back), (Some(Duration::from_secs(6)), Some(PART * 3)));
    assert_eq!(full.part_target, Some(PART));
    assert_eq!(full.rendition_reports.len(), 2, "the other rung and the audio rendition");
    // Blocking on the segment after the full playlist's last, delta: its window starts one later.
    let next = full.end_sequence();
    let delta = player.playlist("720p/stream.m3u8", &format!("_HLS_msn={next}&_HLS_skip=YES")).await;
    assert_eq!(delta.skipped_segments, 4, "ten 1 s segments, a skip boundary of 6 s");
    let merged = hls::apply_delta(Some(&full), delta).expect("the delta applies to the playlist held");
    assert_eq!(merged.segments.len(), 10);
    assert!(merged.segments.iter().any(|s| s.sequence == next));
    let plain_delta = player.playlist("720p/stream.m3u8", "_HLS_skip=v2").await;
    assert_eq!(plain_delta.skipped_segments, 4);
    let c = origin.counters();
    assert_eq!((c.delta_playlists(), c.variant_delta_playlists("720p")), (2, 2));
    assert_eq!((c.requests_all(ServedKind::BlockingPlaylist), c.requests_all(ServedKind::MediaPlaylist)), (1, 2));
    let metrics = player.client.get("/metrics").await.text();
    assert_eq!(common::sample(&metrics, "hls_origin_delta_playlists_total{variant=\"720p\"}"), Some(2.0));
    player.assert_counters(&origin);
    origin.shutdown().await;
}

#[tokio::test]
async fn faults_apply_to_parts_hints_and_blocking_reloads() {
    let faults = FaultConfig { http_404: 1.0, ..Default::default() };
    let origin = origin::spawn(OriginConfig { faults, ..config() }).await.unwrap();
    let mut player = Player::new(&origin).await;
    let playlist = player.playlist("360p/stream.m3u8", "").await;
    let part = &playlist.segments.last().unwrap().parts[0].uri;
    assert_eq!(player.fetch(ServedKind::Part, part).await.status, 404);
    assert_eq!(player.fetch(ServedKind::PreloadHint, &playlist.preload_hints[0].uri).await.status, 404);
    let faults = FaultConfig { http_5xx: 1.0, ..Default::default() };
    let failing = origin::spawn(OriginConfig { faults, ..config() }).await.unwrap();
    let mut other = Player::new(&failing).await;
    let url = other.base.join("360p/stream.m3u8?_HLS_msn=1000000").unwrap();
    assert_eq!(other.fetch(ServedKind::BlockingPlaylist, &url).await.status, 503, "answered at once");
    let c = failing.counters();
    assert_eq!(c.requests(ServedKind::BlockingPlaylist, "503"), 1);
    player.assert_counters(&origin);
    other.assert_counters(&failing);
    origin.shutdown().await;
    failing.shutdown().await;
}

#[tokio::test]
async fn an_http2_client_with_prior_knowledge_gets_playlists_and_parts_over_one_connection() {
    use http_body_util::{BodyExt, Empty};
    let origin = origin::spawn(config()).await.unwrap();
    let stream = tokio::net::TcpStream::connect(origin.addr()).await.unwrap();
    let io = hyper_util::rt::TokioIo::new(stream);
    let (sender, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await.expect("h2c handshake");
    tokio::spawn(conn);
    let get = |path: String| {
        let mut sender = sender.clone();
        let uri = format!("{}{}", origin.url().trim_end_matches('/'), path);
        async move {
            let req = http::Request::get(uri).body(Empty::<Bytes>::new()).unwrap();
            let resp = sender.send_request(req).await.expect("response");
            assert_eq!(resp.version(), http::Version::HTTP_2);
            let status = resp.status().as_u16();
            (status, resp.into_body().collect().await.unwrap().to_bytes())
        }
    };
    let base = Url::parse(origin.url()).unwrap();
    let (status, master) = get("/master.m3u8".into()).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&master).contains("360p/stream.m3u8"));
    let url = base.join("360p/stream.m3u8").unwrap();
    let (_, body) = get(url.path().into()).await;
    let playlist = parse(&body, &url);
    let (msn, part) = hinted(&playlist);
    // A blocking reload and the hinted part side by side on one connection, with an init section.
    let blocking = get(format!("/360p/stream.m3u8?_HLS_msn={msn}&_HLS_part={part}"));
    let hint = get(playlist.preload_hints[0].uri.path().into());
    let init = get("/360p/init.mp4".into());
    let ((s1, held), (s2, hinted_part), (s3, _)) = tokio::join!(blocking, hint, init);
    assert_eq!((s1, s2, s3), (200, 200, 200));
    assert!(lists_part(&parse(&held, &url), msn, part));
    assert!(!hinted_part.is_empty());
    let c = origin.counters();
    assert_eq!(c.connections_total(), 1, "one connection");
    assert_eq!(c.requests(ServedKind::BlockingPlaylist, "200"), 1);
    assert_eq!(c.requests_all(ServedKind::Part) + c.requests_all(ServedKind::PreloadHint), 1);
    // HTTP/1.1 on the same port, unchanged.
    let mut client = Client::connect(origin.addr()).await;
    assert_eq!(client.get("/master.m3u8").await.body, master);
    origin.shutdown().await;
}

#[tokio::test]
async fn ffmpeg_decodes_the_init_section_and_the_parts_of_a_segment() {
    let origin = origin::spawn(config()).await.unwrap();
    let mut player = Player::new(&origin).await;
    let dir = std::env::temp_dir().join(format!("hls-swarm-llhls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (track, streams) in [("360p", "video,30"), ("audio", "audio,")] {
        let playlist = player.playlist(&format!("{track}/stream.m3u8"), "").await;
        let segment = playlist.segments.iter().rev().find(|s| !s.parts.is_empty()).unwrap();
        let mut bytes = player.fetch(ServedKind::Init, &segment.map.as_ref().unwrap().uri).await.body.to_vec();
        for part in &segment.parts {
            let r = player.fetch(ServedKind::Part, &part.uri).await;
            assert_eq!(r.status, 200);
            bytes.extend_from_slice(&r.body);
        }
        let file = dir.join(format!("{track}.mp4"));
        std::fs::write(&file, &bytes).unwrap();
        let file = file.to_str().unwrap();
        let decoded = std::process::Command::new(common::peers::program("ffmpeg"))
            .args(["-nostdin", "-v", "warning", "-i", file, "-f", "null", "-"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&decoded.stderr);
        assert!(decoded.status.success() && err.trim().is_empty(), "{track}: {err}");
        let probe = std::process::Command::new(common::peers::program("ffprobe"))
            .args([
                "-v",
                "error",
                "-count_frames",
                "-show_entries",
                "stream=codec_type,nb_read_frames",
                "-of",
                "csv=p=0",
                file,
            ])
            .output()
            .unwrap();
        let counts = String::from_utf8_lossy(&probe.stdout);
        assert!(counts.lines().any(|l| l.trim().starts_with(streams)), "{track}: {counts}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    player.assert_counters(&origin);
    origin.shutdown().await;
}
