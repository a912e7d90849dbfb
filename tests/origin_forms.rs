//! The origin's stream forms over real HTTP on 127.0.0.1:0 (fMP4, an audio rendition, byte ranges,
//! AES-128, and all at once): each playlist read back with the viewer's own parser, every file a player
//! would fetch fetched, and the origin's counters per kind equal to what this client received.

mod common;

use std::time::Duration;

use common::{Client, Fetched};
use hls_swarm::hls::{self, MediaPlaylist, MultivariantPlaylist, Playlist, crypto};
use hls_swarm::origin::{
    self, Container, Encryption, FaultConfig, OriginConfig, OriginHandle, ServedKind, VariantSpec,
};
use url::Url;

fn vod() -> OriginConfig {
    OriginConfig {
        variants: vec![
            VariantSpec { name: "360p".into(), height: 360, bitrate: 400_000 },
            VariantSpec { name: "720p".into(), height: 720, bitrate: 1_200_000 },
        ],
        segment_duration: Duration::from_millis(200),
        vod: Some(Duration::from_secs(2)),
        ..OriginConfig::local_default()
    }
}

/// A client that keeps what it received, per kind, to compare with the origin's counters.
struct Player {
    client: Client,
    base: Url,
    /// (requests, body bytes) by kind.
    got: std::collections::BTreeMap<&'static str, (u64, u64)>,
}

impl Player {
    async fn new(origin: &OriginHandle) -> Player {
        let base = Url::parse(origin.url()).unwrap();
        Player { client: Client::connect(origin.addr()).await, base, got: Default::default() }
    }

    async fn fetch(&mut self, kind: ServedKind, url: &Url, range: Option<String>) -> Fetched {
        let headers: Vec<(&str, &str)> = range.iter().map(|r| ("range", r.as_str())).collect();
        let r = self.client.request("GET", url.path(), &headers).await;
        let entry = self.got.entry(kind.as_str()).or_default();
        entry.0 += 1;
        entry.1 += r.body.len() as u64;
        r
    }

    async fn multivariant(&mut self) -> (MultivariantPlaylist, String) {
        let url = self.base.join("master.m3u8").unwrap();
        let r = self.fetch(ServedKind::Multivariant, &url, None).await;
        assert_eq!(r.status, 200);
        match hls::parse_playlist(&r.body, &url).expect("the multivariant playlist parses") {
            Playlist::Multivariant(m) => (m, r.text()),
            Playlist::Media(_) => panic!("a media playlist at master.m3u8"),
        }
    }

    async fn media(&mut self, url: &Url) -> (MediaPlaylist, String) {
        let r = self.fetch(ServedKind::MediaPlaylist, url, None).await;
        assert_eq!(r.status, 200, "{url}");
        match hls::parse_playlist(&r.body, url).expect("the media playlist parses") {
            Playlist::Media(m) => {
                assert!(m.warnings.is_empty(), "{:?}", m.warnings);
                (m, r.text())
            }
            Playlist::Multivariant(_) => panic!("a multivariant playlist at {url}"),
        }
    }

    /// Segment `n` of `playlist` as a player fetches it: its byte range when it has one.
    async fn segment(&mut self, playlist: &MediaPlaylist, n: usize) -> Fetched {
        let s = &playlist.segments[n];
        let r = self.fetch(ServedKind::Segment, &s.uri, s.byte_range.map(hls::range_header)).await;
        let status = if s.byte_range.is_some() { 206 } else { 200 };
        assert_eq!(r.status, status, "{}", s.uri);
        if let Some(range) = s.byte_range {
            assert_eq!(r.body.len() as u64, range.length);
        }
        r
    }

    /// The origin's counters per kind equal what this client received (the playlists, init sections,
    /// keys and segments it fetched, and their bytes).
    fn assert_counted(&self, origin: &OriginHandle) {
        let c = origin.counters();
        for kind in ServedKind::ALL.into_iter().filter(|k| *k != ServedKind::Other) {
            let (requests, bytes) = self.got.get(kind.as_str()).copied().unwrap_or_default();
            assert_eq!((c.requests_all(kind), c.body_bytes(kind)), (requests, bytes), "{}", kind.as_str());
        }
    }
}

/// The PIDs of a transport stream's packets, null packets left out.
fn pids(ts: &[u8]) -> std::collections::BTreeSet<u16> {
    assert_eq!(ts.len() % 188, 0);
    ts.chunks(188).map(|p| u16::from_be_bytes([p[1], p[2]]) & 0x1FFF).filter(|pid| *pid != 0x1FFF).collect()
}

fn box_type(mp4: &[u8]) -> &[u8] {
    &mp4[4..8]
}

#[tokio::test]
async fn fmp4_variants_have_an_init_section_each() {
    let origin = origin::spawn(OriginConfig { container: Container::Fmp4, ..vod() }).await.unwrap();
    let mut player = Player::new(&origin).await;
    let (master, _) = player.multivariant().await;
    assert!(master.variants.iter().all(|v| v.codecs.as_deref().is_some_and(|c| c.ends_with(",mp4a.40.2"))));
    let (playlist, text) = player.media(&master.variants[1].uri).await;
    assert!(text.contains("#EXT-X-VERSION:7\n") && text.contains("#EXT-X-MAP:URI=\"init.mp4\"\n"), "{text}");
    let map = playlist.segments[0].map.clone().expect("EXT-X-MAP");
    assert_eq!(map.uri.path(), "/720p/init.mp4");
    assert!(playlist.segments.iter().all(|s| s.uri.path().ends_with(".m4s") && s.map == Some(map.clone())));
    let init = player.fetch(ServedKind::Init, &map.uri, None).await;
    assert_eq!((init.status, box_type(&init.body)), (200, &b"ftyp"[..]));
    assert_eq!(init.headers["content-type"], "video/mp4");
    let segment = player.segment(&playlist, 3).await;
    assert_eq!(box_type(&segment.body), b"moof");
    player.assert_counted(&origin);
    let mut other = Client::connect(origin.addr()).await;
    assert_eq!(other.get("/720p/seg00003.ts").await.status, 404, "no TS name in an fMP4 stream");
    origin.shutdown().await;
}

#[tokio::test]
async fn the_audio_rendition_has_its_own_playlist_and_counter_label() {
    let origin = origin::spawn(OriginConfig { audio_rendition: true, ..vod() }).await.unwrap();
    let mut player = Player::new(&origin).await;
    let (master, text) = player.multivariant().await;
    assert_eq!(master.renditions.len(), 1, "{text}");
    let audio = &master.renditions[0];
    assert_eq!((audio.group_id.as_str(), audio.name.as_str(), audio.default), ("aud", "English", true));
    assert!(master.variants.iter().all(|v| v.audio.as_deref() == Some("aud")), "{text}");
    assert!(master.variants[0].bandwidth > 400_000, "BANDWIDTH counts the audio: {text}");
    let audio_uri = audio.uri.clone().expect("a URI");
    assert_eq!(audio_uri.path(), "/audio/stream.m3u8");
    let (video, _) = player.media(&master.variants[0].uri).await;
    let (sound, _) = player.media(&audio_uri).await;
    assert_eq!(video.segments.len(), sound.segments.len());
    let v = player.segment(&video, 2).await;
    let a = player.segment(&sound, 2).await;
    assert_eq!(pids(&v.body), [0, 0x100, 0x1000].into(), "video only");
    assert_eq!(pids(&a.body), [0, 0x101, 0x1000].into(), "audio only");
    player.assert_counted(&origin);
    let c = origin.counters();
    assert_eq!(c.variant_requests(ServedKind::Segment, "audio"), 1);
    assert_eq!(c.variant_body_bytes(ServedKind::Segment, "audio"), a.body.len() as u64);
    assert_eq!(c.variant_requests(ServedKind::MediaPlaylist, "audio"), 1);
    assert_eq!(c.variant_requests(ServedKind::Segment, "360p"), 1);
    origin.shutdown().await;
}

#[tokio::test]
async fn byte_ranges_of_one_resource_per_n_segments() {
    let origin = origin::spawn(OriginConfig { byterange: Some(4), ..vod() }).await.unwrap();
    let mut player = Player::new(&origin).await;
    let (master, _) = player.multivariant().await;
    let (playlist, text) = player.media(&master.variants[0].uri).await;
    assert!(text.contains("#EXT-X-VERSION:4\n"), "{text}");
    let ranges: Vec<(String, u64, u64)> = playlist
        .segments
        .iter()
        .map(|s| {
            let r = s.byte_range.expect("every segment is a byte range");
            (s.uri.path().to_string(), r.offset, r.length)
        })
        .collect();
    assert_eq!(ranges.len(), 10);
    assert_eq!(ranges[0].0, "/360p/file00000.ts");
    assert_eq!(ranges[4].0, "/360p/file00001.ts");
    assert_eq!(ranges[9].0, "/360p/file00002.ts");
    // Each segment starts where the one before it in the same resource ended.
    for pair in ranges.windows(2) {
        let ((a, a_off, a_len), (b, b_off, _)) = (&pair[0], &pair[1]);
        assert_eq!(*b_off, if a == b { a_off + a_len } else { 0 }, "{pair:?}");
    }
    // The ranges a player asks for, and the resource whole.
    let mut parts = Vec::new();
    for n in 4..8 {
        parts.extend_from_slice(&player.segment(&playlist, n).await.body);
    }
    let file = playlist.segments[4].uri.clone();
    let whole = player.fetch(ServedKind::Segment, &file, None).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, parts, "the resource is its segments one after another");
    assert_eq!(pids(&whole.body[..188 * 4]), [0, 0x100, 0x1000].into());
    // A range across two segments, and its Content-Range.
    let (_, off, len) = ranges[5];
    let across = format!("bytes={}-{}", off + len - 100, off + len + 99);
    let r = player.fetch(ServedKind::Segment, &file, Some(across)).await;
    assert_eq!(r.status, 206);
    let expected = format!("bytes {}-{}/{}", off + len - 100, off + len + 99, whole.body.len());
    assert_eq!(r.headers["content-range"], expected.as_str());
    assert_eq!(&r.body[..], &whole.body[(off + len - 100) as usize..(off + len + 100) as usize]);
    // The last resource holds the last two segments only.
    let last = player.fetch(ServedKind::Segment, &playlist.segments[9].uri, None).await;
    assert_eq!(last.body.len() as u64, ranges[8].2 + ranges[9].2);
    player.assert_counted(&origin);
    let c = origin.counters();
    assert_eq!((c.requests(ServedKind::Segment, "206"), c.requests(ServedKind::Segment, "200")), (5, 2));
    let mut other = Client::connect(origin.addr()).await;
    assert_eq!(other.get("/360p/seg00000.ts").await.status, 404, "segments are ranges of resources only");
    assert_eq!(other.get("/360p/file00003.ts").await.status, 404, "past the end");
    origin.shutdown().await;
}

#[tokio::test]
async fn encrypted_segments_decrypt_with_the_key_the_playlist_names() {
    let encryption = Some(Encryption { key_rotation: 3 });
    let origin = origin::spawn(OriginConfig { encryption, start_sequence: 50, ..vod() }).await.unwrap();
    let mut player = Player::new(&origin).await;
    let (master, _) = player.multivariant().await;
    let (playlist, text) = player.media(&master.variants[0].uri).await;
    assert_eq!(text.matches("#EXT-X-KEY:METHOD=AES-128").count(), 4, "keys 0..3 for 10 segments: {text}");
    let mut keys = std::collections::BTreeMap::new();
    for n in [0, 2, 3, 9] {
        let s = &playlist.segments[n];
        let key = s.key.clone().expect("every segment is encrypted");
        assert_eq!(key.uri.path(), format!("/keys/{}.key", n / 3));
        assert_eq!(key.iv, None, "the IV is the media sequence number");
        if !keys.contains_key(key.uri.path()) {
            let k = player.fetch(ServedKind::Key, &key.uri, None).await;
            assert_eq!((k.status, k.body.len()), (200, 16));
            keys.insert(key.uri.path().to_string(), k.body);
        }
        let cipher = player.segment(&playlist, n).await.body;
        let key: [u8; 16] = keys[key.uri.path()][..].try_into().unwrap();
        let iv = crypto::iv_for(None, s.sequence).unwrap();
        assert_eq!(s.sequence, 50 + n as u64);
        let plain = crypto::decrypt(&key, &iv, &cipher).expect("decrypts with its key and IV");
        assert_eq!(plain.len() % 188, 0);
        assert_eq!(pids(&plain), [0, 0x100, 0x101, 0x1000].into());
    }
    assert_eq!(keys.len(), 3);
    player.assert_counted(&origin);
    let mut other = Client::connect(origin.addr()).await;
    assert_eq!(other.get("/keys/4.key").await.status, 404, "no segment uses key 4");
    let past = other.request("GET", "/keys/0.key", &[("range", "bytes=100-200")]).await;
    assert_eq!(
        (past.status, past.body.len()),
        (200, 16),
        "the key whole, whatever range is asked (ffmpeg 5.1 sends its segment's)"
    );
    origin.shutdown().await;
}

#[tokio::test]
async fn every_form_at_once() {
    let config = OriginConfig {
        container: Container::Fmp4,
        audio_rendition: true,
        byterange: Some(3),
        encryption: Some(Encryption { key_rotation: 4 }),
        ..vod()
    };
    let origin = origin::spawn(config).await.unwrap();
    let mut player = Player::new(&origin).await;
    let (master, _) = player.multivariant().await;
    let audio_uri = master.renditions[0].uri.clone().unwrap();
    for uri in [master.variants[1].uri.clone(), audio_uri] {
        let (playlist, text) = player.media(&uri).await;
        let (map, key) = (text.find("#EXT-X-MAP").unwrap(), text.find("#EXT-X-KEY").unwrap());
        assert!(map < key, "the init section is in the clear: {text}");
        let s = &playlist.segments[5];
        let init = player.fetch(ServedKind::Init, &s.map.as_ref().unwrap().uri, None).await;
        assert_eq!(box_type(&init.body), b"ftyp");
        let k = player.fetch(ServedKind::Key, &s.key.as_ref().unwrap().uri, None).await;
        let cipher = player.segment(&playlist, 5).await.body;
        let iv = crypto::iv_for(None, s.sequence).unwrap();
        let plain = crypto::decrypt(&k.body[..].try_into().unwrap(), &iv, &cipher).unwrap();
        assert_eq!(box_type(&plain), b"moof", "{uri}");
    }
    player.assert_counted(&origin);
    let c = origin.counters();
    assert_eq!(c.variant_requests(ServedKind::Init, "audio"), 1);
    assert_eq!(c.variant_requests(ServedKind::Init, "720p"), 1);
    assert_eq!(c.requests(ServedKind::Key, "200"), 2);
    assert_eq!(c.requests(ServedKind::Segment, "206"), 2);
    origin.shutdown().await;
}

#[tokio::test]
async fn faults_fail_init_sections_and_keys_like_segments() {
    let config = OriginConfig {
        container: Container::Fmp4,
        encryption: Some(Encryption { key_rotation: 10 }),
        faults: FaultConfig { http_404: 1.0, ..Default::default() },
        ..vod()
    };
    let origin = origin::spawn(config).await.unwrap();
    let mut client = Client::connect(origin.addr()).await;
    assert_eq!(client.get("/360p/stream.m3u8").await.status, 200, "404s are for files, not playlists");
    assert_eq!(client.get("/360p/init.mp4").await.status, 404);
    assert_eq!(client.get("/keys/0.key").await.status, 404);
    let c = origin.counters();
    assert_eq!((c.requests(ServedKind::Init, "404"), c.requests(ServedKind::Key, "404")), (1, 1));
    assert_eq!(c.faults(origin::Fault::Http404), 2);
    origin.shutdown().await;
}

#[tokio::test]
async fn a_live_resource_grows_with_its_segments() {
    let config = OriginConfig { byterange: Some(1000), vod: None, window: 4, ..vod() };
    let origin = origin::spawn(config).await.unwrap();
    let mut player = Player::new(&origin).await;
    let url = player.base.join("360p/stream.m3u8").unwrap();
    let (playlist, _) = player.media(&url).await;
    let last = playlist.segments.last().unwrap().byte_range.unwrap();
    let file = playlist.segments[0].uri.clone();
    let whole = player.fetch(ServedKind::Segment, &file, None).await;
    assert!(whole.body.len() as u64 >= last.offset + last.length, "holds every listed segment");
    assert_ne!(whole.headers["cache-control"], "max-age=60, immutable", "still growing");
    player.assert_counted(&origin);
    origin.shutdown().await;
}

#[tokio::test]
async fn an_impossible_combination_is_refused_naming_the_flags() {
    let config = OriginConfig { audio_rendition: true, audio: false, ..vod() };
    let err = origin::spawn(config).await.err().expect("refused").to_string();
    assert!(err.contains("--audio-rendition") && err.contains("--no-audio"), "{err}");
}
