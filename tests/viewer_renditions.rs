//! Alternate renditions, on fixtures of our own: a viewer plays its variant and the audio rendition a
//! player picks (each on its own playlist, segments and connection), subtitles only when asked, each
//! group once with `--variant all`; figures per rendition; a failed audio rendition fails the session;
//! a media playlist takes the variables it `IMPORT`s from the multivariant playlist.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hls_swarm::engine::{SwarmConfig, run_swarm};
use hls_swarm::hls::{AudioPolicy, RenditionPolicy, VariantPolicy};
use hls_swarm::stats::{ErrorClass, Kind, Snapshot};
use tokio::sync::watch;
use url::Url;

/// Two variants in two audio groups, one subtitles group. Renditions are indexed after the two
/// variants: lo/English 2, lo/Deutsch 3, hi/English 4, subs/English 5.
const MASTER: &str = "#EXTM3U\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"lo\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,URI=\"a/lo-en.m3u8\"\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"lo\",NAME=\"Deutsch\",LANGUAGE=\"de\",AUTOSELECT=YES,URI=\"a/lo-de.m3u8\"\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"hi\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,URI=\"a/hi-en.m3u8\"\n\
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,URI=\"s/en.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO=\"lo\",SUBTITLES=\"subs\"\nv/lo.m3u8\n\
#EXT-X-STREAM-INF:BANDWIDTH=5000000,AUDIO=\"hi\",SUBTITLES=\"subs\"\nv/hi.m3u8\n";

/// A VOD media playlist of three 1 s segments named `<name>0.<ext>` ...
fn vod(name: &str, ext: &str) -> String {
    let mut text = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:VOD\n".to_owned();
    for i in 0..3 {
        text.push_str(&format!("#EXTINF:1,\n{name}{i}.{ext}\n"));
    }
    text + "#EXT-X-ENDLIST\n"
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// Every route of [`MASTER`]; `without` is left out (a 404).
fn routes(without: Option<&str>) -> Vec<(&'static str, Bytes)> {
    let mut routes = vec![("/master.m3u8", Bytes::from_static(MASTER.as_bytes()))];
    for (dir, name, ext) in
        [("v", "lo", "ts"), ("v", "hi", "ts"), ("a", "lo-en", "aac"), ("a", "lo-de", "aac"), ("a", "hi-en", "aac")]
            .into_iter()
            .chain([("s", "en", "vtt")])
    {
        let playlist = leak(format!("/{dir}/{name}.m3u8"));
        if without != Some(playlist) {
            routes.push((playlist, Bytes::from(vod(name, ext))));
        }
        for i in 0..3 {
            routes.push((leak(format!("/{dir}/{name}{i}.{ext}")), Bytes::from(vec![0x47u8; 1000])));
        }
    }
    routes
}

struct Played {
    seen: Vec<String>,
    snapshot: Arc<Snapshot>,
}

impl Played {
    fn count(&self, path: &str) -> usize {
        self.seen.iter().filter(|p| *p == path).count()
    }
}

/// One viewer for `secs`: a VOD of 3 s is fetched through at once (its buffer target is 2 s) and is
/// still playing when the run ends: no replay.
async fn play(routes: Vec<(&'static str, Bytes)>, secs: u64, set: impl FnOnce(&mut SwarmConfig)) -> Played {
    let (addr, seen) = common::fixed_server(routes).await;
    let url = Url::parse(&format!("http://{addr}/master.m3u8")).unwrap();
    let mut config = common::swarm_config(url, 1, Duration::from_secs(secs), 10.0, 1);
    set(&mut config);
    let (tx, _rx) = watch::channel(Arc::new(Snapshot::empty()));
    let outcome = run_swarm(config, std::future::pending(), tx).await;
    let seen = std::mem::take(&mut *seen.lock().unwrap()).into_iter().map(|(p, _)| p).collect();
    Played { seen, snapshot: outcome.snapshot }
}

fn policy(audio: AudioPolicy, language: Option<&str>, subtitles: bool) -> RenditionPolicy {
    RenditionPolicy { audio, language: language.map(str::to_owned), subtitles }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_audio_rendition_is_played_beside_the_variant_and_counted_as_its_own() {
    let played = play(routes(None), 2, |_| {}).await;
    for path in ["/master.m3u8", "/v/lo.m3u8", "/a/lo-en.m3u8", "/a/lo-en0.aac", "/a/lo-en2.aac", "/v/lo2.ts"] {
        assert_eq!(played.count(path), 1, "{path} once: {:?}", played.seen);
    }
    for path in ["/a/lo-de.m3u8", "/a/hi-en.m3u8", "/s/en.m3u8", "/v/hi.m3u8"] {
        assert_eq!(played.count(path), 0, "{path} is not played: {:?}", played.seen);
    }
    let run = &played.snapshot.windows.run;
    assert_eq!(run.errors, 0, "{:?}", run.errors_by_class);
    assert_eq!(run.kinds[Kind::Segment].ok, 6, "three video and three audio segments");
    assert_eq!(run.playback.startups, 1, "one playback: video and audio together");
    assert_eq!(run.playback.stalls, 0);
    let variants = &played.snapshot.variants;
    let of = |index: u16| variants.iter().find(|v| v.index == index).map(|v| v.kinds[Kind::Segment].ok);
    assert_eq!((of(0), of(2)), (Some(3), Some(3)), "the variant and lo/English (index 2) apart: {variants:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_language_subtitles_all_and_none() {
    let german = play(routes(None), 2, |c| c.viewer.renditions = policy(AudioPolicy::Default, Some("de"), true)).await;
    for path in ["/a/lo-de.m3u8", "/a/lo-de2.aac", "/s/en.m3u8", "/s/en2.vtt"] {
        assert_eq!(german.count(path), 1, "{path} once: {:?}", german.seen);
    }
    assert_eq!(german.count("/a/lo-en.m3u8"), 0, "{:?}", german.seen);
    let none = play(routes(None), 2, |c| c.viewer.renditions = policy(AudioPolicy::None, None, false)).await;
    assert!(!none.seen.iter().any(|p| p.starts_with("/a/")), "--audio none: {:?}", none.seen);
    let every = play(routes(None), 2, |c| {
        c.viewer.renditions = policy(AudioPolicy::All, None, false);
        c.viewer.policy = VariantPolicy::All;
    })
    .await;
    for path in ["/a/lo-en.m3u8", "/a/lo-de.m3u8", "/a/hi-en.m3u8", "/v/lo.m3u8", "/v/hi.m3u8"] {
        assert_eq!(every.count(path), 1, "{path} once: {:?}", every.seen);
    }
    assert_eq!(every.snapshot.windows.run.playback.startups, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_variant_each_audio_group_is_played_once() {
    let played = play(routes(None), 2, |c| c.viewer.policy = VariantPolicy::All).await;
    for path in ["/v/lo.m3u8", "/v/hi.m3u8", "/a/lo-en.m3u8", "/a/hi-en.m3u8", "/a/hi-en1.aac"] {
        assert_eq!(played.count(path), 1, "{path} once: {:?}", played.seen);
    }
    assert_eq!(played.count("/a/lo-de.m3u8"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_audio_rendition_fails_the_session_and_the_viewer_starts_over() {
    // The audio playlist is a 404: a player cannot play; the session fails, its video track stops
    // (each track lets its request in flight finish), and the supervisor restarts the viewer.
    let played = play(routes(Some("/a/lo-en.m3u8")), 2, |_| {}).await;
    let run = &played.snapshot.windows.run;
    assert!(run.kinds[Kind::MediaPlaylist].errors >= 2, "a failure per session: {:?}", played.seen);
    assert!(played.count("/master.m3u8") >= 2, "the viewer started over: {:?}", played.seen);
    assert_eq!(run.errors_by_class.get(ErrorClass::Http4xx), run.errors, "only the 404s failed");
    assert_eq!(run.playback.startups, 0, "no playback without audio");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_playlist_imports_the_multivariant_playlists_variables() {
    let master = "#EXTM3U\n#EXT-X-DEFINE:NAME=\"token\",VALUE=\"abc\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=1000\nv.m3u8?t={$token}\n";
    let media = "#EXTM3U\n#EXT-X-DEFINE:IMPORT=\"token\"\n#EXT-X-TARGETDURATION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n\
        #EXTINF:3,\nseg-{$token}.ts\n#EXT-X-ENDLIST\n";
    let routes = vec![
        ("/master.m3u8", Bytes::from_static(master.as_bytes())),
        ("/v.m3u8", Bytes::from_static(media.as_bytes())),
        ("/seg-abc.ts", Bytes::from(vec![0x47u8; 188])),
    ];
    let played = play(routes, 1, |_| {}).await;
    assert_eq!(played.count("/seg-abc.ts"), 1, "{:?}", played.seen);
    assert_eq!(played.snapshot.windows.run.errors, 0, "{:?}", played.seen);
}
