//! The origin's ground truth: what it served, counted when a body has been handed to the connection in
//! full (or cut short: status `aborted`). Exposed on `/metrics` and to in-process callers.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Kind label of an origin request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServedKind {
    Multivariant,
    MediaPlaylist,
    Segment,
    Other,
}

impl ServedKind {
    pub const ALL: [ServedKind; 4] = [Self::Multivariant, Self::MediaPlaylist, Self::Segment, Self::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Multivariant => "multivariant",
            Self::MediaPlaylist => "media_playlist",
            Self::Segment => "segment",
            Self::Other => "other",
        }
    }
}

/// Injected faults, labelled on `hls_origin_faults_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Http5xx,
    Http404,
    Reset,
    Delay,
    Bandwidth,
    StalePlaylist,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http5xx => "http_5xx",
            Self::Http404 => "http_404",
            Self::Reset => "reset",
            Self::Delay => "delay",
            Self::Bandwidth => "bandwidth",
            Self::StalePlaylist => "stale_playlist",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    kind: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FaultLabels {
    fault: &'static str,
}

/// Counters shared by every connection; prometheus-client's atomics make each update lock-free once a
/// label set exists (its family map takes a read lock).
pub struct Counters {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    body_bytes: Family<KindLabels, Counter>,
    faults: Family<FaultLabels, Counter>,
    connections_active: Gauge,
    connections_total: Counter,
}

impl Default for Counters {
    fn default() -> Self {
        Self::new()
    }
}

impl Counters {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let body_bytes = Family::<KindLabels, Counter>::default();
        let faults = Family::<FaultLabels, Counter>::default();
        let connections_active = Gauge::default();
        let connections_total = Counter::default();
        registry.register(
            "hls_origin_requests",
            "Responses by kind and status (aborted: body cut short)",
            requests.clone(),
        );
        registry.register("hls_origin_response_body_bytes", "Body bytes written, by kind", body_bytes.clone());
        registry.register("hls_origin_faults", "Injected faults, by fault", faults.clone());
        registry.register("hls_origin_connections_active", "Open client connections", connections_active.clone());
        registry.register("hls_origin_connections", "Accepted client connections", connections_total.clone());
        for kind in ServedKind::ALL {
            let _ = body_bytes.get_or_create(&KindLabels { kind: kind.as_str() });
        }
        Self { registry, requests, body_bytes, faults, connections_active, connections_total }
    }

    /// Records one finished response: `status` is the numeric status, or `aborted`.
    pub fn record(&self, kind: ServedKind, status: &'static str, bytes: u64) {
        self.requests.get_or_create(&RequestLabels { kind: kind.as_str(), status }).inc();
        self.body_bytes.get_or_create(&KindLabels { kind: kind.as_str() }).inc_by(bytes);
    }

    pub fn fault(&self, fault: Fault) {
        self.faults.get_or_create(&FaultLabels { fault: fault.as_str() }).inc();
    }

    pub fn connection_opened(&self) {
        self.connections_active.inc();
        self.connections_total.inc();
    }

    pub fn connection_closed(&self) {
        self.connections_active.dec();
    }

    /// Responses of `kind` with `status` ("200", "206", "404", "aborted", ...).
    pub fn requests(&self, kind: ServedKind, status: &str) -> u64 {
        let mut total = 0;
        for (code, _) in STATUS_LABELS.iter().filter(|(c, _)| *c == status) {
            total += self.requests.get_or_create(&RequestLabels { kind: kind.as_str(), status: code }).get();
        }
        total
    }

    /// Responses of `kind`, every status.
    pub fn requests_all(&self, kind: ServedKind) -> u64 {
        STATUS_LABELS.iter().map(|(s, _)| self.requests(kind, s)).sum()
    }

    pub fn body_bytes(&self, kind: ServedKind) -> u64 {
        self.body_bytes.get_or_create(&KindLabels { kind: kind.as_str() }).get()
    }

    pub fn faults(&self, fault: Fault) -> u64 {
        self.faults.get_or_create(&FaultLabels { fault: fault.as_str() }).get()
    }

    pub fn connections_active(&self) -> i64 {
        self.connections_active.get()
    }

    pub fn connections_total(&self) -> u64 {
        self.connections_total.get()
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Every status label the origin uses, with its numeric code (0 for `aborted`).
pub const STATUS_LABELS: [(&str, u16); 9] = [
    ("200", 200),
    ("204", 204),
    ("206", 206),
    ("404", 404),
    ("405", 405),
    ("416", 416),
    ("503", 503),
    ("431", 431),
    ("aborted", 0),
];

/// The static label for a status code the origin sends.
pub fn status_label(code: u16) -> &'static str {
    STATUS_LABELS.iter().find(|(_, c)| *c == code).map(|(s, _)| *s).unwrap_or("other")
}
