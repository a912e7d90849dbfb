//! The origin's HTTP side: routing, response heads like a tuned nginx origin, Range, HEAD, faults.
//!
//! URL scheme, per track (a variant, or the audio rendition `audio`): `/<track>/stream.m3u8`,
//! `/<track>/seg00042.ts` (or `.m4s`), `/<track>/init.mp4` (fMP4), `/<track>/file00003.ts` (byte-range
//! resource 3: segments `3 * n .. 4 * n` from the stream's first), `/<track>/part00042.3.m4s`
//! (low-latency: part 3 of segment 42); and `/keys/<n>.key` (AES-128). Low-latency media playlists
//! read the delivery directives of their query (`_HLS_msn`, `_HLS_part`, `_HLS_skip`).
//! Connections speak HTTP/1.1, or HTTP/2 when they open with its preface (h2c with prior knowledge).
//! `run` takes a bound listener and a shutdown future (as mini-redis' `server::run` does), so the CLI,
//! `hls-swarm run` and the tests all start it the same way.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::body::OriginBody;
use super::clock::StreamClock;
use super::counters::{Counters, Fault, ServedKind, status_label};
use super::faults::FaultPlan;
use super::hold::PartTicks;
use super::keys::KeySchedule;
use super::llhls;
use super::lowlatency::{self, Ask};
use super::playlist::{self, LowLatencyFacts, MediaParams, SegmentFacts};
use super::range::{RangeOutcome, parse_range};
use super::segments::SegmentCache;
use crate::net::server::{Http1Limits, serve_http};

/// How long shutdown waits for open responses before dropping them.
pub(super) const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Largest request head accepted (hyper answers 431 beyond it).
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// One media playlist's files: a variant, or the audio rendition (after the ladder, so its position
/// is its counter slot).
pub struct Track {
    pub name: String,
    pub cache: SegmentCache,
    /// The fMP4 init section.
    pub init: Option<Bytes>,
    /// The regular media playlist last written, for the requests that ask for the same view: it changes
    /// once a segment (formatting it, durations and dates, was most of a playlist request's CPU).
    pub rendered: std::sync::Mutex<Option<Rendered>>,
}

/// A media playlist as written for one view and URI prefix.
pub struct Rendered {
    view: super::clock::PlaylistView,
    prefix: String,
    text: Bytes,
}

/// Everything a request handler reads; shared by all connections.
pub struct OriginState {
    pub clock: StreamClock,
    pub tracks: Vec<Track>,
    pub master: Bytes,
    pub params: MediaParams,
    pub keys: Option<KeySchedule>,
    pub counters: Arc<Counters>,
    pub faults: FaultPlan,
    /// `max-age` of live media playlists: half a segment, as tuned origins set it.
    pub playlist_cache_control: HeaderValue,
    /// Wakes held low-latency requests at each part produced.
    pub ticks: PartTicks,
}

/// Accepts connections until `shutdown` completes, then lets open responses finish (up to a grace).
/// A low-latency origin ticks its parts meanwhile, so held requests wake.
pub async fn run(listener: TcpListener, state: Arc<OriginState>, shutdown: impl Future<Output = ()>) {
    let serve = |stream, stop, _permit| serve_connection(stream, state.clone(), stop);
    let accept = crate::net::server::accept_until(listener, None, shutdown, SHUTDOWN_GRACE, "origin", serve);
    if state.params.parts.is_none() {
        return accept.await;
    }
    tokio::select! {
        _ = accept => {}
        _ = state.ticks.run(&state.clock) => {}
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, state: Arc<OriginState>, stop: watch::Receiver<bool>) {
    state.counters.connection_opened();
    let service_state = state.clone();
    let service = service_fn(move |req| {
        let state = service_state.clone();
        async move { Ok::<_, Infallible>(handle(&state, req).await) }
    });
    let limits = Http1Limits { head_timeout: Duration::from_secs(30), max_head: Some(MAX_HEAD_BYTES) };
    serve_http(stream, service, limits, stop).await;
    state.counters.connection_closed();
}

/// What a path names.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Multivariant,
    Media(usize),
    /// `/stream.m3u8`: the first variant's playlist, its URIs prefixed with the variant's folder.
    RootMedia,
    Segment(usize, u64),
    /// A byte-range resource, by number.
    Resource(usize, u64),
    /// A low-latency part: its segment's media sequence number and its index.
    Part(usize, u64, u64),
    Init(usize),
    Key(u64),
    Listing(usize),
    Metrics,
    NotFound(&'a str),
}

impl Route<'_> {
    /// The track a route serves (`/stream.m3u8` is the first variant's).
    fn track(&self) -> Option<usize> {
        match self {
            Route::Media(t) | Route::Segment(t, _) | Route::Resource(t, _) | Route::Init(t) | Route::Part(t, ..) => {
                Some(*t)
            }
            Route::RootMedia => Some(0),
            _ => None,
        }
    }

    /// The kind it is counted as; `None`: not media (metrics, listings, 404s).
    fn kind(&self) -> Option<ServedKind> {
        match self {
            Route::Multivariant => Some(ServedKind::Multivariant),
            Route::Media(_) | Route::RootMedia => Some(ServedKind::MediaPlaylist),
            Route::Segment(..) | Route::Resource(..) => Some(ServedKind::Segment),
            Route::Init(_) => Some(ServedKind::Init),
            Route::Key(_) => Some(ServedKind::Key),
            Route::Part(..) => Some(ServedKind::Part),
            _ => None,
        }
    }
}

fn route<'a>(state: &OriginState, path: &'a str) -> Route<'a> {
    let find = |name: &str| state.tracks.iter().position(|t| t.name == name);
    match path {
        "/master.m3u8" => return Route::Multivariant,
        "/stream.m3u8" => return Route::RootMedia,
        "/files/json/" | "/files/json" => return Route::Listing(0),
        "/metrics" => return Route::Metrics,
        _ => {}
    }
    if state.keys.is_some()
        && let Some(number) = playlist::parse_key_path(path)
    {
        return Route::Key(number);
    }
    let rest = path.strip_prefix('/').unwrap_or(path);
    let Some((name, file)) = rest.split_once('/') else { return Route::NotFound(path) };
    let Some(t) = find(name) else { return Route::NotFound(path) };
    let container = state.params.container;
    match file {
        "stream.m3u8" => Route::Media(t),
        "files/json/" | "files/json" => Route::Listing(t),
        playlist::INIT_NAME if state.tracks[t].init.is_some() => Route::Init(t),
        _ if state.params.parts.is_some() && file.starts_with("part") => match llhls::parse_part_name(file) {
            Some((sequence, part)) => Route::Part(t, sequence, part),
            None => Route::NotFound(path),
        },
        _ if state.params.byterange.is_some() => match playlist::parse_resource_name(file, container) {
            Some(number) => Route::Resource(t, number),
            None => Route::NotFound(path),
        },
        _ => match playlist::parse_segment_name(file, container) {
            Some(seq) => Route::Segment(t, seq),
            None => Route::NotFound(path),
        },
    }
}

/// A response before it becomes a counted body; only [`finish`] creates an [`OriginBody`], so every
/// response is counted exactly once.
pub(super) struct Reply {
    pub(super) kind: ServedKind,
    /// The ladder position of the variant this answers for, if any.
    variant: Option<usize>,
    status: StatusCode,
    content_type: &'static str,
    pub(super) cache_control: Option<HeaderValue>,
    extra: Option<(header::HeaderName, HeaderValue)>,
    data: Bytes,
    /// A delta playlist (EXT-X-SKIP), counted as one when sent in full.
    delta: bool,
}

impl Reply {
    pub(super) fn new(kind: ServedKind, status: StatusCode, content_type: &'static str, data: Bytes) -> Self {
        Self { kind, variant: None, status, content_type, cache_control: None, extra: None, data, delta: false }
    }

    pub(super) fn empty(kind: ServedKind, status: StatusCode) -> Self {
        Self::new(kind, status, "text/plain", Bytes::new())
    }
}

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";

async fn handle(state: &OriginState, req: Request<Incoming>) -> Response<OriginBody> {
    let head_only = req.method() == Method::HEAD;
    let path = merge_slashes(req.uri().path());
    let route = route(state, &path);
    if req.method() == Method::OPTIONS {
        return preflight(state, &req);
    }
    if req.method() != Method::GET && !head_only {
        let mut reply = Reply::empty(ServedKind::Other, StatusCode::METHOD_NOT_ALLOWED);
        reply.extra = Some((header::ALLOW, HeaderValue::from_static(METHODS)));
        return finish(state, reply, false, None);
    }
    let Some(kind) = route.kind() else { return finish(state, other(state, route), head_only, None) };
    // What a low-latency request asks for is read as it arrives: a part asked before it exists is a
    // preload hint's, however long a delay fault then holds it.
    let media = matches!(route, Route::Media(_) | Route::RootMedia);
    let part = match route {
        Route::Part(_, sequence, part) => Some((sequence, part)),
        _ => None,
    };
    let ask = Ask::of(state, media, part, req.uri().query(), Instant::now());
    let kind = ask.kind().unwrap_or(kind);
    if let Some(delay) = state.faults.current().delay {
        state.counters.fault(Fault::Delay);
        tokio::time::sleep(delay).await;
    }
    // Init sections, keys and parts are files a player fetches like segments, and fail like them.
    let playlist = matches!(kind, ServedKind::Multivariant | ServedKind::MediaPlaylist | ServedKind::BlockingPlaylist);
    let segment_like = !playlist;
    let decision = state.faults.decide(segment_like, &state.counters);
    if let Some(code) = decision.status {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let reply = Reply { variant: route.track(), ..Reply::empty(kind, status) };
        return finish(state, reply, head_only, None);
    }
    let now = Instant::now();
    let range = req.headers().get(header::RANGE);
    let reply = match route {
        Route::Multivariant => {
            let mut r = Reply::new(kind, StatusCode::OK, PLAYLIST_TYPE, state.master.clone());
            r.cache_control = Some(HeaderValue::from_static("max-age=60"));
            r
        }
        Route::Media(_) | Route::RootMedia => {
            let (t, prefix, report_prefix) = match route {
                Route::Media(t) => (t, String::new(), "../"),
                _ => (0, format!("{}/", state.tracks[0].name), ""),
            };
            match ask {
                Ask::Playlist { directives, .. } => {
                    lowlatency::media_playlist(state, t, &prefix, report_prefix, directives, kind).await
                }
                _ => playlist_reply(state, t, &prefix, now, &LowLatencyFacts::default()),
            }
        }
        Route::Part(t, _, part) => lowlatency::part(state, t, part, &ask, kind, range).await,
        Route::Segment(t, seq) => segment(state, t, seq, now, range),
        Route::Resource(t, number) => resource(state, t, number, now, range),
        Route::Init(t) => init(state, t, range),
        Route::Key(number) => key(state, number, now),
        _ => Reply::empty(kind, StatusCode::NOT_FOUND),
    };
    let reply = Reply { variant: route.track(), ..reply };
    finish(state, reply, head_only, decision.reset_after)
}

/// The methods the origin answers.
const METHODS: &str = "GET, HEAD, OPTIONS";

/// `//master.m3u8` is `/master.m3u8`, as nginx's `merge_slashes on` has it (what a user gets appending
/// a path to the printed base URL).
fn merge_slashes(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.contains("//") {
        return path.into();
    }
    let mut merged = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && merged.ends_with('/')) {
            merged.push(c);
        }
    }
    merged.into()
}

/// A browser's CORS preflight (`OPTIONS` with `Access-Control-Request-Method`): allowed from any
/// origin, as origins for web players answer it, with the headers it asked for (a player sends
/// `Range`). Counted as `other`.
fn preflight(state: &OriginState, req: &Request<Incoming>) -> Response<OriginBody> {
    let mut resp = finish(state, Reply::empty(ServedKind::Other, StatusCode::NO_CONTENT), false, None);
    let headers = resp.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(METHODS));
    let asked = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned();
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.unwrap_or(HeaderValue::from_static("Range")));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    headers.insert(header::ALLOW, HeaderValue::from_static(METHODS));
    resp
}

/// Builds the response head and its counted body; HEAD keeps the head (with Content-Length) only.
/// Every response may be read by a player in a browser page of any origin (CORS).
fn finish(state: &OriginState, reply: Reply, head_only: bool, reset_after: Option<f64>) -> Response<OriginBody> {
    let len = reply.data.len();
    let data = if head_only { Bytes::new() } else { reply.data };
    let served = (reply.kind, reply.variant);
    let mut body = OriginBody::new(data, served, status_label(reply.status.as_u16()), state.counters.clone());
    if reply.status.is_success() && reply.kind != ServedKind::Other && !head_only {
        if let Some(rate) = state.faults.current().bandwidth {
            state.counters.fault(Fault::Bandwidth);
            body = body.throttled(Some(rate));
        }
        body = body.cut_after(reset_after).delta(reply.delta);
    }
    let mut resp = Response::new(body);
    *resp.status_mut() = reply.status;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Content-Length, Content-Range, Date, Age"),
    );
    if let Some(cc) = reply.cache_control {
        headers.insert(header::CACHE_CONTROL, cc);
    }
    if let Some((name, value)) = reply.extra {
        headers.insert(name, value);
    }
    if head_only {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    resp
}

/// The media playlist of `track` at `now` (low-latency when the origin is: `low_latency` says what
/// it adds).
pub(super) fn playlist_reply(
    state: &OriginState,
    track: usize,
    prefix: &str,
    now: Instant,
    low_latency: &LowLatencyFacts<'_>,
) -> Reply {
    let view = state.clock.playlist_view(now);
    if view.stale {
        state.counters.fault(Fault::StalePlaylist);
    }
    // Every track shares the clock, so the playlists differ only in where their URIs point and, with
    // byte ranges, in the segments' lengths.
    let cache = &state.tracks[track].cache;
    let keep_lengths_from = first_of_resource(state, state.clock.oldest_servable(now).min(view.first));
    let facts = SegmentFacts {
        program_date_time: |i| state.clock.program_date_time(i),
        len: |i| cache.len(i, keep_lengths_from),
    };
    // Low-latency replies differ by their directives (delta, reports) and change every part: written each time.
    let plain = !low_latency.delta && low_latency.reports.is_empty();
    let render = || Bytes::from(playlist::media_low_latency(&view, &state.params, prefix, facts, low_latency));
    let text = if plain {
        let mut kept = state.tracks[track].rendered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match kept.as_ref().filter(|r| r.view == view && r.prefix == prefix) {
            Some(r) => r.text.clone(),
            None => kept.insert(Rendered { view, prefix: prefix.to_owned(), text: render() }).text.clone(),
        }
    } else {
        render()
    };
    let mut r = Reply::new(ServedKind::MediaPlaylist, StatusCode::OK, PLAYLIST_TYPE, text);
    let target = playlist::target_duration(state.params.segment_duration);
    r.delta = low_latency.delta
        && state.params.parts.is_some()
        && llhls::PartParams::skipped(&view, state.params.segment_duration, target) > 0;
    r.cache_control =
        Some(if view.ended { HeaderValue::from_static("max-age=60") } else { state.playlist_cache_control.clone() });
    r
}

/// The first segment of the byte-range resource holding segment `index` (`index` without byte ranges).
pub(super) fn first_of_resource(state: &OriginState, index: u64) -> u64 {
    state.params.resource_of(index).map_or(index, |(_, first)| first)
}

fn segment(state: &OriginState, track: usize, sequence: u64, now: Instant, range: Option<&HeaderValue>) -> Reply {
    let kind = ServedKind::Segment;
    let Some(index) = sequence.checked_sub(state.params.start_sequence) else {
        return Reply::empty(kind, StatusCode::NOT_FOUND);
    };
    if !state.clock.servable(index, now) {
        return Reply::empty(kind, StatusCode::NOT_FOUND);
    }
    let data = state.tracks[track].cache.get(index, state.clock.oldest_servable(now));
    let mut r = ranged(kind, state.params.container.content_type(), data.len() as u64, range, |a, b| {
        data.slice(a as usize..b as usize)
    });
    r.cache_control.get_or_insert(HeaderValue::from_static("max-age=60, immutable"));
    r
}

/// Byte-range resource `number` of `track`: its segments one after another, as far as they are
/// produced (a live resource grows like a file a packager appends to). A plain GET gets it whole; a
/// `Range` gets those bytes, sliced from one segment without a copy when they lie in one. It is
/// servable while its newest segment is.
fn resource(state: &OriginState, track: usize, number: u64, now: Instant, range: Option<&HeaderValue>) -> Reply {
    let kind = ServedKind::Segment;
    let n = state.params.byterange.unwrap_or(1);
    let first = number.checked_mul(n);
    let end = first.map(|f| f.saturating_add(n).min(state.clock.produced(now)));
    let (Some(first), Some(end)) = (first, end) else { return Reply::empty(kind, StatusCode::NOT_FOUND) };
    if end <= first || !state.clock.servable(end - 1, now) {
        return Reply::empty(kind, StatusCode::NOT_FOUND);
    }
    let cache = &state.tracks[track].cache;
    let keep = first.min(state.clock.oldest_servable(now));
    let lens: Vec<u64> = (first..end).map(|i| cache.len(i, first_of_resource(state, keep))).collect();
    let total = lens.iter().sum();
    let content_type = state.params.container.content_type();
    let mut r = ranged(kind, content_type, total, range, |a, b| {
        let mut parts = Vec::new();
        let mut at = 0;
        for (i, len) in (first..end).zip(&lens) {
            let (start, stop) = (a.max(at), b.min(at + len));
            if start < stop {
                parts.push(cache.get(i, keep).slice((start - at) as usize..(stop - at) as usize));
            }
            at += len;
        }
        match parts.len() {
            1 => parts.remove(0),
            _ => Bytes::from(parts.concat()),
        }
    });
    let complete = end - first == n || state.clock.playlist_view(now).ended;
    if !complete {
        // Still growing: a cache must not keep this length.
        r.cache_control = Some(state.playlist_cache_control.clone());
    }
    r.cache_control.get_or_insert(HeaderValue::from_static("max-age=60, immutable"));
    r
}

/// A body of `len` bytes, whole or the range the request asked for (200, 206 with Content-Range, or
/// 416); `bytes(a, b)` gives bytes `a..b`, and is called only for what is sent.
pub(super) fn ranged(
    kind: ServedKind,
    content_type: &'static str,
    len: u64,
    range: Option<&HeaderValue>,
    bytes: impl FnOnce(u64, u64) -> Bytes,
) -> Reply {
    let range = range.and_then(|r| r.to_str().ok()).map_or(RangeOutcome::Full, |r| parse_range(r, len));
    match range {
        RangeOutcome::Full => Reply::new(kind, StatusCode::OK, content_type, bytes(0, len)),
        RangeOutcome::Partial { start, end } => {
            let mut r = Reply::new(kind, StatusCode::PARTIAL_CONTENT, content_type, bytes(start, end + 1));
            let value = format!("bytes {start}-{end}/{len}");
            r.extra = HeaderValue::from_str(&value).ok().map(|v| (header::CONTENT_RANGE, v));
            r
        }
        RangeOutcome::Unsatisfiable => {
            let mut r = Reply::empty(kind, StatusCode::RANGE_NOT_SATISFIABLE);
            r.extra = HeaderValue::from_str(&format!("bytes */{len}")).ok().map(|v| (header::CONTENT_RANGE, v));
            r.cache_control = Some(HeaderValue::from_static("no-cache"));
            r
        }
    }
}

fn init(state: &OriginState, track: usize, range: Option<&HeaderValue>) -> Reply {
    let data = state.tracks[track].init.clone().unwrap_or_default();
    let mut r = ranged(ServedKind::Init, state.params.container.content_type(), data.len() as u64, range, |a, b| {
        data.slice(a as usize..b as usize)
    });
    r.cache_control.get_or_insert(HeaderValue::from_static("max-age=60, immutable"));
    r
}

/// Key `number`, once its first segment has been produced (a key server does not hand out keys of
/// media that does not exist yet). Whole, whatever `Range` is asked, as key servers answer (HTTP lets a
/// server ignore Range): FFmpeg 5.1 asks for a key with the Range of the segment it is for, which a
/// 16-byte file cannot satisfy, and would fail the stream on a 416.
fn key(state: &OriginState, number: u64, now: Instant) -> Reply {
    let kind = ServedKind::Key;
    let Some(keys) = &state.keys else { return Reply::empty(kind, StatusCode::NOT_FOUND) };
    if keys.first_segment(number).is_none_or(|first| first >= state.clock.produced(now)) {
        return Reply::empty(kind, StatusCode::NOT_FOUND);
    }
    let key = Bytes::copy_from_slice(&keys.key(number));
    let mut r =
        ranged(kind, "application/octet-stream", key.len() as u64, None, |a, b| key.slice(a as usize..b as usize));
    r.cache_control.get_or_insert(HeaderValue::from_static("max-age=60"));
    r
}

/// Paths that are not media: `/metrics`, the JSON listings, and 404s.
fn other(state: &OriginState, route: Route<'_>) -> Reply {
    let kind = ServedKind::Other;
    match route {
        Route::Metrics => Reply::new(
            kind,
            StatusCode::OK,
            crate::metrics::text_writer::CONTENT_TYPE,
            Bytes::from(state.counters.encode()),
        ),
        Route::Listing(v) => {
            let mut r =
                Reply::new(kind, StatusCode::OK, "application/json", Bytes::from(super::listing::listing(state, v)));
            r.cache_control = Some(HeaderValue::from_static("no-cache"));
            r
        }
        _ => Reply::empty(kind, StatusCode::NOT_FOUND),
    }
}
