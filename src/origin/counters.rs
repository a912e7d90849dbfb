//! The origin's ground truth: what it served, counted when a body has been handed to the connection in
//! full (or cut short: status `aborted`), by kind, variant and status. Exposed on `/metrics` and to
//! in-process callers.
//!
//! Plain atomics over label sets known when the origin starts (the ladder, the kinds, the statuses it
//! sends), so a count is one `fetch_add` and nothing is allocated on the hot path. `/metrics` is written
//! with the same 0.0.4 writer as the swarm's own endpoint ([`crate::metrics::text_writer`]):
//! prometheus-client, used here before, writes OpenMetrics only, and one project should speak one
//! exposition format.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use super::cells::Cells;

use crate::metrics::text_writer::{Exposition, Type};

/// Kind label of an origin request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServedKind {
    Multivariant,
    MediaPlaylist,
    /// A media segment, whole or a byte range of it (or of the resource holding it).
    Segment,
    /// An fMP4 init section (EXT-X-MAP).
    Init,
    /// An AES-128 key (EXT-X-KEY).
    Key,
    /// An LL-HLS part (EXT-X-PART) that existed when asked for.
    Part,
    /// An LL-HLS part asked for before it existed (EXT-X-PRELOAD-HINT): held until complete.
    PreloadHint,
    /// A media playlist asked for with `_HLS_msn` (a blocking reload): held until it holds that.
    BlockingPlaylist,
    Other,
}

impl ServedKind {
    pub const ALL: [ServedKind; 9] = [
        Self::Multivariant,
        Self::MediaPlaylist,
        Self::Segment,
        Self::Init,
        Self::Key,
        Self::Part,
        Self::PreloadHint,
        Self::BlockingPlaylist,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Multivariant => "multivariant",
            Self::MediaPlaylist => "media_playlist",
            Self::Segment => "segment",
            Self::Init => "init",
            Self::Key => "key",
            Self::Part => "part",
            Self::PreloadHint => "preload_hint",
            Self::BlockingPlaylist => "blocking_playlist",
            Self::Other => "other",
        }
    }

    fn index(self) -> usize {
        self as usize
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
    const ALL: [Fault; 6] =
        [Self::Http5xx, Self::Http404, Self::Reset, Self::Delay, Self::Bandwidth, Self::StalePlaylist];

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

/// Every status label the origin uses, with its numeric code (0 for `aborted`).
pub const STATUS_LABELS: [(&str, u16); 10] = [
    ("200", 200),
    ("204", 204),
    ("206", 206),
    ("400", 400),
    ("404", 404),
    ("405", 405),
    ("416", 416),
    ("503", 503),
    ("431", 431),
    ("aborted", 0),
];
/// Status slots: the labels above, and `other` for any code not among them.
const STATUSES: usize = STATUS_LABELS.len() + 1;
const KINDS: usize = ServedKind::ALL.len();

/// The static label for a status code the origin sends.
pub fn status_label(code: u16) -> &'static str {
    STATUS_LABELS.iter().find(|(_, c)| *c == code).map(|(s, _)| *s).unwrap_or("other")
}

fn status_index(label: &str) -> usize {
    STATUS_LABELS.iter().position(|(s, _)| *s == label).unwrap_or(STATUS_LABELS.len())
}

fn status_name(index: usize) -> &'static str {
    STATUS_LABELS.get(index).map_or("other", |(s, _)| *s)
}

/// Counters shared by every connection (and, with `hls-swarm origin --workers N`, by every worker
/// process: their cells then live in a shared mapping, see [`Cells`]).
#[derive(Debug)]
pub struct Counters {
    /// Variant names in the ladder's order; requests of no variant (the multivariant playlist, other
    /// paths) count in the slot after them.
    variants: Vec<String>,
    /// Every count, in the order of [`Layout`]: requests `[slot][kind][status]`, body bytes
    /// `[slot][kind]`, delta playlists `[slot]`, faults, the open and accepted connections, and the
    /// connections each worker accepted.
    cells: Cells,
    layout: Layout,
    /// This process's worker index. Process-local on purpose: it lives on the heap, which each forked
    /// worker has a copy of, while the cells are shared.
    worker: AtomicUsize,
}

/// Where each group of counters starts in [`Counters::cells`].
#[derive(Clone, Copy, Debug)]
struct Layout {
    bytes: usize,
    deltas: usize,
    faults: usize,
    active: usize,
    total: usize,
    workers: usize,
    worker_count: usize,
    len: usize,
}

impl Layout {
    fn new(variants: usize, workers: usize) -> Self {
        let slots = variants + 1;
        let bytes = slots * KINDS * STATUSES;
        let deltas = bytes + slots * KINDS;
        let faults = deltas + slots;
        let active = faults + Fault::ALL.len();
        let (total, workers_at) = (active + 1, active + 2);
        let worker_count = workers.max(1);
        Self { bytes, deltas, faults, active, total, workers: workers_at, worker_count, len: workers_at + worker_count }
    }
}

impl Default for Counters {
    fn default() -> Self {
        Self::new()
    }
}

impl Counters {
    /// Counters with no variant (tests of one path at a time).
    pub fn new() -> Self {
        Self::with_variants(Vec::new())
    }

    /// Counters for a ladder of these variant names, in this process's memory.
    pub fn with_variants(variants: Vec<String>) -> Self {
        let layout = Layout::new(variants.len(), 1);
        Self { variants, cells: Cells::heap(layout.len), layout, worker: AtomicUsize::new(0) }
    }

    /// Counters for a ladder of these variant names, in memory that processes forked after this call
    /// share with this one (`workers` of them, counting this one), so each one's `/metrics` has all
    /// of theirs.
    pub fn shared(variants: Vec<String>, workers: usize) -> std::io::Result<Self> {
        let layout = Layout::new(variants.len(), workers);
        Ok(Self { variants, cells: Cells::shared(layout.len)?, layout, worker: AtomicUsize::new(0) })
    }

    /// Which worker this process is (0 the first); its accepted connections count in that worker's cell.
    pub fn set_worker(&self, index: usize) {
        self.worker.store(index.min(self.layout.worker_count - 1), Relaxed);
    }

    fn request_cell(&self, slot: usize, kind: ServedKind, status: usize) -> &AtomicU64 {
        &self.cells[(slot * KINDS + kind.index()) * STATUSES + status]
    }

    fn bytes_cell(&self, slot: usize, kind: ServedKind) -> &AtomicU64 {
        &self.cells[self.layout.bytes + slot * KINDS + kind.index()]
    }

    fn delta_cell(&self, slot: usize) -> &AtomicU64 {
        &self.cells[self.layout.deltas + slot]
    }

    fn slot(&self, variant: Option<usize>) -> usize {
        variant.filter(|v| *v < self.variants.len()).unwrap_or(self.variants.len())
    }

    /// Records one finished response of no variant: `status` is the numeric status, or `aborted`.
    pub fn record(&self, kind: ServedKind, status: &'static str, bytes: u64) {
        self.record_for(kind, None, status, bytes);
    }

    /// Records one finished response of `variant` (its index in the ladder).
    pub fn record_for(&self, kind: ServedKind, variant: Option<usize>, status: &str, bytes: u64) {
        let slot = self.slot(variant);
        self.request_cell(slot, kind, status_index(status)).fetch_add(1, Relaxed);
        self.bytes_cell(slot, kind).fetch_add(bytes, Relaxed);
    }

    /// Records a delta playlist (`EXT-X-SKIP`) sent in full for `variant`; it is also counted by
    /// kind (`media_playlist` or `blocking_playlist`) as its request is.
    pub fn delta_playlist(&self, variant: Option<usize>) {
        self.delta_cell(self.slot(variant)).fetch_add(1, Relaxed);
    }

    /// Delta playlists sent, every variant.
    pub fn delta_playlists(&self) -> u64 {
        self.slots().map(|slot| self.delta_cell(slot).load(Relaxed)).sum()
    }

    /// Delta playlists sent for the variant named `name`.
    pub fn variant_delta_playlists(&self, name: &str) -> u64 {
        self.variants.iter().position(|v| v == name).map_or(0, |slot| self.delta_cell(slot).load(Relaxed))
    }

    pub fn fault(&self, fault: Fault) {
        self.cells[self.layout.faults + fault as usize].fetch_add(1, Relaxed);
    }

    pub fn connection_opened(&self) {
        // The open count is an i64 kept in a u64 cell: wrapping adds and subtracts are the same bits.
        self.cells[self.layout.active].fetch_add(1, Relaxed);
        self.cells[self.layout.total].fetch_add(1, Relaxed);
        self.cells[self.layout.workers + self.worker.load(Relaxed)].fetch_add(1, Relaxed);
    }

    pub fn connection_closed(&self) {
        self.cells[self.layout.active].fetch_sub(1, Relaxed);
    }

    fn requests_in(&self, slot: usize, kind: ServedKind, status: usize) -> u64 {
        self.request_cell(slot, kind, status).load(Relaxed)
    }

    fn slots(&self) -> std::ops::RangeInclusive<usize> {
        0..=self.variants.len()
    }

    /// Responses of `kind` with `status` ("200", "206", "404", "aborted", ...), every variant.
    pub fn requests(&self, kind: ServedKind, status: &str) -> u64 {
        self.slots().map(|slot| self.requests_in(slot, kind, status_index(status))).sum()
    }

    /// Responses of `kind`, every status and variant.
    pub fn requests_all(&self, kind: ServedKind) -> u64 {
        self.slots()
            .flat_map(|slot| (0..STATUSES).map(move |s| (slot, s)))
            .map(|(v, s)| self.requests_in(v, kind, s))
            .sum()
    }

    pub fn body_bytes(&self, kind: ServedKind) -> u64 {
        self.slots().map(|slot| self.bytes_cell(slot, kind).load(Relaxed)).sum()
    }

    /// Responses of `kind` for the variant named `name`, every status; 0 for a name not in the ladder.
    pub fn variant_requests(&self, kind: ServedKind, name: &str) -> u64 {
        let Some(slot) = self.variants.iter().position(|v| v == name) else { return 0 };
        (0..STATUSES).map(|s| self.requests_in(slot, kind, s)).sum()
    }

    /// Body bytes of `kind` for the variant named `name`.
    pub fn variant_body_bytes(&self, kind: ServedKind, name: &str) -> u64 {
        let Some(slot) = self.variants.iter().position(|v| v == name) else { return 0 };
        self.bytes_cell(slot, kind).load(Relaxed)
    }

    pub fn faults(&self, fault: Fault) -> u64 {
        self.cells[self.layout.faults + fault as usize].load(Relaxed)
    }

    pub fn connections_active(&self) -> i64 {
        self.cells[self.layout.active].load(Relaxed) as i64
    }

    pub fn connections_total(&self) -> u64 {
        self.cells[self.layout.total].load(Relaxed)
    }

    /// Connections accepted by each worker process, the first worker's first.
    pub fn worker_connections(&self) -> Vec<u64> {
        (0..self.layout.worker_count).map(|w| self.cells[self.layout.workers + w].load(Relaxed)).collect()
    }

    fn variant_label(&self, slot: usize) -> &str {
        self.variants.get(slot).map_or("", String::as_str)
    }

    /// The Prometheus text exposition (0.0.4); label sets that never counted anything are left out.
    pub fn encode(&self) -> String {
        let mut out = Exposition::new("hls_origin_");
        let help = "Responses by kind, variant (empty: none) and status (aborted: body cut short)";
        let mut family = out.family("requests_total", Type::Counter, help);
        for slot in self.slots() {
            for kind in ServedKind::ALL {
                for status in (0..STATUSES).filter(|s| self.requests_in(slot, kind, *s) > 0) {
                    let labels = [
                        ("kind", kind.as_str()),
                        ("variant", self.variant_label(slot)),
                        ("status", status_name(status)),
                    ];
                    family.sample(&labels, self.requests_in(slot, kind, status));
                }
            }
        }
        let mut family =
            out.family("response_body_bytes_total", Type::Counter, "Body bytes written, by kind and variant");
        for slot in self.slots() {
            for kind in ServedKind::ALL {
                let bytes = self.bytes_cell(slot, kind).load(Relaxed);
                if bytes > 0 || slot == self.variants.len() {
                    family.sample(&[("kind", kind.as_str()), ("variant", self.variant_label(slot))], bytes);
                }
            }
        }
        let help = "Delta playlists (EXT-X-SKIP, asked with _HLS_skip) sent in full, by variant; also counted in \
                    requests_total by their kind";
        let mut family = out.family("delta_playlists_total", Type::Counter, help);
        for slot in self.slots().filter(|s| self.delta_cell(*s).load(Relaxed) > 0) {
            family.sample(&[("variant", self.variant_label(slot))], self.delta_cell(slot).load(Relaxed));
        }
        let mut family = out.family("faults_total", Type::Counter, "Injected faults, by fault");
        for fault in Fault::ALL.into_iter().filter(|f| self.faults(*f) > 0) {
            family.sample(&[("fault", fault.as_str())], self.faults(fault));
        }
        let active = u64::try_from(self.connections_active()).unwrap_or(0);
        out.family("connections_active", Type::Gauge, "Open client connections").sample(&[], active);
        out.family("connections_total", Type::Counter, "Accepted client connections")
            .sample(&[], self.connections_total());
        if self.layout.worker_count > 1 {
            let help = "Client connections accepted by each worker process (hls-swarm origin --workers)";
            let mut family = out.family("worker_connections_total", Type::Counter, help);
            for (worker, accepted) in self.worker_connections().into_iter().enumerate() {
                family.sample(&[("worker", &worker.to_string())], accepted);
            }
        }
        out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_kind_variant_and_status_add_up() {
        let c = Counters::with_variants(vec!["360p".into(), "720p".into()]);
        c.record(ServedKind::Multivariant, "200", 300);
        c.record_for(ServedKind::Segment, Some(1), "200", 1000);
        c.record_for(ServedKind::Segment, Some(1), "aborted", 10);
        c.record_for(ServedKind::Segment, Some(0), "404", 0);
        c.record_for(ServedKind::Other, None, "999", 0);
        c.record_for(ServedKind::Init, Some(0), "200", 700);
        c.record(ServedKind::Key, "200", 16);
        assert_eq!((c.requests(ServedKind::Init, "200"), c.body_bytes(ServedKind::Init)), (1, 700));
        assert_eq!((c.requests(ServedKind::Key, "200"), c.body_bytes(ServedKind::Key)), (1, 16));
        assert_eq!(c.requests(ServedKind::Segment, "200"), 1);
        assert_eq!(c.requests_all(ServedKind::Segment), 3);
        assert_eq!(c.body_bytes(ServedKind::Segment), 1010);
        assert_eq!(
            (c.variant_requests(ServedKind::Segment, "720p"), c.variant_body_bytes(ServedKind::Segment, "720p")),
            (2, 1010)
        );
        assert_eq!(c.variant_requests(ServedKind::Segment, "360p"), 1);
        assert_eq!(c.variant_requests(ServedKind::Segment, "1080p"), 0);
        assert_eq!(c.requests(ServedKind::Other, "other"), 1, "an unknown status counts as other");
        let text = c.encode();
        assert!(
            text.contains("hls_origin_requests_total{kind=\"segment\",variant=\"720p\",status=\"aborted\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("hls_origin_requests_total{kind=\"multivariant\",variant=\"\",status=\"200\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("hls_origin_response_body_bytes_total{kind=\"segment\",variant=\"720p\"} 1010\n"),
            "{text}"
        );
        assert!(
            text.contains("hls_origin_requests_total{kind=\"init\",variant=\"360p\",status=\"200\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("hls_origin_response_body_bytes_total{kind=\"key\",variant=\"\"} 16\n"), "{text}");
    }

    #[test]
    fn low_latency_kinds_and_delta_playlists_count_like_the_others() {
        let c = Counters::with_variants(vec!["360p".into(), "audio".into()]);
        c.record_for(ServedKind::Part, Some(0), "200", 500);
        c.record_for(ServedKind::PreloadHint, Some(1), "200", 70);
        c.record_for(ServedKind::BlockingPlaylist, Some(0), "200", 900);
        c.record_for(ServedKind::BlockingPlaylist, Some(0), "400", 0);
        c.delta_playlist(Some(0));
        assert_eq!((c.requests_all(ServedKind::Part), c.body_bytes(ServedKind::Part)), (1, 500));
        assert_eq!(c.variant_requests(ServedKind::PreloadHint, "audio"), 1);
        assert_eq!(c.requests(ServedKind::BlockingPlaylist, "400"), 1);
        assert_eq!(c.requests_all(ServedKind::BlockingPlaylist), 2);
        assert_eq!(
            (c.delta_playlists(), c.variant_delta_playlists("360p"), c.variant_delta_playlists("audio")),
            (1, 1, 0)
        );
        let text = c.encode();
        for line in [
            "hls_origin_requests_total{kind=\"part\",variant=\"360p\",status=\"200\"} 1\n",
            "hls_origin_requests_total{kind=\"preload_hint\",variant=\"audio\",status=\"200\"} 1\n",
            "hls_origin_requests_total{kind=\"blocking_playlist\",variant=\"360p\",status=\"400\"} 1\n",
            "hls_origin_delta_playlists_total{variant=\"360p\"} 1\n",
        ] {
            assert!(text.contains(line), "{line}{text}");
        }
    }
}
