//! What a track requests for each segment it plays, in order, as a player does: the segment's init
//! section (`EXT-X-MAP`, RFC 8216 4.3.2.5) when it is not the one the track already has, its key
//! (`EXT-X-KEY`, 4.3.2.4) when it is not the one in hand, then the segment itself, with a `Range`
//! when the playlist gives a byte range (4.3.2.2). A segment marked `EXT-X-GAP` is not requested:
//! players play over it.
//!
//! Pure: the async code asks [`RequestPlan::for_segment`] what to fetch, fetches it, and tells the plan
//! what arrived ([`RequestPlan::loaded_init`], [`RequestPlan::loaded_key`]); a failed init section or
//! key is asked for again with the next segment that needs it.

use url::Url;

use super::model::{ByteRange, InitSection, Key, KeyMethod, Segment};

/// One request of a track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Planned {
    /// An init section; `range`: the `Range` header value, when the map has a byte range.
    Init { uri: Url, range: Option<String> },
    /// A key to fetch (`identity` key format, fetchable scheme); `len`: the bytes its method needs (16
    /// for AES-128 and SAMPLE-AES, 32 for AES-256), when the method says.
    Key { uri: Url, len: Option<u64> },
    /// The segment itself.
    Segment { uri: Url, range: Option<String> },
}

/// What a segment asks for, besides the requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SegmentPlan {
    pub requests: Vec<Planned>,
    /// `EXT-X-GAP`: nothing is requested; the buffer counts the segment as present.
    pub gap: bool,
    /// A key this viewer does not fetch (a DRM key format, an `skd:` or `data:` URI) became current:
    /// said once per key, so the run can count them.
    pub skipped_key: Option<Url>,
}

/// The init section and key a track holds.
#[derive(Debug, Default)]
pub struct RequestPlan {
    init: Option<InitSection>,
    key: Option<Url>,
    /// The last key that was skipped, so it is counted once while it stays current.
    skipped: Option<Url>,
}

impl RequestPlan {
    pub fn new() -> Self {
        Self::default()
    }

    /// The requests for `segment`, in the order they must be made.
    pub fn for_segment(&mut self, segment: &Segment) -> SegmentPlan {
        let mut plan = SegmentPlan { gap: segment.gap, ..SegmentPlan::default() };
        if segment.gap {
            return plan;
        }
        if let Some(map) = &segment.map
            && self.init.as_ref() != Some(map)
        {
            plan.requests.push(Planned::Init { uri: map.uri.clone(), range: map.byte_range.map(range_header) });
        }
        match segment.key.as_ref().map(|k| (fetchable(k), key_len(&k.method))) {
            Some((Ok(uri), len)) if self.key.as_ref() != Some(uri) => {
                plan.requests.push(Planned::Key { uri: uri.clone(), len });
            }
            Some((Err(uri), _)) if self.skipped.as_ref() != Some(uri) => {
                self.skipped = Some(uri.clone());
                plan.skipped_key = Some(uri.clone());
            }
            _ => {}
        }
        plan.requests.push(Planned::Segment { uri: segment.uri.clone(), range: segment.byte_range.map(range_header) });
        plan
    }

    /// The init section of `segment` arrived: later segments with the same map do not ask again.
    pub fn loaded_init(&mut self, segment: &Segment) {
        self.init = segment.map.clone();
    }

    /// The key of `segment` arrived.
    pub fn loaded_key(&mut self, uri: &Url) {
        self.key = Some(uri.clone());
    }

    /// A new session (restart): a player starts with nothing in hand.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// The key's URI when a viewer fetches it, else (as `Err`) the URI it skips: only the `identity` key
/// format is a plain key file; FairPlay (`skd:`), Widevine and PlayReady keys come from a licence
/// server a load tester does not speak to, and a `data:` URI holds the key itself.
fn fetchable(key: &Key) -> Result<&Url, &Url> {
    let identity = key.keyformat.as_deref().is_none_or(|f| f == "identity");
    let scheme_ok = matches!(key.uri.scheme(), "http" | "https");
    if identity && scheme_ok { Ok(&key.uri) } else { Err(&key.uri) }
}

/// The key size a method needs, when known.
fn key_len(method: &KeyMethod) -> Option<u64> {
    match method {
        KeyMethod::Aes128 | KeyMethod::SampleAes => Some(16),
        KeyMethod::Other(m) if m == "SAMPLE-AES-CTR" => Some(16),
        KeyMethod::Other(m) if m.starts_with("AES-256") => Some(32),
        KeyMethod::Other(_) => None,
    }
}

/// The `Range` header value for a byte range: `bytes=o-(o+n-1)` (RFC 9110 14.1.2). A zero-length range
/// asks for its first byte, the least a server can send.
pub fn range_header(range: ByteRange) -> String {
    let last = range.offset.saturating_add(range.length.max(1) - 1);
    format!("bytes={}-{last}", range.offset)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn url(path: &str) -> Url {
        Url::parse("http://o.test/").unwrap().join(path).unwrap()
    }

    fn segment(n: u64) -> Segment {
        Segment {
            sequence: n,
            uri: url(&format!("s{n}.m4s")),
            duration: Duration::from_secs(2),
            discontinuity: false,
            program_date_time: None,
            byte_range: None,
            key: None,
            map: None,
            gap: false,
            parts: Vec::new(),
        }
    }

    fn key(uri: &str, format: Option<&str>) -> Key {
        Key { method: KeyMethod::Aes128, uri: url(uri), iv: None, keyformat: format.map(str::to_owned) }
    }

    fn requests(plan: &mut RequestPlan, s: &Segment) -> Vec<Planned> {
        let p = plan.for_segment(s);
        for r in &p.requests {
            match r {
                Planned::Init { .. } => plan.loaded_init(s),
                Planned::Key { uri, .. } => plan.loaded_key(uri),
                Planned::Segment { .. } => {}
            }
        }
        p.requests
    }

    #[test]
    fn init_once_per_map_key_once_per_key_then_the_segment() {
        let map = InitSection { uri: url("init.mp4"), byte_range: Some(ByteRange { length: 720, offset: 0 }) };
        let mut plan = RequestPlan::new();
        let with = |n, k: &str| Segment { map: Some(map.clone()), key: Some(key(k, None)), ..segment(n) };
        let first = requests(&mut plan, &with(1, "k1"));
        assert_eq!(
            first,
            [
                Planned::Init { uri: url("init.mp4"), range: Some("bytes=0-719".into()) },
                Planned::Key { uri: url("k1"), len: Some(16) },
                Planned::Segment { uri: url("s1.m4s"), range: None },
            ]
        );
        assert_eq!(requests(&mut plan, &with(2, "k1")), [Planned::Segment { uri: url("s2.m4s"), range: None }]);
        // Rotation fetches the new key; the map stays.
        assert_eq!(requests(&mut plan, &with(3, "k2"))[0], Planned::Key { uri: url("k2"), len: Some(16) });
        // A new map (after a discontinuity) is fetched; a restart fetches everything again.
        let other = InitSection { uri: url("init2.mp4"), byte_range: None };
        let s4 = Segment { map: Some(other), ..with(4, "k2") };
        assert_eq!(requests(&mut plan, &s4)[0], Planned::Init { uri: url("init2.mp4"), range: None });
        plan.reset();
        assert_eq!(requests(&mut plan, &s4).len(), 3);
    }

    #[test]
    fn a_failed_init_or_key_is_asked_for_again() {
        let map = InitSection { uri: url("init.mp4"), byte_range: None };
        let s = Segment { map: Some(map), key: Some(key("k", None)), ..segment(1) };
        let mut plan = RequestPlan::new();
        assert_eq!(plan.for_segment(&s).requests.len(), 3);
        assert_eq!(plan.for_segment(&s).requests.len(), 3, "nothing was marked loaded");
    }

    #[test]
    fn byte_ranges_become_range_headers() {
        let s = Segment { byte_range: Some(ByteRange { length: 75232, offset: 376 }), ..segment(1) };
        let p = RequestPlan::new().for_segment(&s);
        assert_eq!(p.requests, [Planned::Segment { uri: url("s1.m4s"), range: Some("bytes=376-75607".into()) }]);
        assert_eq!(range_header(ByteRange { length: 0, offset: 10 }), "bytes=10-10");
    }

    #[test]
    fn a_gap_segment_requests_nothing() {
        let s = Segment { gap: true, key: Some(key("k", None)), ..segment(1) };
        let p = RequestPlan::new().for_segment(&s);
        assert!(p.gap && p.requests.is_empty());
    }

    #[test]
    fn drm_and_data_keys_are_skipped_and_said_once() {
        let mut plan = RequestPlan::new();
        for (k, format) in [("skd://asset", None), ("k", Some("com.apple.streamingkeydelivery"))] {
            let s = Segment { key: Some(key(k, format)), ..segment(1) };
            let p = plan.for_segment(&s);
            assert_eq!(p.requests, [Planned::Segment { uri: url("s1.m4s"), range: None }], "{k}");
            assert!(p.skipped_key.is_some(), "{k}");
            assert_eq!(plan.for_segment(&s).skipped_key, None, "{k}: said once");
        }
        let data = Key { uri: Url::parse("data:text/plain;base64,YQo=").unwrap(), ..key("k", None) };
        assert!(plan.for_segment(&Segment { key: Some(data), ..segment(2) }).skipped_key.is_some());
        let ctr = Key { method: KeyMethod::Other("SAMPLE-AES-CTR".into()), ..key("c", None) };
        let p = plan.for_segment(&Segment { key: Some(ctr), ..segment(3) });
        assert_eq!(p.requests[0], Planned::Key { uri: url("c"), len: Some(16) });
    }
}
