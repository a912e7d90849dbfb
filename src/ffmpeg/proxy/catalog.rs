//! What a viewer's proxy knows about the URLs its FFmpeg asks for, learnt from the playlists it relays:
//! which kind of request each one is and which variant it belongs to. Pure (no I/O).
//!
//! A playlist relayed in full is parsed with [`hls::parse_playlist`] (a few microseconds for a live
//! window), and its segments, init sections and keys are remembered with their variant, for the
//! current and the previous version of each playlist (FFmpeg may still fetch a segment that has just
//! slid out of the window). A URL the catalog has not seen is classified by its path and Content-Type.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::hls::{self, Playlist};
use crate::stats::Kind;

/// Most playlists remembered per viewer (one per variant and rendition is the normal case).
const MAX_PLAYLISTS: usize = 64;

/// A request's kind as known when its response head arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guess {
    /// A playlist: multivariant or media is decided from its body.
    Playlist {
        variant: Option<u16>,
    },
    Fixed {
        kind: Kind,
        variant: Option<u16>,
    },
}

#[derive(Debug, Default)]
struct Listing {
    current: Vec<(String, Kind)>,
    previous: Vec<(String, Kind)>,
    variant: Option<u16>,
}

#[derive(Debug)]
pub struct Catalog {
    /// The run's variants (media playlist URLs, in multivariant order).
    variants: Arc<[Option<Url>]>,
    listings: HashMap<String, Listing>,
    target_duration: Option<Duration>,
}

impl Catalog {
    pub fn new(variants: Arc<[Option<Url>]>) -> Self {
        Self { variants, listings: HashMap::new(), target_duration: None }
    }

    /// The newest `EXT-X-TARGETDURATION` relayed.
    pub fn target_duration(&self) -> Option<Duration> {
        self.target_duration
    }

    /// The kind of a request for `url` whose response has `content_type`.
    pub fn guess(&self, url: &Url, content_type: Option<&str>) -> Guess {
        let text = url.as_str();
        for listing in self.listings.values() {
            if let Some((_, kind)) = listing.current.iter().chain(&listing.previous).find(|(u, _)| u == text) {
                return Guess::Fixed { kind: *kind, variant: listing.variant };
            }
        }
        let variant = self.variant_of_playlist(url);
        let content_type = content_type.unwrap_or("").to_ascii_lowercase();
        let path = url.path().to_ascii_lowercase();
        let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
        if variant.is_some() || matches!(ext, "m3u8" | "m3u") || content_type.contains("mpegurl") {
            return Guess::Playlist { variant };
        }
        let kind = match ext {
            "ts" | "m4s" | "mp4" | "m4v" | "m4a" | "aac" | "ac3" | "ec3" | "mp3" | "vtt" | "webvtt" | "cmfv"
            | "cmfa" => Kind::Segment,
            "key" => Kind::Key,
            _ if content_type.starts_with("video/") || content_type.starts_with("audio/") => Kind::Segment,
            _ => Kind::Other,
        };
        let variant = if kind == Kind::Segment { self.variant_by_folder(url) } else { None };
        Guess::Fixed { kind, variant }
    }

    /// Learns from a playlist body relayed in full; returns its kind (`None`: not a playlist we can
    /// parse, then the caller decides from the text).
    pub fn learn(&mut self, url: &Url, variant: Option<u16>, body: &[u8]) -> Option<Kind> {
        match hls::parse_playlist(body, url).ok()? {
            Playlist::Multivariant(_) => Some(Kind::Multivariant),
            Playlist::Media(media) => {
                self.target_duration = Some(media.target_duration);
                if media.part_target.is_some() && !LOW_LATENCY_SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    // Said once per process, on the first LL-HLS playlist a player is given.
                    tracing::warn!(
                        "{url} is LL-HLS; FFmpeg's HLS reader plays it as regular live (whole \
                         segments, no parts, blocking reloads or preload hints): use the native engine for LL-HLS load"
                    );
                }
                let mut entries = Vec::with_capacity(media.segments.len() + 2);
                for s in &media.segments {
                    entries.push((s.uri.to_string(), Kind::Segment));
                    for (uri, kind) in
                        [(s.map.as_ref().map(|m| &m.uri), Kind::Init), (s.key.as_ref().map(|k| &k.uri), Kind::Key)]
                    {
                        if let Some(uri) = uri.map(Url::as_str)
                            && !entries.iter().any(|(u, _)| u == uri)
                        {
                            entries.push((uri.to_string(), kind));
                        }
                    }
                }
                if self.listings.len() >= MAX_PLAYLISTS && !self.listings.contains_key(url.as_str()) {
                    self.listings.clear();
                }
                let listing = self.listings.entry(url.to_string()).or_default();
                listing.previous = std::mem::replace(&mut listing.current, entries);
                listing.variant = variant;
                Some(Kind::MediaPlaylist)
            }
        }
    }

    fn variant_of_playlist(&self, url: &Url) -> Option<u16> {
        self.variants.iter().position(|v| v.as_ref() == Some(url)).and_then(|i| u16::try_from(i).ok())
    }

    /// The variant whose media playlist sits in the same folder as `url`, when exactly one does.
    fn variant_by_folder(&self, url: &Url) -> Option<u16> {
        let folder = |u: &Url| u.as_str().rsplit_once('/').map(|(f, _)| f.to_string());
        let mine = folder(url)?;
        let mut found = (self.variants.iter().enumerate())
            .filter(|(_, v)| v.as_ref().and_then(folder).as_deref() == Some(mine.as_str()));
        match (found.next(), found.next()) {
            (Some((i, _)), None) => u16::try_from(i).ok(),
            _ => None,
        }
    }
}

/// Whether the LL-HLS warning was given.
static LOW_LATENCY_SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The kind of a playlist that did not parse (cut short, or over the size kept): multivariant when
/// its text has a variant tag.
pub fn playlist_kind_by_text(body: &[u8]) -> Kind {
    let needle = b"#EXT-X-STREAM-INF";
    if body.windows(needle.len()).any(|w| w == needle) { Kind::Multivariant } else { Kind::MediaPlaylist }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn catalog() -> Catalog {
        Catalog::new(vec![Some(url("http://o/360p/stream.m3u8")), Some(url("http://o/720p/stream.m3u8"))].into())
    }

    const MEDIA: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-MAP:URI=\"init.mp4\"\n\
                         #EXTINF:2,\nseg7.m4s\n#EXTINF:2,\nseg8.m4s\n";

    #[test]
    fn guesses_from_path_and_content_type() {
        let c = catalog();
        assert_eq!(c.guess(&url("http://o/master.m3u8"), None), Guess::Playlist { variant: None });
        assert_eq!(c.guess(&url("http://o/720p/stream.m3u8"), None), Guess::Playlist { variant: Some(1) });
        assert_eq!(
            c.guess(&url("http://o/live?x=1"), Some("application/vnd.apple.mpegurl")),
            Guess::Playlist { variant: None }
        );
        let seg = c.guess(&url("http://o/360p/seg00001.ts?t=1"), None);
        assert_eq!(seg, Guess::Fixed { kind: Kind::Segment, variant: Some(0) });
        let blob = c.guess(&url("http://o/x/blob"), Some("video/MP2T"));
        assert_eq!(blob, Guess::Fixed { kind: Kind::Segment, variant: None });
        assert_eq!(c.guess(&url("http://o/k.key"), None), Guess::Fixed { kind: Kind::Key, variant: None });
        assert_eq!(c.guess(&url("http://o/favicon.ico"), None), Guess::Fixed { kind: Kind::Other, variant: None });
    }

    #[test]
    fn learns_segments_init_and_target_duration_from_relayed_playlists() {
        let mut c = catalog();
        let playlist = url("http://o/720p/stream.m3u8");
        assert_eq!(c.learn(&playlist, Some(1), MEDIA.as_bytes()), Some(Kind::MediaPlaylist));
        assert_eq!(c.target_duration(), Some(Duration::from_secs(2)));
        let init = c.guess(&url("http://o/720p/init.mp4"), None);
        assert_eq!(init, Guess::Fixed { kind: Kind::Init, variant: Some(1) });
        let next = MEDIA.replace("seg7.m4s", "seg9.m4s");
        c.learn(&playlist, Some(1), next.as_bytes());
        let slid_out = c.guess(&url("http://o/720p/seg7.m4s"), None);
        assert_eq!(slid_out, Guess::Fixed { kind: Kind::Segment, variant: Some(1) }, "the previous list is kept");
        let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n360p/stream.m3u8\n";
        assert_eq!(c.learn(&url("http://o/master.m3u8"), None, master.as_bytes()), Some(Kind::Multivariant));
        assert_eq!(c.learn(&url("http://o/x.m3u8"), None, b"not a playlist"), None);
        assert_eq!(playlist_kind_by_text(master.as_bytes()), Kind::Multivariant);
        assert_eq!(playlist_kind_by_text(MEDIA.as_bytes()), Kind::MediaPlaylist);
    }
}
