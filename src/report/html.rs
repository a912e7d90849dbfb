//! `--report-html FILE` and `hls-swarm report html`: a report as one self-contained HTML page: the
//! run's settings, thresholds, tables per kind and per variant, charts over time and latency
//! distributions, and the text summary.
//!
//! Charts are inline SVG drawn in Rust with the `plotters` crate's SVG backend: no script and no
//! request when the page is opened (it must work as a CI artifact or a mail attachment, and a
//! Content-Security-Policy of `default-src 'none'` says so to the browser), text a reader can select
//! and search, and a page of some hundred kilobytes. A chart library in JavaScript would have put its
//! own code (and a script) in every file.

use std::fmt::Write as _;

use plotters::prelude::*;

use super::json::{KindReport, Report};
use super::xml_escape as esc;
use crate::stats::{Kind, Metric, RunHistograms};

const WIDTH: u32 = 960;
const HEIGHT: u32 = 280;
/// Colour-blind-safe (Okabe-Ito), in the order series take them.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
];

/// One line of a chart.
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
}

impl Series {
    fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series { name: name.into(), points }
    }
}

/// The page.
pub fn page(report: &Report) -> String {
    let mut out = String::with_capacity(256 * 1024);
    let title = format!("hls-swarm: {} viewers against {}", report.clients.target, report.target);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n\
         </head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    settings(&mut out, report);
    thresholds(&mut out, report);
    requests(&mut out, report);
    variants(&mut out, report);
    let _ = writeln!(out, "<h2>Over time</h2>");
    for chart in over_time(report) {
        out.push_str(&chart);
    }
    let _ = writeln!(out, "<h2>Latency distributions</h2>");
    let _ = writeln!(
        out,
        "<p class=\"note\">Each curve is the run's whole HdrHistogram: the value below which that share of the samples fell.</p>"
    );
    for chart in distributions(report) {
        out.push_str(&chart);
    }
    let _ = writeln!(out, "<h2>Summary</h2>\n<pre>{}</pre>", esc(&super::summary(report)));
    let _ = writeln!(
        out,
        "<footer>{} {}: report schema {}</footer>\n</body></html>",
        esc(&report.tool.name),
        esc(&report.tool.version),
        report.schema_version
    );
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1000px;color:#222;padding:0 1em}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{padding:.2em .45em;border-bottom:1px solid #eee;text-align:right}\
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.pass{color:#007a4d;font-weight:600}\
.fail{color:#c0392b;font-weight:600}.banner{background:#fdecea;border:1px solid #c0392b;padding:.5em;margin:.5em 0}\
.note{color:#555;font-size:.9em}pre{font-size:.78em;overflow-x:auto;background:#f8f8f8;padding:.6em}\
.facts td{text-align:left}figure{margin:.8em 0}figcaption{font-size:.85em;color:#444}footer{margin-top:2em;color:#777;font-size:.8em}";

fn settings(out: &mut String, r: &Report) {
    let _ = writeln!(out, "<h2>Run</h2>\n<table class=\"facts\">");
    let row = |out: &mut String, k: &str, v: String| {
        let _ = writeln!(out, "<tr><td>{k}</td><td>{}</td></tr>", esc(&v));
    };
    row(out, "target", r.target.clone());
    row(out, "engine", r.engine.clone());
    row(out, "started", r.started_at.clone());
    row(out, "duration", format!("{:.1} s", r.duration_seconds));
    row(
        out,
        "viewers",
        format!(
            "{} (ramp {} per s), peak {}, starts {}, restarts {}",
            r.clients.target, r.clients.ramp_rate, r.clients.peak_active, r.clients.starts, r.clients.restarts
        ),
    );
    let g = &r.generator;
    row(
        out,
        "generator",
        format!(
            "{} thread(s), {:.1} s of CPU, saturated {:.0} s (over {} ms of timer lateness)",
            g.threads, g.cpu_seconds, g.saturated_seconds, g.max_lateness_ms
        ),
    );
    for m in &r.merged_from {
        row(
            out,
            "merged from",
            format!(
                "{}: {} viewers against {}, {}, {:.1} s",
                m.file, m.clients_target, m.target, m.started_at, m.duration_seconds
            ),
        );
    }
    let _ = writeln!(out, "</table>");
    if r.generator.saturated_seconds > 0.0 {
        let _ = writeln!(
            out,
            "<p class=\"banner\">The generator was saturated for {:.0} s: latencies in those seconds include hls-swarm's own delay.</p>",
            r.generator.saturated_seconds
        );
    }
    for note in &r.warnings.notes {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(note));
    }
}

fn thresholds(out: &mut String, r: &Report) {
    if let Some(a) = &r.aborted {
        let _ = writeln!(
            out,
            "<p class=\"banner\">Ended early at {:.0} s: threshold <code>{}</code> failed (--abort-on-fail).</p>",
            a.at_seconds,
            esc(&a.threshold)
        );
    }
    if r.thresholds.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h2>Thresholds</h2>\n<table><tr><th>threshold</th><th>value</th><th>verdict</th></tr>");
    for t in &r.thresholds {
        let value = t.shown();
        let (class, verdict) = if t.passed { ("pass", "pass") } else { ("fail", "FAIL") };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"{class}\">{verdict}</td></tr>",
            esc(&t.expression),
            esc(&value)
        );
    }
    let _ = writeln!(out, "</table>");
}

fn ms(p: Option<f64>) -> String {
    p.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

fn kind_row(out: &mut String, name: &str, k: &KindReport) {
    let t = k.ttfb_ms.as_ref();
    let _ = writeln!(
        out,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        esc(name),
        k.count,
        k.ok,
        k.errors,
        super::bytes(k.bytes as f64),
        ms(t.map(|p| p.p50)),
        ms(t.map(|p| p.p90)),
        ms(t.map(|p| p.p99)),
        ms(t.map(|p| p.max)),
        ms(k.duration_ms.map(|p| p.p99)),
    );
}

fn requests(out: &mut String, r: &Report) {
    let _ = writeln!(
        out,
        "<h2>Requests</h2>\n<table><tr><th>kind</th><th>count</th><th>ok</th><th>errors</th><th>bytes</th>\
         <th>TTFB p50</th><th>p90</th><th>p99</th><th>max</th><th>total p99</th></tr>"
    );
    for kind in Kind::ALL {
        if let Some(k) = r.requests.get(kind.as_str()).filter(|k| k.count > 0) {
            kind_row(out, kind.as_str(), k);
        }
    }
    let _ =
        writeln!(out, "</table><p class=\"note\">Times in ms; held requests (LL-HLS) have their hold, not a TTFB.</p>");
    let errors: Vec<String> =
        r.errors.iter().filter(|(_, n)| **n > 0).map(|(class, n)| format!("{} {n}", esc(class))).collect();
    let p = &r.playback;
    let _ = writeln!(
        out,
        "<table><tr><td>errors</td><td>{}</td></tr><tr><td>segments</td><td>{} downloaded, {} skipped, {}</td></tr>\
         <tr><td>startup</td><td>p50 {} ms, p99 {} ms</td></tr><tr><td>stalls</td><td>{} ({:.1} s), peak {} viewers stalled</td></tr>\
         <tr><td>live latency</td><td>p50 {} ms, p99 {} ms</td></tr><tr><td>switches</td><td>up {}, down {}</td></tr></table>",
        if errors.is_empty() { "none".to_owned() } else { errors.join(", ") },
        r.segments.downloaded,
        r.segments.skipped,
        super::bytes(r.segments.bytes as f64),
        ms(p.startup_ms.map(|s| s.p50)),
        ms(p.startup_ms.map(|s| s.p99)),
        p.stall_count,
        p.stall_seconds,
        p.stalled_viewers_peak,
        ms(p.live_latency_ms.map(|s| s.p50)),
        ms(p.live_latency_ms.map(|s| s.p99)),
        p.switches_up,
        p.switches_down,
    );
}

fn variants(out: &mut String, r: &Report) {
    if r.variants.is_empty() {
        return;
    }
    let media: f64 = r.variants.iter().map(|v| v.playback.media_seconds).sum();
    let _ = writeln!(
        out,
        "<h2>Variants</h2>\n<table><tr><th>variant</th><th>type</th><th>bandwidth</th><th>requests</th><th>segments</th>\
         <th>errors</th><th>bytes</th><th>segment TTFB p50</th><th>p99</th><th>media share</th><th>startups</th>\
         <th>stalls</th><th>switches to</th></tr>"
    );
    for v in &r.variants {
        let sum = |f: fn(&KindReport) -> u64| v.requests.values().map(f).sum::<u64>();
        let ttfb = v.requests.get(Kind::Segment.as_str()).and_then(|k| k.ttfb_ms);
        let share = if media > 0.0 { format!("{:.0}%", v.playback.media_seconds * 100.0 / media) } else { "-".into() };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{share}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&v.label),
            esc(&v.kind),
            v.bandwidth.map_or_else(|| "-".into(), |b| format!("{:.0} kbit/s", b as f64 / 1e3)),
            sum(|k| k.count),
            v.segments.downloaded,
            sum(|k| k.errors),
            super::bytes(sum(|k| k.bytes) as f64),
            ms(ttfb.map(|p| p.p50)),
            ms(ttfb.map(|p| p.p99)),
            v.playback.startups,
            v.playback.stalls,
            v.playback.switches_to,
        );
    }
    let _ = writeln!(out, "</table>");
}

/// The charts over the run's seconds, those the run has data for.
fn over_time(r: &Report) -> Vec<String> {
    let tl = &r.timeline;
    let mut charts = Vec::new();
    // A point may cover several ticks (past 24 h): rates divide by them.
    let per_s = |n: u64, ticks: u32| n as f64 / f64::from(ticks.max(1));
    let series = |f: &dyn Fn(&crate::stats::TimelinePoint) -> Option<f64>| -> Vec<(f64, f64)> {
        tl.iter().filter_map(|p| f(p).map(|v| (p.t as f64, v))).collect()
    };
    let ramp: Vec<(f64, f64)> = if r.clients.ramp_rate > 0.0 {
        let full = f64::from(r.clients.target) / r.clients.ramp_rate;
        vec![
            (0.0, 0.0),
            (full, f64::from(r.clients.target)),
            (r.duration_seconds.max(full), f64::from(r.clients.target)),
        ]
    } else {
        Vec::new()
    };
    charts.extend(line_chart(
        "Viewers: active and stalled, against the ramp",
        "viewers",
        vec![
            Series::new("active", series(&|p| Some(p.active_clients as f64))),
            Series::new("stalled", series(&|p| Some(p.stalled as f64))),
            Series::new("ramp", ramp),
        ],
    ));
    charts.extend(line_chart(
        "Requests per second",
        "requests/s",
        vec![
            Series::new("requests", series(&|p| Some(per_s(p.requests, p.ticks)))),
            Series::new("ok segments", series(&|p| Some(per_s(p.segments, p.ticks)))),
            Series::new("errors", series(&|p| Some(per_s(p.errors, p.ticks)))),
        ],
    ));
    charts.extend(line_chart(
        "Throughput (body bytes of every kind)",
        "Mbit/s",
        vec![Series::new("received", series(&|p| Some(per_s(p.bytes, p.ticks) * 8.0 / 1e6)))],
    ));
    for kind in Kind::ALL {
        let pick =
            |f: fn(&crate::stats::KindTimes) -> f64| series(&|p| p.ttfb_ms.iter().find(|k| k.kind == kind).map(f));
        let p50 = pick(|k| k.p50);
        if p50.is_empty() {
            continue;
        }
        charts.extend(line_chart(
            &format!("TTFB of {} requests, each second", kind.as_str()),
            "ms",
            vec![Series::new("p50", p50), Series::new("p90", pick(|k| k.p90)), Series::new("p99", pick(|k| k.p99))],
        ));
    }
    let mut classes: Vec<crate::stats::ErrorClass> =
        tl.iter().flat_map(|p| p.errors_by_class.iter().map(|c| c.class)).collect();
    classes.sort();
    classes.dedup();
    let by_class = classes
        .iter()
        .map(|&class| {
            let n = |p: &crate::stats::TimelinePoint| {
                p.errors_by_class.iter().find(|c| c.class == class).map_or(0, |c| c.count)
            };
            Series::new(class.as_str(), series(&|p| Some(per_s(n(p), p.ticks))))
        })
        .collect();
    charts.extend(line_chart("Errors per second by class", "errors/s", by_class));
    charts.extend(line_chart(
        "Live latency (wall clock minus the playhead's program date-time)",
        "ms",
        vec![
            Series::new("p50", series(&|p| p.live_latency_p50_ms)),
            Series::new("p99", series(&|p| p.live_latency_p99_ms)),
        ],
    ));
    charts.extend(line_chart(
        "Startup of the viewers who started in each second",
        "ms",
        vec![Series::new("p50", series(&|p| p.startup_p50_ms))],
    ));
    let variants: Vec<Series> = r
        .variants
        .iter()
        .filter(|v| tl.iter().any(|p| p.variant_viewers.get(usize::from(v.index)).is_some_and(|n| *n > 0)))
        .map(|v| {
            let i = usize::from(v.index);
            Series::new(&v.label, series(&|p| Some(p.variant_viewers.get(i).copied().unwrap_or(0) as f64)))
        })
        .collect();
    if variants.len() > 1 || r.playback.switches_up + r.playback.switches_down > 0 {
        charts.extend(line_chart(
            &format!(
                "Viewers per variant (switches: {} up, {} down)",
                r.playback.switches_up, r.playback.switches_down
            ),
            "viewers",
            variants,
        ));
    }
    let switches = vec![
        Series::new("up", series(&|p| Some(per_s(p.switches_up, p.ticks)))),
        Series::new("down", series(&|p| Some(per_s(p.switches_down, p.ticks)))),
    ];
    if r.playback.switches_up + r.playback.switches_down > 0 {
        charts.extend(line_chart("Adaptive switches per second", "switches/s", switches));
    }
    let origin = |f: fn(&crate::stats::OriginSecond) -> Option<f64>| series(&|p| p.origin.as_ref().and_then(f));
    charts.extend(line_chart(
        "Origin: host CPU (node_exporter)",
        "%",
        vec![Series::new("cpu", origin(|o| o.cpu_percent))],
    ));
    charts.extend(line_chart(
        "Origin: what it sent and was asked (as scraped)",
        "Mbit/s, requests/s",
        vec![
            Series::new("sent, Mbit/s (built-in origin)", origin(|o| o.bytes_per_s.map(|b| b * 8.0 / 1e6))),
            Series::new("network out, Mbit/s (node_exporter)", origin(|o| o.net_tx_bytes_per_s.map(|b| b * 8.0 / 1e6))),
            Series::new("requests/s", origin(|o| o.requests_per_s)),
        ],
    ));
    let limit = r.generator.max_lateness_ms;
    let last = tl.last().map_or(0.0, |p| p.t as f64);
    charts.extend(line_chart(
        "hls-swarm's own timer lateness (over the limit: its figures include its own delay)",
        "ms",
        vec![
            Series::new("p99", series(&|p| p.lateness_p99_ms)),
            Series::new("limit", if limit > 0.0 { vec![(0.0, limit), (last, limit)] } else { Vec::new() }),
        ],
    ));
    charts
}

/// Percentile plots of the whole-run histograms.
fn distributions(r: &Report) -> Vec<String> {
    let Ok(hists) = RunHistograms::decode(&r.histograms) else {
        return vec!["<p class=\"note\">The report's histograms could not be read.</p>".into()];
    };
    let mut charts = Vec::new();
    let ttfb: Vec<Series> = Kind::ALL
        .iter()
        .filter_map(|&kind| Some(Series::new(kind.as_str(), percentile_curve(&hists, Metric::Ttfb(kind))?)))
        .collect();
    charts.extend(percentile_chart("Time to first byte, per kind", ttfb));
    let playback: Vec<Series> = [(Metric::Startup, "startup"), (Metric::LiveLatency, "live latency")]
        .into_iter()
        .filter_map(|(m, name)| Some(Series::new(name, percentile_curve(&hists, m)?)))
        .collect();
    charts.extend(percentile_chart("Startup and live latency", playback));
    charts
}

/// `(x, value)` with x = -log10(1 - q), so 90 %, 99 %, 99.9 % are evenly apart.
fn percentile_curve(hists: &RunHistograms, metric: Metric) -> Option<Vec<(f64, f64)>> {
    let h = hists.get(metric)?;
    let scale = metric.report_scale();
    let mut points: Vec<(f64, f64)> = h
        .iter_quantiles(4)
        .map(|v| {
            let q = v.quantile_iterated_to().min(1.0 - 1e-6);
            (-(1.0 - q).log10(), v.value_iterated_to() as f64 * scale)
        })
        .collect();
    points.dedup_by(|a, b| (a.0 - b.0).abs() < 1e-9);
    (!points.is_empty()).then_some(points)
}

fn percentile_chart(title: &str, series: Vec<Series>) -> Option<String> {
    draw(title, "ms", series, "percentile", &|x: &f64| {
        let share = 100.0 * (1.0 - 10f64.powf(-*x));
        // 90%, 99%, 99.9%, 99.99%: as many decimals as the nines need.
        let digits = (*x - 2.0).ceil().max(0.0) as usize;
        format!("{share:.digits$}%")
    })
}

fn line_chart(title: &str, y: &str, series: Vec<Series>) -> Option<String> {
    draw(title, y, series, "seconds since the start", &|x: &f64| format!("{x:.0}"))
}

/// One chart as an inline SVG in a figure; `None` when no series has a point.
fn draw(title: &str, y: &str, series: Vec<Series>, x_desc: &str, x_label: &dyn Fn(&f64) -> String) -> Option<String> {
    let series: Vec<Series> = series.into_iter().filter(|s| !s.points.is_empty()).collect();
    if series.is_empty() {
        return None;
    }
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let x_max = xs.fold(0.0f64, f64::max).max(1.0);
    let y_max = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0f64, f64::max);
    let y_max = if y_max > 0.0 { y_max * 1.08 } else { 1.0 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .ok()?;
        chart
            .configure_mesh()
            .light_line_style(RGBColor(238, 238, 238))
            .x_desc(x_desc)
            .y_desc(y)
            .x_label_formatter(x_label)
            .y_label_formatter(&|v: &f64| trim_number(*v))
            .label_style(("sans-serif", 12))
            .draw()
            .ok()?;
        for (i, s) in series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
                .ok()?
                .label(s.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 12))
            .draw()
            .ok()?;
        root.present().ok()?;
    }
    Some(format!("<figure>{svg}<figcaption>{}</figcaption></figure>\n", esc(title)))
}

/// An axis value without trailing zeros: 1,200 as 1200, 0.25 as 0.25.
fn trim_number(v: f64) -> String {
    if v.abs() >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::build_report;
    use crate::report::fixture::ll_run;

    #[test]
    fn the_page_is_self_contained_with_charts_and_escaped_text() {
        let (snapshot, meta) = ll_run();
        let mut report = build_report(&snapshot, &meta).as_written().unwrap();
        report.target = "http://o/<script>alert(1)</script>".into();
        let html = page(&report);
        assert!(html.starts_with("<!doctype html>"));
        assert!(html.contains("default-src 'none'"), "a policy that forbids every request");
        assert!(!html.contains("<script"), "no script, and names escaped: {}", &html[..400]);
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.matches("<svg").count() >= 4, "charts over time and distributions");
        assert!(html.contains("TTFB of segment requests, each second"));
        assert!(html.contains("Time to first byte, per kind"));
        // Nothing that loads: no source, link, or style that fetches.
        for loads in [" src=", " href=", "url(", "@import", "<link", "<iframe", "<object"] {
            assert!(!html.contains(loads), "{loads}");
        }
    }

    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(trim_number(1200.0), "1200");
        assert_eq!(trim_number(0.25), "0.25");
        assert_eq!(trim_number(2.0), "2");
    }
}
