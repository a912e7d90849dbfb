//! What producers hand to the recorder: one [`RequestRecord`] per HTTP request made or relayed, and
//! [`PlaybackEvent`]s from the simulated player. The native engine and the FFmpeg engine's measuring
//! proxy produce the same types, so every number downstream comes from a measured request.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a request fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Multivariant,
    MediaPlaylist,
    Segment,
    Init,
    Key,
    /// An LL-HLS partial segment (`EXT-X-PART`).
    Part,
    Other,
    /// An LL-HLS part requested ahead of its publication, from `EXT-X-PRELOAD-HINT` (RFC 8216bis
    /// 4.4.5.3): the server holds it until the part exists.
    PreloadHint,
    /// A media playlist reload with a blocking directive (`_HLS_msn`, RFC 8216bis 6.2.5.2): the server
    /// holds it until the playlist holds that segment or part.
    BlockingPlaylist,
}

impl Kind {
    /// Every kind, in the order used by per-kind arrays.
    pub const ALL: [Kind; 9] = [
        Kind::Multivariant,
        Kind::MediaPlaylist,
        Kind::Segment,
        Kind::Init,
        Kind::Key,
        Kind::Part,
        Kind::Other,
        Kind::PreloadHint,
        Kind::BlockingPlaylist,
    ];
    pub const COUNT: usize = Self::ALL.len();

    /// Stable name used in reports, metrics labels and the TUI.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Multivariant => "multivariant",
            Kind::MediaPlaylist => "media_playlist",
            Kind::Segment => "segment",
            Kind::Init => "init",
            Kind::Key => "key",
            Kind::Part => "part",
            Kind::Other => "other",
            Kind::PreloadHint => "preload_hint",
            Kind::BlockingPlaylist => "blocking_playlist",
        }
    }

    /// Position in [`Kind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Why a request failed, grouped by kind of failure (never by error text).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    Dns,
    Connect,
    Tls,
    Timeout,
    Reset,
    #[serde(rename = "http_4xx")]
    Http4xx,
    #[serde(rename = "http_5xx")]
    Http5xx,
    Truncated,
    PlaylistParse,
    RedirectLoop,
    /// A byte-range request answered with other bytes: the whole resource (200), another range, a
    /// `Content-Range` that does not parse.
    Range,
    /// A key that is not one: an AES-128 key body that is not 16 bytes.
    Key,
    Other,
    /// hls-swarm's own limits, not the target's: no file descriptor left (`EMFILE`, `ENFILE`: `ulimit
    /// -n`) or no local port for another connection (`EADDRNOTAVAIL`: `--source-addrs`,
    /// `net.ipv4.ip_local_port_range`). The viewer retries as after any failure.
    LocalLimit,
    /// A download the viewer gave up before its end, for a lower rendition that could arrive before
    /// its buffer ran out (hls.js's emergency switch): the bytes it got are counted.
    Abandoned,
}

impl ErrorClass {
    /// Every class, in the order used by per-class arrays.
    pub const ALL: [ErrorClass; 15] = [
        ErrorClass::Dns,
        ErrorClass::Connect,
        ErrorClass::Tls,
        ErrorClass::Timeout,
        ErrorClass::Reset,
        ErrorClass::Http4xx,
        ErrorClass::Http5xx,
        ErrorClass::Truncated,
        ErrorClass::PlaylistParse,
        ErrorClass::RedirectLoop,
        ErrorClass::Range,
        ErrorClass::Key,
        ErrorClass::Other,
        ErrorClass::LocalLimit,
        ErrorClass::Abandoned,
    ];
    pub const COUNT: usize = Self::ALL.len();

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Dns => "dns",
            ErrorClass::Connect => "connect",
            ErrorClass::Tls => "tls",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Reset => "reset",
            ErrorClass::Http4xx => "http_4xx",
            ErrorClass::Http5xx => "http_5xx",
            ErrorClass::Truncated => "truncated",
            ErrorClass::PlaylistParse => "playlist_parse",
            ErrorClass::RedirectLoop => "redirect_loop",
            ErrorClass::Range => "range",
            ErrorClass::Key => "key",
            ErrorClass::Other => "other",
            ErrorClass::LocalLimit => "local_limit",
            ErrorClass::Abandoned => "abandoned",
        }
    }

    /// Position in [`ErrorClass::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The class of a response status, or `None` when no response head arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StatusClass {
    #[serde(rename = "1xx")]
    S1xx,
    #[serde(rename = "2xx")]
    S2xx,
    #[serde(rename = "3xx")]
    S3xx,
    #[serde(rename = "4xx")]
    S4xx,
    #[serde(rename = "5xx")]
    S5xx,
    #[serde(rename = "none")]
    None,
}

impl StatusClass {
    pub const ALL: [StatusClass; 6] = [
        StatusClass::S1xx,
        StatusClass::S2xx,
        StatusClass::S3xx,
        StatusClass::S4xx,
        StatusClass::S5xx,
        StatusClass::None,
    ];
    pub const COUNT: usize = Self::ALL.len();

    /// Classifies a status code; codes outside 100..=599 count as `None` (not a valid response).
    pub fn of(status: Option<u16>) -> StatusClass {
        match status {
            Some(100..=199) => StatusClass::S1xx,
            Some(200..=299) => StatusClass::S2xx,
            Some(300..=399) => StatusClass::S3xx,
            Some(400..=499) => StatusClass::S4xx,
            Some(500..=599) => StatusClass::S5xx,
            _ => StatusClass::None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StatusClass::S1xx => "1xx",
            StatusClass::S2xx => "2xx",
            StatusClass::S3xx => "3xx",
            StatusClass::S4xx => "4xx",
            StatusClass::S5xx => "5xx",
            StatusClass::None => "none",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Phase durations of one request, as the client or the measuring proxy measured them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timings {
    /// Connection phases: `Some` only when this request opened a new connection.
    pub dns: Option<Duration>,
    pub connect: Option<Duration>,
    pub tls: Option<Duration>,
    /// From sending the request to the response head.
    pub headers: Option<Duration>,
    /// From sending the request to the first body byte.
    pub ttfb: Option<Duration>,
    /// From sending the request to the end of the body (or to the failure).
    pub total: Duration,
}

/// How a held request came back. A held request is one the server may keep open until what it
/// asks for exists: a blocking playlist reload (`_HLS_msn`, RFC 8216bis 6.2.5.2) or a preload hint
/// (4.4.5.3). Its time to first byte is the server's hold, not its latency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hold {
    /// Answered with what it asked for (or failed: the status and error say how).
    Held,
    /// Answered without what it asked for: a playlist without the segment or part of `_HLS_msn` /
    /// `_HLS_part`, the server having ignored the directive.
    Unblocked,
}

/// One HTTP request, as measured by the client or the measuring proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    pub kind: Kind,
    /// Index into the run's variant list, when the request belongs to one variant.
    pub variant: Option<u16>,
    /// Response status; `None` when no response head arrived.
    pub status: Option<u16>,
    pub timings: Timings,
    /// Body bytes received, whatever the status.
    pub body_bytes: u64,
    pub error: Option<ErrorClass>,
    /// `Some` for a held request: its TTFB is counted as hold time (see [`RequestRecord::hold_split`]).
    pub hold: Option<Hold>,
}

impl RequestRecord {
    /// A successful request of `kind`: status 200, no phase timings but `total`.
    pub fn ok(kind: Kind, total: Duration, body_bytes: u64) -> Self {
        RequestRecord {
            kind,
            variant: None,
            status: Some(200),
            timings: Timings { total, ..Timings::default() },
            body_bytes,
            error: None,
            hold: None,
        }
    }

    /// A held request's time split in two: the hold (to the first body byte, else to the response
    /// head, else all of it) and the transfer after it (`total - hold`). `None` when not held.
    pub fn hold_split(&self) -> Option<(Duration, Duration)> {
        self.hold?;
        let t = &self.timings;
        let hold = t.ttfb.or(t.headers).unwrap_or(t.total).min(t.total);
        Some((hold, t.total - hold))
    }

    /// The failure class: the producer's, or the HTTP class of a 4xx/5xx status it left
    /// unclassified, so that an error status is never counted as a success or as nothing.
    pub fn error_class(&self) -> Option<ErrorClass> {
        self.error.or(match StatusClass::of(self.status) {
            StatusClass::S4xx => Some(ErrorClass::Http4xx),
            StatusClass::S5xx => Some(ErrorClass::Http5xx),
            _ => None,
        })
    }

    /// `ok`: a 2xx response whose body arrived in full (no error).
    pub fn is_ok(&self) -> bool {
        self.error_class().is_none() && StatusClass::of(self.status) == StatusClass::S2xx
    }

    /// Bytes per second of an ok segment, end to end: `body_bytes / total`.
    ///
    /// `total` rather than `total - headers`: it is the rate a player's bandwidth estimate sees
    /// (connection setup and server wait included), and it stays finite for small bodies that
    /// arrive together with the response head. `None` when not an ok segment or `total` is zero.
    pub fn segment_throughput(&self) -> Option<u64> {
        let micros = self.timings.total.as_micros();
        if self.kind != Kind::Segment || !self.is_ok() || micros == 0 {
            return None;
        }
        let per_sec = u128::from(self.body_bytes) * 1_000_000 / micros;
        Some(u64::try_from(per_sec).unwrap_or(u64::MAX))
    }
}

/// What happened to one simulated viewer's playback.
///
/// Contract for producers: a viewer sends `Started` once and `Stopped` once; a `StallBegan` is
/// followed by `StallEnded` before the viewer restarts or stops. The gauges (active, stalled now)
/// are maintained from these events alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaybackEvent {
    /// The viewer task started.
    Started,
    /// The supervisor restarted the viewer's session; the viewer stays active.
    Restarted,
    /// The first segment is buffered, `startup` after the viewer (or session) started.
    StartupComplete {
        startup: Duration,
    },
    StallBegan,
    StallEnded {
        stalled_for: Duration,
    },
    /// Segments the player jumped over (fell behind the live window).
    SegmentSkipped {
        count: u64,
    },
    /// A playlist was accepted although a strict reading rejects it (`count` leniencies in one load,
    /// e.g. a last `#EXTINF` with no URI), as players accept it.
    PlaylistWarnings {
        count: u64,
    },
    /// A key became current that the viewer does not fetch (a DRM key format, an `skd:` or `data:`
    /// URI): once per viewer and key.
    KeySkipped,
    /// An adaptive viewer switched renditions, to a higher (`up`) or a lower one.
    VariantSwitch {
        up: bool,
    },
    /// A viewer's playback began (`now`) or ended playing a variant (counted under the variant only:
    /// how many viewers are on each rendition now).
    Watching {
        now: bool,
    },
    /// Media of `duration` arrived for the track playback follows, from a variant of `bandwidth` bits
    /// per second (its `BANDWIDTH`; 0 when unknown, a media playlist given as the URL).
    MediaBuffered {
        duration: Duration,
        bandwidth: u64,
    },
    /// How far behind real time a live viewer plays: the wall clock minus the
    /// `EXT-X-PROGRAM-DATE-TIME` of the media at its playhead (RFC 8216 4.3.2.6), sampled once a
    /// second while it plays. A playhead ahead of the wall clock (clocks apart) is a zero.
    LiveLatency {
        latency: Duration,
    },
    /// How many parts behind the live edge a low-latency viewer plays (0: the last part published),
    /// sampled with [`PlaybackEvent::LiveLatency`].
    EdgeDistance {
        parts: u32,
    },
    /// The viewer task ended.
    Stopped,
}

impl PlaybackEvent {
    /// An event of the viewer's buffer model (startup, a stall), not of one track.
    pub fn is_buffer_event(&self) -> bool {
        matches!(self, Self::StartupComplete { .. } | Self::StallBegan | Self::StallEnded { .. })
    }
}

/// Microseconds, saturating at `u64::MAX` (about 584,000 years).
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde() {
        for k in Kind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(Kind::ALL[k.index()], k);
        }
        for e in ErrorClass::ALL {
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
            assert_eq!(ErrorClass::ALL[e.index()], e);
        }
        for s in StatusClass::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(StatusClass::ALL[s.index()], s);
        }
    }

    #[test]
    fn ok_needs_2xx_and_no_error() {
        let mut r = RequestRecord::ok(Kind::Segment, Duration::from_millis(100), 1000);
        assert!(r.is_ok());
        r.status = Some(404);
        assert_eq!(r.error_class(), Some(ErrorClass::Http4xx));
        assert!(!r.is_ok());
        r.status = Some(206);
        r.error = Some(ErrorClass::Truncated);
        assert!(!r.is_ok());
        r.error = None;
        r.status = Some(304);
        assert!(!r.is_ok());
        assert_eq!(r.error_class(), None);
        r.status = None;
        assert_eq!(StatusClass::of(r.status), StatusClass::None);
    }

    #[test]
    fn a_held_request_splits_into_hold_and_transfer() {
        let mut r = RequestRecord::ok(Kind::BlockingPlaylist, Duration::from_millis(500), 2000);
        assert_eq!(r.hold_split(), None, "not held");
        r.hold = Some(Hold::Held);
        r.timings.ttfb = Some(Duration::from_millis(480));
        assert_eq!(r.hold_split(), Some((Duration::from_millis(480), Duration::from_millis(20))));
        r.timings.ttfb = None;
        r.timings.headers = Some(Duration::from_millis(470));
        assert_eq!(r.hold_split(), Some((Duration::from_millis(470), Duration::from_millis(30))), "no body");
        r.timings.headers = None;
        assert_eq!(r.hold_split(), Some((Duration::from_millis(500), Duration::ZERO)), "no response head");
        r.timings.ttfb = Some(Duration::from_millis(900));
        assert_eq!(r.hold_split(), Some((Duration::from_millis(500), Duration::ZERO)), "never beyond total");
    }

    #[test]
    fn throughput_is_bytes_over_total() {
        let r = RequestRecord::ok(Kind::Segment, Duration::from_millis(500), 1_000_000);
        assert_eq!(r.segment_throughput(), Some(2_000_000));
        let zero = RequestRecord::ok(Kind::Segment, Duration::ZERO, 10);
        assert_eq!(zero.segment_throughput(), None);
        let playlist = RequestRecord::ok(Kind::MediaPlaylist, Duration::from_millis(5), 10);
        assert_eq!(playlist.segment_throughput(), None);
    }
}
