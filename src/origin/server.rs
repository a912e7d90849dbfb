//! The origin's HTTP side: routing, response heads like a tuned nginx origin, Range, HEAD, faults.
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
use super::playlist::{self, MediaParams};
use super::range::{RangeOutcome, parse_range};
use super::segments::SegmentCache;
use crate::net::server::{Http1Limits, serve_http1};

/// How long shutdown waits for open responses before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Largest request head accepted (hyper answers 431 beyond it).
const MAX_HEAD_BYTES: usize = 16 * 1024;

pub struct Variant {
    pub name: String,
    pub cache: SegmentCache,
}

/// Everything a request handler reads; shared by all connections.
pub struct OriginState {
    pub clock: StreamClock,
    pub variants: Vec<Variant>,
    pub master: Bytes,
    pub params: MediaParams,
    pub counters: Arc<Counters>,
    pub faults: FaultPlan,
    /// `max-age` of live media playlists: half a segment, as tuned origins set it.
    pub playlist_cache_control: HeaderValue,
}

/// Accepts connections until `shutdown` completes, then lets open responses finish (up to a grace).
pub async fn run(listener: TcpListener, state: Arc<OriginState>, shutdown: impl Future<Output = ()>) {
    let serve = |stream, stop, _permit| serve_connection(stream, state.clone(), stop);
    crate::net::server::accept_until(listener, None, shutdown, SHUTDOWN_GRACE, "origin", serve).await;
}

async fn serve_connection(stream: tokio::net::TcpStream, state: Arc<OriginState>, stop: watch::Receiver<bool>) {
    state.counters.connection_opened();
    let service_state = state.clone();
    let service = service_fn(move |req| {
        let state = service_state.clone();
        async move { Ok::<_, Infallible>(handle(&state, req).await) }
    });
    let limits = Http1Limits { head_timeout: Duration::from_secs(30), max_head: Some(MAX_HEAD_BYTES) };
    serve_http1(stream, service, limits, stop).await;
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
    Listing(usize),
    Metrics,
    NotFound(&'a str),
}

impl Route<'_> {
    /// The variant a route serves (`/stream.m3u8` is the first's).
    fn variant(&self) -> Option<usize> {
        match self {
            Route::Media(v) | Route::Segment(v, _) => Some(*v),
            Route::RootMedia => Some(0),
            _ => None,
        }
    }
}

fn route<'a>(state: &OriginState, path: &'a str) -> Route<'a> {
    let find = |name: &str| state.variants.iter().position(|v| v.name == name);
    match path {
        "/master.m3u8" => return Route::Multivariant,
        "/stream.m3u8" => return Route::RootMedia,
        "/files/json/" | "/files/json" => return Route::Listing(0),
        "/metrics" => return Route::Metrics,
        _ => {}
    }
    let rest = path.strip_prefix('/').unwrap_or(path);
    let Some((name, file)) = rest.split_once('/') else { return Route::NotFound(path) };
    let Some(v) = find(name) else { return Route::NotFound(path) };
    match file {
        "stream.m3u8" => Route::Media(v),
        "files/json/" | "files/json" => Route::Listing(v),
        _ => match playlist::parse_segment_name(file) {
            Some(seq) => Route::Segment(v, seq),
            None => Route::NotFound(path),
        },
    }
}

/// A response before it becomes a counted body; only [`finish`] creates an [`OriginBody`], so every
/// response is counted exactly once.
struct Reply {
    kind: ServedKind,
    /// The ladder position of the variant this answers for, if any.
    variant: Option<usize>,
    status: StatusCode,
    content_type: &'static str,
    cache_control: Option<HeaderValue>,
    extra: Option<(header::HeaderName, HeaderValue)>,
    data: Bytes,
}

impl Reply {
    fn new(kind: ServedKind, status: StatusCode, content_type: &'static str, data: Bytes) -> Self {
        Self { kind, variant: None, status, content_type, cache_control: None, extra: None, data }
    }

    fn empty(kind: ServedKind, status: StatusCode) -> Self {
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
    let is_segment = matches!(route, Route::Segment(..));
    let kind = match route {
        Route::Multivariant => ServedKind::Multivariant,
        Route::Media(_) | Route::RootMedia => ServedKind::MediaPlaylist,
        Route::Segment(..) => ServedKind::Segment,
        _ => return finish(state, other(state, route), head_only, None),
    };
    if let Some(delay) = state.faults.config.delay {
        state.counters.fault(Fault::Delay);
        tokio::time::sleep(delay).await;
    }
    let decision = state.faults.decide(is_segment, &state.counters);
    if let Some(code) = decision.status {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let reply = Reply { variant: route.variant(), ..Reply::empty(kind, status) };
        return finish(state, reply, head_only, None);
    }
    let now = Instant::now();
    let reply = match route {
        Route::Multivariant => {
            let mut r = Reply::new(kind, StatusCode::OK, PLAYLIST_TYPE, state.master.clone());
            r.cache_control = Some(HeaderValue::from_static("max-age=60"));
            r
        }
        Route::Media(_) => media_playlist(state, "", now),
        Route::RootMedia => media_playlist(state, &format!("{}/", state.variants[0].name), now),
        Route::Segment(v, seq) => segment(state, v, seq, now, req.headers().get(header::RANGE)),
        _ => Reply::empty(kind, StatusCode::NOT_FOUND),
    };
    let reply = Reply { variant: route.variant(), ..reply };
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
        if let Some(rate) = state.faults.config.bandwidth {
            state.counters.fault(Fault::Bandwidth);
            body = body.throttled(Some(rate));
        }
        body = body.cut_after(reset_after);
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

fn media_playlist(state: &OriginState, prefix: &str, now: Instant) -> Reply {
    let view = state.clock.playlist_view(now);
    if view.stale {
        state.counters.fault(Fault::StalePlaylist);
    }
    // Every variant shares the clock, so the playlists differ only in where their URIs point.
    let text = playlist::media(&view, &state.params, prefix, |i| state.clock.program_date_time(i));
    let mut r = Reply::new(ServedKind::MediaPlaylist, StatusCode::OK, PLAYLIST_TYPE, Bytes::from(text));
    r.cache_control =
        Some(if view.ended { HeaderValue::from_static("max-age=60") } else { state.playlist_cache_control.clone() });
    r
}

fn segment(state: &OriginState, variant: usize, sequence: u64, now: Instant, range: Option<&HeaderValue>) -> Reply {
    let kind = ServedKind::Segment;
    let Some(index) = sequence.checked_sub(state.params.start_sequence) else {
        return Reply::empty(kind, StatusCode::NOT_FOUND);
    };
    if !state.clock.servable(index, now) {
        return Reply::empty(kind, StatusCode::NOT_FOUND);
    }
    let data = state.variants[variant].cache.get(index, state.clock.oldest_servable(now));
    let len = data.len() as u64;
    let range = range.and_then(|r| r.to_str().ok()).map_or(RangeOutcome::Full, |r| parse_range(r, len));
    let mut r = match range {
        RangeOutcome::Full => Reply::new(kind, StatusCode::OK, "video/mp2t", data),
        RangeOutcome::Partial { start, end } => {
            let mut r =
                Reply::new(kind, StatusCode::PARTIAL_CONTENT, "video/mp2t", data.slice(start as usize..=end as usize));
            let value = format!("bytes {start}-{end}/{len}");
            r.extra = HeaderValue::from_str(&value).ok().map(|v| (header::CONTENT_RANGE, v));
            r
        }
        RangeOutcome::Unsatisfiable => {
            let mut r = Reply::empty(kind, StatusCode::RANGE_NOT_SATISFIABLE);
            r.extra = HeaderValue::from_str(&format!("bytes */{len}")).ok().map(|v| (header::CONTENT_RANGE, v));
            return r;
        }
    };
    r.cache_control = Some(HeaderValue::from_static("max-age=60, immutable"));
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
            let mut r = Reply::new(kind, StatusCode::OK, "application/json", Bytes::from(listing(state, v)));
            r.cache_control = Some(HeaderValue::from_static("no-cache"));
            r
        }
        _ => Reply::empty(kind, StatusCode::NOT_FOUND),
    }
}

/// The segment files present now, as nginx `autoindex_format json` lists them.
fn listing(state: &OriginState, variant: usize) -> String {
    #[derive(serde::Serialize)]
    struct Entry {
        name: String,
        #[serde(rename = "type")]
        kind: &'static str,
        mtime: String,
        size: usize,
    }
    let now = Instant::now();
    let produced = state.clock.produced(now);
    let oldest = state.clock.oldest_servable(now);
    let cache = &state.variants[variant].cache;
    let entries: Vec<Entry> = (oldest..produced)
        .map(|i| Entry {
            name: playlist::segment_name(state.params.start_sequence + i),
            kind: "file",
            mtime: httpdate::fmt_http_date(state.clock.completed_at(i)),
            size: cache.get(i, oldest).len(),
        })
        .collect();
    serde_json::to_string(&entries).unwrap_or_else(|_| "[]".into())
}
