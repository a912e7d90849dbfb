//! What `/metrics` says: the swarm's latest [`Snapshot`], the run's fixed facts and the latest
//! [`OriginView`], as Prometheus text format 0.0.4.
//!
//! Rendering reads the snapshot only (it never drains or keeps anything), and its cost is
//! O(kinds x buckets + occupied histogram buckets): nothing is per viewer, so it stays well under a
//! millisecond whatever the swarm's size. Counters come from the snapshot's monotonic `totals`, so
//! they only grow; windowed figures (throughput per window) are gauges.

use crate::live::{RunInfo, Rung};
use crate::metrics::origin_view::{OriginView, SourceState, Stat};
use crate::stats::{ErrorClass, Kind, Metric, Snapshot, StatusClass, Window};

use super::text_writer::{Exposition, Family, Type, Value};

/// Prefix of every family.
pub const PREFIX: &str = "hls_swarm_";

/// Upper bounds of the latency histograms, in seconds (`+Inf` follows). From a 1 ms cache hit on
/// loopback to a 10 s segment that a player would already have given up on.
pub const LATENCY_BOUNDS_S: [f64; 13] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The exposition of one moment of a run.
pub fn render(info: &RunInfo, snapshot: &Snapshot, origin: &OriginView) -> String {
    let mut out = Exposition::new(PREFIX);
    run_families(&mut out, info, snapshot);
    request_families(&mut out, info, snapshot);
    let per_kind = |metric: fn(Kind) -> Metric| Kind::ALL.map(|k| (k.as_str(), metric(k)));
    latency_histogram(&mut out, snapshot, "request_ttfb_seconds", TTFB_HELP, "kind", &per_kind(Metric::Ttfb));
    latency_histogram(
        &mut out,
        snapshot,
        "request_duration_seconds",
        DURATION_HELP,
        "kind",
        &per_kind(Metric::Duration),
    );
    latency_histogram(&mut out, snapshot, "hold_seconds", HOLD_HELP, "kind", &per_kind(Metric::Hold));
    held_families(&mut out, snapshot);
    let phases = [("dns", Metric::Dns), ("connect", Metric::Connect), ("tls", Metric::Tls)];
    latency_histogram(&mut out, snapshot, "connection_setup_seconds", SETUP_HELP, "phase", &phases);
    throughput_family(&mut out, snapshot);
    playback_families(&mut out, snapshot);
    generator_families(&mut out, snapshot);
    origin_families(&mut out, origin);
    out.finish()
}

const TTFB_HELP: &str = "Time from sending a request to its first body byte, ok requests, whole run.";
const DURATION_HELP: &str = "Time from sending a request to the end of its body, ok requests, whole run.";
const HOLD_HELP: &str = "How long the server held an ok held request (a blocking playlist reload, a preload hint): \
                         its time to the first body byte, whole run. Not in request_ttfb_seconds.";
const SETUP_HELP: &str = "Setup of each connection opened (DNS lookup, TCP connect, TLS handshake), whole run; \
                          the connect count is the connections opened.";

fn run_families(out: &mut Exposition, info: &RunInfo, s: &Snapshot) {
    let version = env!("CARGO_PKG_VERSION");
    out.family("info", Type::Gauge, "The run: hls-swarm version, target URL and engine; always 1.")
        .sample(&[("version", version), ("target", &info.target), ("engine", info.engine)], 1u64);
    out.family("clients_target", Type::Gauge, "Viewers the run ramps up to (--clients).")
        .sample(&[], info.clients_target);
    out.family("clients_active", Type::Gauge, "Viewers started and not stopped.").sample(&[], s.gauges.active);
    // Started, not active: a viewer that fails and waits for its restart is still ramped up.
    let started = s.totals.playback.starts as f64;
    let progress = if info.clients_target == 0 { 1.0 } else { (started / f64::from(info.clients_target)).min(1.0) };
    out.family("ramp_progress", Type::Gauge, "Viewers started so far over --clients, 0 to 1.").sample(&[], progress);
    out.family("elapsed_seconds", Type::Gauge, "Run time at the latest snapshot.").sample(&[], s.elapsed.as_secs_f64());
}

/// Requests and bytes by kind and variant (`variant=""`: no variant, such as the multivariant playlist),
/// errors by class. The variant label is bounded by the ladder, never per viewer.
fn request_families(out: &mut Exposition, info: &RunInfo, s: &Snapshot) {
    let label = |v: &crate::stats::VariantStats| {
        if v.is_variant() { Rung::label_of(&info.ladder, v.index) } else { String::new() }
    };
    let variants: Vec<(String, &crate::stats::VariantStats)> = s.variants.iter().map(|v| (label(v), v)).collect();
    let mut f = out.family(
        "requests_total",
        Type::Counter,
        "Requests made, by kind, variant (empty: none) and status class (none: no response head arrived).",
    );
    for kind in Kind::ALL {
        for class in StatusClass::ALL {
            for (variant, v) in &variants {
                let labels = [("kind", kind.as_str()), ("variant", variant.as_str()), ("status_class", class.as_str())];
                f.sample(&labels, v.kinds[kind].by_status.get(class));
            }
        }
    }
    let mut f = out.family(
        "bytes_total",
        Type::Counter,
        "Response body bytes received, by kind and variant (empty: none), whatever the status.",
    );
    for kind in Kind::ALL {
        for (variant, v) in &variants {
            f.sample(&[("kind", kind.as_str()), ("variant", variant.as_str())], v.kinds[kind].bytes);
        }
    }
    // What playback did on each variant of the ladder: one family each, a sample per variant.
    let per_variant: [VariantFamily; 4] = [
        (
            "media_seconds_total",
            Type::Counter,
            "Media the viewers buffered to play, by the variant it came from: the time spent on each rendition.",
            |v| Value::Float(v.playback.media_us as f64 / 1e6),
        ),
        ("variant_viewers", Type::Gauge, "Viewers whose playback is on each variant now.", |v| Value::Int(v.watching)),
        ("variant_stalls_total", Type::Counter, "Stalls that began while each variant played.", |v| {
            Value::Int(v.playback.stalls)
        }),
        ("variant_stall_seconds_total", Type::Counter, "Stalled time while each variant played (ended stalls).", |v| {
            Value::Float(v.playback.stalled_us as f64 / 1e6)
        }),
    ];
    for (name, kind, help, value) in per_variant {
        let mut f = out.family(name, kind, help);
        for (variant, v) in variants.iter().filter(|(_, v)| v.is_variant()) {
            f.sample(&[("variant", variant.as_str())], value(v));
        }
    }
    let mut f = out.family("errors_total", Type::Counter, "Failed requests, by class of failure.");
    let errors = s.totals.errors_by_class();
    for class in ErrorClass::ALL {
        f.sample(&[("class", class.as_str())], errors.get(class));
    }
}

/// A family with a sample per variant: name, type, help, and the variant's value.
type VariantFamily = (&'static str, Type, &'static str, fn(&crate::stats::VariantStats) -> Value);

/// Held requests by kind, and those answered without what they asked for (the server ignored the
/// blocking directive).
fn held_families(out: &mut Exposition, s: &Snapshot) {
    let mut f = out.family(
        "held_total",
        Type::Counter,
        "Held requests (blocking playlist reloads, preload hints), by kind, whatever the answer.",
    );
    for kind in Kind::ALL {
        f.sample(&[("kind", kind.as_str())], s.totals.kinds[kind].held);
    }
    let mut f = out.family(
        "unblocked_total",
        Type::Counter,
        "Held requests answered without what they asked for (the server ignored the directive), by kind.",
    );
    for kind in Kind::ALL {
        f.sample(&[("kind", kind.as_str())], s.totals.kinds[kind].unblocked);
    }
}

/// hls-swarm's own health: how late its viewer threads' timers fire, and whether that is over
/// `--max-lateness` (its figures then include its own delay).
fn generator_families(out: &mut Exposition, s: &Snapshot) {
    let help = "How late the viewer threads' timers fired (a probe on each asks to wake every 10 ms), whole run: \
                hls-swarm's own delay, which every latency measured at that moment includes.";
    latency_histogram(out, s, "generator_lateness_seconds", help, "probe", &[("timer", Metric::Lateness)]);
    let g = &s.generator;
    out.family("generator_saturated", Type::Gauge, "1 while the timers' lateness p99 over 5 s is over --max-lateness.")
        .sample(&[], u64::from(g.saturated));
    out.family("generator_saturated_seconds_total", Type::Counter, "Seconds of the run the generator was saturated.")
        .sample(&[], g.saturated_seconds);
    out.family(
        "generator_cpu_seconds_total",
        Type::Counter,
        "User + system CPU time of hls-swarm since the run started.",
    )
    .sample(&[], g.cpu_seconds);
}

/// A histogram per kind, its buckets derived at scrape time from the whole-run HdrHistogram of
/// `metric` (microseconds).
///
/// A bucket `le=B` counts the HdrHistogram buckets up to the one holding B, as HdrHistogram's
/// `count_between(0, B)` does: a sample within the histogram's precision (0.1%) above a bound can
/// be counted under it. `_sum` weighs each bucket by its middle value, as HdrHistogram's mean does.
/// One histogram family: a label set `label="<value>"` per `(value, metric)` of `series`.
fn latency_histogram(
    out: &mut Exposition,
    s: &Snapshot,
    name: &'static str,
    help: &str,
    label: &str,
    series: &[(&str, Metric)],
) {
    let mut f = out.family(name, Type::Histogram, help);
    for &(value_label, metric) in series {
        let tops = LATENCY_BOUNDS_S.map(|b| metric.highest_equivalent((b * 1e6) as u64));
        let mut cumulative = [0u64; LATENCY_BOUNDS_S.len()];
        let (mut count, mut sum_us) = (0u64, 0u128);
        for (value, n) in s.run_buckets(metric) {
            count += n;
            sum_us += u128::from(metric.median_equivalent(value)) * u128::from(n);
            // Buckets ascend, so the first bound at or above this bucket and every later one hold it.
            if let Some(first) = tops.iter().position(|top| value <= *top) {
                cumulative[first] += n;
            }
        }
        write_histogram(&mut f, (label, value_label), &cumulative, count, sum_us as f64 / 1e6);
    }
}

/// Writes one label set of a histogram; `per_bound` holds each bound's own (not yet cumulative)
/// count.
fn write_histogram(f: &mut Family<'_>, label: (&str, &str), per_bound: &[u64], count: u64, sum: f64) {
    let mut running = 0;
    let mut le = String::new();
    for (bound, n) in LATENCY_BOUNDS_S.iter().zip(per_bound) {
        running += n;
        le.clear();
        super::text_writer::write_value(&mut le, (*bound).into());
        f.suffixed("_bucket", &[label, ("le", &le)], running);
    }
    f.suffixed("_bucket", &[label, ("le", "+Inf")], count);
    f.suffixed("_sum", &[label], sum);
    f.suffixed("_count", &[label], count);
}

/// Segment throughput percentiles per window, as a gauge family rather than a summary: a summary
/// has one `_sum`/`_count` per label set and Prometheus reads its quantiles as one sliding window,
/// while these are five windows (1 s .. 300 s and the whole run) of the same distribution. A window
/// without ok segments has no samples here: "no data" is not zero.
fn throughput_family(out: &mut Exposition, s: &Snapshot) {
    let mut f = out.family(
        "segment_throughput_bytes_per_second",
        Type::Gauge,
        "Ok segments' body bytes over their total time: quantiles per window.",
    );
    for window in Window::ALL {
        let Some(p) = s.window(window).segment_throughput_bps else { continue };
        for (q, v) in [("0.5", p.p50), ("0.9", p.p90), ("0.99", p.p99)] {
            f.sample(&[("window", window.as_str()), ("quantile", q)], v);
        }
    }
}

fn playback_families(out: &mut Exposition, s: &Snapshot) {
    let p = &s.totals.playback;
    out.family("viewers_stalled", Type::Gauge, "Viewers whose playback buffer is empty now.")
        .sample(&[], s.gauges.stalled);
    out.family("stalls_total", Type::Counter, "Stalls begun (a playback buffer ran empty).").sample(&[], p.stalls);
    out.family("stall_seconds_total", Type::Counter, "Length of the stalls that have ended.")
        .sample(&[], p.stalled_us as f64 / 1e6);
    let pb = s.playback();
    let startup_help = "From a viewer's (or session's) start to its first segment buffered, whole run.";
    run_summary(out, s, ("startup_seconds", startup_help), Metric::Startup, pb.startup_ms, 1e6);
    let latency_help = "Live viewers' latency, sampled once a second each: wall clock minus the program \
                        date-time of the media at the playhead, whole run.";
    run_summary(out, s, ("live_latency_seconds", latency_help), Metric::LiveLatency, pb.live_latency_ms, 1e6);
    let edge_help =
        "How many parts behind the live edge low-latency viewers play, sampled with the latency, whole run.";
    run_summary(out, s, ("edge_distance_parts", edge_help), Metric::EdgeDistance, pb.edge_distance_parts, 1.0);
    out.family("segments_skipped_total", Type::Counter, "Segments players jumped over, behind the live window.")
        .sample(&[], p.segments_skipped);
    out.family("restarts_total", Type::Counter, "Viewer sessions restarted after a failure.").sample(&[], p.restarts);
    out.family("playlist_warnings_total", Type::Counter, "Playlist leniencies accepted, as players accept them.")
        .sample(&[], p.playlist_warnings);
    out.family(
        "keys_skipped_total",
        Type::Counter,
        "Keys not fetched (DRM key formats, data: URIs), per viewer and key.",
    )
    .sample(&[], p.keys_skipped);
    let mut switches =
        out.family("variant_switches_total", Type::Counter, "Adaptive viewers' rendition switches, up or down.");
    switches.sample(&[("direction", "up")], p.switches_up);
    switches.sample(&[("direction", "down")], p.switches_down);
}

/// A whole-run summary of `metric`: the quantiles of `pct` (reported units), and `_sum` and `_count`
/// from the run's buckets, each weighed by its middle value as HdrHistogram's mean does.
/// `recorded_per_unit`: recorded units in one of the family's (microseconds in a second: `1e6`).
fn run_summary(
    out: &mut Exposition,
    s: &Snapshot,
    (name, help): (&'static str, &str),
    metric: Metric,
    pct: Option<crate::stats::Percentiles>,
    recorded_per_unit: f64,
) {
    let mut f = out.family(name, Type::Summary, help);
    let reported_per_unit = recorded_per_unit * metric.report_scale();
    if let Some(pct) = pct {
        for (q, v) in [("0.5", pct.p50), ("0.9", pct.p90), ("0.99", pct.p99)] {
            f.sample(&[("quantile", q)], v / reported_per_unit);
        }
    }
    let (mut sum, mut count) = (0u128, 0u64);
    for (v, n) in s.run_buckets(metric) {
        sum += u128::from(metric.median_equivalent(v)) * u128::from(n);
        count += n;
    }
    f.suffixed("_sum", &[], sum as f64 / recorded_per_unit);
    f.suffixed("_count", &[], count);
}

/// The origin side, when metrics of it are configured: the latest value of each figure. A figure
/// not known yet has no sample; a source whose last scrape failed shows `origin_scrape_stale 1`.
fn origin_families(out: &mut Exposition, origin: &OriginView) {
    if let Some(host) = &origin.host {
        gauge(out, "origin_cpu_percent", "Origin host CPU busy, percent (node_exporter).", host.cpu_percent);
        let mem = host.memory_used_percent;
        gauge(out, "origin_memory_used_percent", "Origin host memory in use, percent (node_exporter).", mem);
        let rx = host.net_rx_bytes_per_s;
        gauge(out, "origin_network_receive_bytes_per_second", "Origin host network receive rate, all but lo.", rx);
        let tx = host.net_tx_bytes_per_s;
        gauge(out, "origin_network_transmit_bytes_per_second", "Origin host network transmit rate, all but lo.", tx);
    }
    if let Some(nginx) = &origin.nginx {
        let active = nginx.active_connections;
        gauge(out, "origin_nginx_active_connections", "nginx active connections (nginx exporter).", active);
        let rate = nginx.requests_per_s;
        gauge(out, "origin_nginx_requests_per_second", "nginx requests per second (nginx exporter).", rate);
    }
    if let Some(b) = &origin.builtin {
        out.family("origin_sent_bytes_total", Type::Counter, "Body bytes the built-in origin says it sent.")
            .sample(&[], b.body_bytes_total);
        out.family("origin_sent_requests_total", Type::Counter, "Responses the built-in origin says it sent.")
            .sample(&[], b.requests_total);
    }
    let sources: Vec<(&str, &SourceState)> =
        [origin.host.as_ref().map(|h| ("node", &h.source)), origin.nginx.as_ref().map(|n| ("nginx", &n.source))]
            .into_iter()
            .flatten()
            .collect();
    if !sources.is_empty() {
        let mut f = out.family(
            "origin_scrape_stale",
            Type::Gauge,
            "1 when the last scrape of an origin metrics source failed (its figures are old).",
        );
        for (source, state) in sources {
            f.sample(&[("source", source)], u64::from(state.stale));
        }
    }
}

/// A figure the scraper has not derived yet (e.g. CPU before its second scrape) has no family.
fn gauge(out: &mut Exposition, name: &'static str, help: &str, stat: Option<Stat>) {
    if let Some(stat) = stat {
        out.family(name, Type::Gauge, help).sample(&[], stat.now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::origin_view::{BuiltInFigures, HostFigures, NginxFigures};
    use crate::stats::{Aggregator, Hold, PlaybackEvent, Recorder, RequestRecord};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn info(target: &str) -> RunInfo {
        RunInfo {
            target: target.to_owned(),
            engine: "native",
            clients_target: 4,
            duration: Some(Duration::from_secs(60)),
            ramp_rate: 2.0,
            started: Instant::now(),
            started_at: std::time::SystemTime::UNIX_EPOCH,
            ladder: Vec::new(),
        }
    }

    fn request(kind: Kind, total_ms: u64, ttfb_ms: u64, bytes: u64) -> RequestRecord {
        let mut r = RequestRecord::ok(kind, Duration::from_millis(total_ms), bytes);
        r.timings.ttfb = Some(Duration::from_millis(ttfb_ms));
        r.timings.headers = r.timings.ttfb;
        r
    }

    /// Two ticks of a small run with every kind of figure: latencies on both sides of the bounds,
    /// an error status, a timeout, stalls, startups.
    fn known_snapshot() -> Arc<Snapshot> {
        let start = Instant::now();
        let recorder = Recorder::with_shards(1);
        let mut agg = Aggregator::new(recorder.clone(), start);
        for _ in 0..3 {
            recorder.record_playback(PlaybackEvent::Started);
        }
        // A viewer's first request opens a TLS connection to a host name.
        let mut opened = request(Kind::Multivariant, 3, 2, 420);
        (opened.timings.dns, opened.timings.connect, opened.timings.tls) =
            (Some(Duration::from_micros(700)), Some(Duration::from_micros(300)), Some(Duration::from_millis(7)));
        recorder.record_request(&opened);
        for ms in [1, 2, 4, 9] {
            recorder.record_request(&request(Kind::MediaPlaylist, ms, ms, 300));
        }
        agg.tick(start + Duration::from_secs(1));
        for (ms, bytes) in [(40, 100_000), (120, 250_000), (600, 250_000), (12_000, 250_000)] {
            recorder.record_request(&request(Kind::Segment, ms, 10, bytes));
        }
        // A failed request on a new connection: its setup counts all the same.
        let mut failed = request(Kind::Segment, 5, 5, 0);
        (failed.status, failed.timings.connect, failed.timings.tls) =
            (Some(503), Some(Duration::from_millis(30)), Some(Duration::from_millis(60)));
        recorder.record_request(&failed);
        // Blocking reloads: two held about a part's duration, one the server answered at once.
        for (hold_ms, hold) in [(190, Hold::Held), (420, Hold::Held), (1, Hold::Unblocked)] {
            recorder.record_request(&RequestRecord {
                hold: Some(hold),
                ..request(Kind::BlockingPlaylist, hold_ms + 2, hold_ms, 2_000)
            });
        }
        let mut timeout = request(Kind::MediaPlaylist, 3_000, 0, 0);
        (timeout.status, timeout.timings.ttfb, timeout.error) = (None, None, Some(ErrorClass::Timeout));
        recorder.record_request(&timeout);
        for ms in [800, 1_200] {
            recorder.record_playback(PlaybackEvent::StartupComplete { startup: Duration::from_millis(ms) });
        }
        recorder.record_playback(PlaybackEvent::StallBegan);
        recorder.record_playback(PlaybackEvent::StallEnded { stalled_for: Duration::from_millis(1_500) });
        recorder.record_playback(PlaybackEvent::StallBegan);
        recorder.record_playback(PlaybackEvent::SegmentSkipped { count: 2 });
        recorder.record_playback(PlaybackEvent::Restarted);
        for (ms, parts) in [(2_100, 3), (2_600, 4), (4_000, 9)] {
            recorder.record_playback(PlaybackEvent::LiveLatency { latency: Duration::from_millis(ms) });
            recorder.record_playback(PlaybackEvent::EdgeDistance { parts });
        }
        agg.tick(start + Duration::from_secs(2))
    }

    fn origin_view() -> OriginView {
        let stat = |now: f64| Some(Stat { now, p50: now / 2.0, max: now * 2.0 });
        let mut nginx = NginxFigures { active_connections: stat(12.0), requests_per_s: None, ..Default::default() };
        nginx.source.stale = true;
        OriginView {
            host: Some(HostFigures { cpu_percent: stat(37.5), net_tx_bytes_per_s: stat(1.25e6), ..Default::default() }),
            nginx: Some(nginx),
            builtin: Some(BuiltInFigures { requests_total: 11, body_bytes_total: 851_720, ..Default::default() }),
        }
    }

    fn value(text: &str, series: &str) -> u64 {
        let line = text.lines().find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '));
        let line = line.unwrap_or_else(|| panic!("no sample {series}"));
        line[series.len() + 1..].parse().unwrap_or_else(|_| panic!("not an integer: {line}"))
    }

    #[test]
    fn exposition_of_a_known_run() {
        let text = render(&info("http://127.0.0.1:8080/live/master.m3u8"), &known_snapshot(), &origin_view());
        insta::assert_snapshot!(text);
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_count_ok_requests() {
        let snap = known_snapshot();
        let text = render(&info("t"), &snap, &OriginView::default());
        let dense = snap.run_histograms();
        for kind in Kind::ALL {
            let k = kind.as_str();
            let ok = snap.totals.kinds[kind].ok;
            let name = "hls_swarm_request_duration_seconds";
            assert_eq!(value(&text, &format!("{name}_count{{kind=\"{k}\"}}")), ok, "{k}");
            let mut previous = 0;
            for bound in LATENCY_BOUNDS_S {
                let n = value(&text, &format!("{name}_bucket{{kind=\"{k}\",le=\"{bound}\"}}"));
                assert!(n >= previous, "{k}: le={bound} holds {n} < {previous}");
                let expected =
                    dense.get(Metric::Duration(kind)).map_or(0, |h| h.count_between(0, (bound * 1e6) as u64));
                assert_eq!(n, expected, "{k}: le={bound} disagrees with HdrHistogram");
                previous = n;
            }
            assert_eq!(value(&text, &format!("{name}_bucket{{kind=\"{k}\",le=\"+Inf\"}}")), ok);
        }
        let ttfb = "hls_swarm_request_ttfb_seconds_count{kind=\"segment\"}";
        assert_eq!(value(&text, ttfb), 4, "the 503 has no latency sample");
        let req = "hls_swarm_requests_total{kind=\"media_playlist\",variant=\"\",status_class=\"none\"}";
        assert_eq!(value(&text, req), 1);
    }

    #[test]
    fn live_latency_and_edge_distance_are_summaries() {
        let text = render(&info("t"), &known_snapshot(), &OriginView::default());
        assert_eq!(value(&text, "hls_swarm_live_latency_seconds_count"), 3);
        assert_eq!(value(&text, "hls_swarm_edge_distance_parts_count"), 3);
        assert_eq!(value(&text, "hls_swarm_edge_distance_parts_sum"), 16);
        assert_eq!(value(&text, "hls_swarm_edge_distance_parts{quantile=\"0.5\"}"), 4);
        let line = text.lines().find(|l| l.starts_with("hls_swarm_live_latency_seconds{quantile=\"0.5\"}")).unwrap();
        let seconds: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((seconds - 2.6).abs() < 0.003, "{line}");
        assert!(text.contains("# TYPE hls_swarm_live_latency_seconds summary\n"));
    }

    #[test]
    fn held_requests_have_their_hold_apart() {
        let text = render(&info("t"), &known_snapshot(), &OriginView::default());
        let kind = "{kind=\"blocking_playlist\"}";
        assert_eq!(value(&text, &format!("hls_swarm_held_total{kind}")), 3);
        assert_eq!(value(&text, &format!("hls_swarm_unblocked_total{kind}")), 1);
        assert_eq!(value(&text, &format!("hls_swarm_hold_seconds_count{kind}")), 3);
        assert_eq!(value(&text, &format!("hls_swarm_request_ttfb_seconds_count{kind}")), 0, "a hold is no TTFB");
        assert_eq!(value(&text, "hls_swarm_hold_seconds_bucket{kind=\"blocking_playlist\",le=\"0.25\"}"), 2);
        assert_eq!(value(&text, "hls_swarm_held_total{kind=\"segment\"}"), 0);
    }

    #[test]
    fn target_label_is_escaped() {
        let text = render(&info("http://h/\"a\\b\"\n"), &Snapshot::empty(), &OriginView::default());
        let line = text.lines().find(|l| l.starts_with("hls_swarm_info{")).unwrap();
        assert!(line.contains(r#"target="http://h/\"a\\b\"\n""#), "{line}");
    }

    #[test]
    fn empty_run_has_no_origin_families_and_no_throughput_samples() {
        let text = render(&info("t"), &Snapshot::empty(), &OriginView::default());
        assert!(!text.contains("origin_"), "{text}");
        assert!(!text.contains("hls_swarm_segment_throughput_bytes_per_second{"), "{text}");
        assert_eq!(value(&text, "hls_swarm_startup_seconds_count"), 0);
        assert_eq!(value(&text, "hls_swarm_live_latency_seconds_count"), 0);
        assert!(!text.contains("hls_swarm_live_latency_seconds{"), "no quantiles without samples:\n{text}");
        assert!(text.contains("# TYPE hls_swarm_requests_total counter\n"));
    }
}
