//! The JSON report. Field names are a contract with the tools that read it: change them only with
//! `schema_version` and `schema/report.schema.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{BuiltinOriginCounts, RunMeta};
use crate::live::Rung;
use crate::stats::{ConnectionStats, ErrorClass, Kind, KindStats, Percentiles, Snapshot, TimelinePoint, VariantStats};

pub const REPORT_SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub target: String,
    pub engine: String,
    pub started_at: String,
    pub duration_seconds: f64,
    pub clients: Clients,
    pub requests: BTreeMap<String, KindReport>,
    pub segments: Segments,
    pub errors: BTreeMap<String, u64>,
    pub playback: Playback,
    /// What the viewers accepted or left alone that a strict player would not.
    #[serde(default)]
    pub warnings: Warnings,
    #[serde(default)]
    pub connections: ConnectionStats,
    /// The whole run per variant played (empty for a media playlist URL).
    #[serde(default)]
    pub variants: Vec<VariantReport>,
    pub timeline: Vec<TimelinePoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<BuiltinOriginCounts>,
    /// The origin side as scraped (node_exporter, nginx exporter) or read from the built-in origin
    /// (an `OriginView`; kept as JSON, since nothing reads it back but tools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_metrics: Option<serde_json::Value>,
    /// Whole-run HdrHistograms (V2 + DEFLATE, base64), so reports of several machines merge losslessly.
    pub histograms: BTreeMap<String, String>,
    /// Viewers still busy when the drain timeout ran out (their in-flight requests are not counted).
    #[serde(default)]
    pub abandoned_viewers: usize,
    /// hls-swarm's own health: how late its viewer threads' timers fired, and for how long that was
    /// over `--max-lateness` (then its figures include its own delay).
    #[serde(default)]
    pub generator: GeneratorReport,
    /// `--fail-if`: each threshold, the figure's value (in its base unit: ms, fraction, count, bytes,
    /// bytes/s; `null` when the run had no such figure) and whether it held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<ThresholdReport>,
    /// `--abort-on-fail`: the threshold that ended the run early, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<Aborted>,
    /// `--shard`: which part of a bigger run this report is, and where it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardReport>,
    /// `hls-swarm report merge` of shards: the shards present and missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<MergedShards>,
    /// `hls-swarm report merge`: the reports merged into this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergedInput>,
}

/// The threshold that ended a run early (`--abort-on-fail`), and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Aborted {
    pub threshold: String,
    /// The figure's value then, in its base unit.
    pub value: f64,
    /// Seconds since the run started.
    pub at_seconds: f64,
}

/// A shard's place in its run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardReport {
    pub index: u32,
    pub count: u32,
    /// The machine (or pod) it ran on.
    pub host: String,
    /// Its clock against the target's, from the `Date` of the responses it got (`target − local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset: Option<crate::net::ClockOffset>,
}

/// The shards a merged report holds, of how many.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergedShards {
    pub count: u32,
    pub present: Vec<u32>,
    pub missing: Vec<u32>,
}

/// One report of a merge, as `merged_from` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergedInput {
    pub file: String,
    /// `INDEX/COUNT` of a shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// A shard's clock against the target's (its report's `shard.clock_offset`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset: Option<crate::net::ClockOffset>,
    pub target: String,
    pub engine: String,
    pub started_at: String,
    pub duration_seconds: f64,
    pub clients_target: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdReport {
    pub expression: String,
    pub value: Option<f64>,
    pub passed: bool,
}

impl ThresholdReport {
    /// The value as people read it (`812.3 ms`, `1.20%`), `no data` without one; the raw number when
    /// the expression (hand-edited) no longer parses.
    pub fn shown(&self) -> String {
        match (self.value, super::thresholds::Threshold::parse(&self.expression)) {
            (None, _) => "no data".to_owned(),
            (Some(v), Ok(parsed)) => parsed.show(v),
            (Some(v), Err(_)) => v.to_string(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorReport {
    pub lateness_ms: Option<crate::stats::Percentiles>,
    pub max_lateness_ms: f64,
    pub saturated_seconds: f64,
    pub saturated_episodes: u64,
    pub cpu_seconds: f64,
    pub threads: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Warnings {
    /// Leniencies in the playlists loaded (a last `#EXTINF` with no URI, a stray URI line, a target
    /// duration of 0), each load counting its own.
    pub playlist: u64,
    /// Keys not fetched (a DRM key format, a `data:` URI), once per viewer and key.
    pub keys_skipped: u64,
    /// What the summary says of the run's setup (e.g. viewers capped below the lowest variant).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clients {
    pub target: u32,
    /// Viewers started per second during the ramp (`--ramp-rate`; in a merged report, the sum).
    #[serde(default)]
    pub ramp_rate: f64,
    pub peak_active: u64,
    pub starts: u64,
    pub restarts: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindReport {
    pub count: u64,
    pub ok: u64,
    pub errors: u64,
    pub bytes: u64,
    /// Held requests have no TTFB here (see `hold_ms`); their duration is the transfer after the hold.
    pub ttfb_ms: Option<Percentiles>,
    pub duration_ms: Option<Percentiles>,
    /// Held requests (blocking reloads, preload hints) and those of them answered without what they
    /// asked for; written when not zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub held: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unblocked: u64,
    /// How long the server held ok held requests (their time to first byte).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_ms: Option<Percentiles>,
}

fn variant_type() -> String {
    "variant".into()
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segments {
    pub downloaded: u64,
    pub skipped: u64,
    pub bytes: u64,
    pub throughput_bytes_per_second: Option<Percentiles>,
}

/// One variant's whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantReport {
    pub index: u16,
    pub label: String,
    /// `variant`, or the type of an alternate rendition: `audio`, `subtitles`.
    #[serde(rename = "type", default = "variant_type")]
    pub kind: String,
    /// An alternate rendition's GROUP-ID, NAME and LANGUAGE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// `BANDWIDTH` (a variant's) and media playlist URI from the multivariant playlist (absent for
    /// `others`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The kinds this variant was asked for.
    pub requests: BTreeMap<String, KindReport>,
    pub segments: VariantSegments,
    #[serde(default)]
    pub playback: VariantPlayback,
    /// Its whole-run HdrHistograms, encoded as the run's are (`report merge` adds them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub histograms: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantSegments {
    pub downloaded: u64,
    pub bytes: u64,
    pub throughput_bytes_per_second: Option<Percentiles>,
}

fn kind_report(s: &KindStats) -> KindReport {
    KindReport {
        count: s.requests,
        ok: s.ok,
        errors: s.errors,
        bytes: s.bytes,
        ttfb_ms: s.ttfb_ms,
        duration_ms: s.duration_ms,
        held: s.held,
        unblocked: s.unblocked,
        hold_ms: s.hold_ms,
    }
}

fn variant_report(v: &VariantStats, ladder: &[Rung]) -> VariantReport {
    let rung = ladder.iter().find(|r| r.index == v.index);
    let rendition = rung.and_then(|r| r.rendition.as_ref());
    let requests =
        v.kinds.iter().filter(|(_, s)| s.requests > 0).map(|(k, s)| (k.as_str().to_owned(), kind_report(s))).collect();
    VariantReport {
        index: v.index,
        label: Rung::label_of(ladder, v.index),
        kind: rung.and_then(|r| r.rendition.as_ref()).map_or("variant", |r| r.kind).to_owned(),
        group: rendition.map(|r| r.group.clone()),
        name: rendition.map(|r| r.name.clone()),
        language: rendition.and_then(|r| r.language.clone()),
        bandwidth: rung.filter(|r| r.rendition.is_none()).map(|r| r.bandwidth),
        uri: rung.map(|r| r.uri.clone()),
        requests,
        segments: VariantSegments {
            downloaded: v.segments_downloaded(),
            bytes: v.kinds[Kind::Segment].bytes,
            throughput_bytes_per_second: v.segment_throughput_bps,
        },
        playback: VariantPlayback {
            media_seconds: v.playback.media_us as f64 / 1e6,
            startups: v.playback.startups,
            stalls: v.playback.stalls,
            stall_seconds: v.playback.stalled_us as f64 / 1e6,
            stall_ratio: (v.playback.media_us > 0).then(|| v.playback.stalled_us as f64 / v.playback.media_us as f64),
            switches_to: v.playback.switches_up + v.playback.switches_down,
        },
        histograms: v.histograms.encode().unwrap_or_default(),
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Playback {
    pub startup_ms: Option<Percentiles>,
    pub stall_count: u64,
    pub stall_seconds: f64,
    pub stalled_viewers_peak: u64,
    /// Live viewers' latency, sampled once a second each: wall clock minus the program date-time of
    /// the media at the playhead. `None` without samples (VOD, no `EXT-X-PROGRAM-DATE-TIME`).
    pub live_latency_ms: Option<Percentiles>,
    /// Low-latency viewers' distance to the live edge, in parts, sampled with the latency.
    pub edge_distance_parts: Option<Percentiles>,
    /// Adaptive viewers' switches to a higher and to a lower rendition (`--variant abr`).
    pub switches_up: u64,
    pub switches_down: u64,
    /// Media the viewers buffered to play, in seconds, and its time-weighted `BANDWIDTH` (bits per
    /// second; absent when no variant's was known).
    pub media_seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_bitrate: Option<u64>,
}

/// What playback did on one variant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VariantPlayback {
    /// Media buffered from it, in seconds: the time viewers spent on it.
    pub media_seconds: f64,
    /// Viewers whose playback started on it.
    pub startups: u64,
    /// Stalls that began while it played, and their length.
    pub stalls: u64,
    pub stall_seconds: f64,
    /// Stalled time over the media buffered from it (absent without media).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_ratio: Option<f64>,
    /// Adaptive viewers' switches to it.
    pub switches_to: u64,
}

/// The report as JSON text, with numbers as a reader wants them: times in milliseconds (and every other
/// fraction) to three decimals, so `0.17400000000000002` is `0.174`; bytes per second as integers.
///
/// Indented for reading, but each timeline point on one line: a day's run has 86,400 of them.
pub fn report_json(report: &Report) -> serde_json::Result<String> {
    let mut value = serde_json::to_value(report)?;
    tidy_numbers(&mut value, false);
    let points = match value.get_mut("timeline") {
        Some(timeline) => std::mem::replace(timeline, serde_json::Value::String(TIMELINE_MARK.into())),
        None => return serde_json::to_string_pretty(&value),
    };
    let text = serde_json::to_string_pretty(&value)?;
    let mut lines = String::from("[");
    for (i, point) in points.as_array().into_iter().flatten().enumerate() {
        lines.push_str(if i == 0 { "\n    " } else { ",\n    " });
        lines.push_str(&serde_json::to_string(point)?);
    }
    lines.push_str(if lines.len() > 1 { "\n  ]" } else { "]" });
    // serde_json writes the mark's control characters as \u0001; no URL or label holds one.
    Ok(text.replacen(r#""\u0001timeline\u0001""#, &lines, 1))
}

/// Stands for the timeline while the rest is indented (no report field holds it).
const TIMELINE_MARK: &str = "\u{1}timeline\u{1}";

/// Why a saved report could not be read; each says what to change.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: not a JSON report of hls-swarm ({source}); give a file written by `hls-swarm run --report`")]
    Json { path: String, source: serde_json::Error },
    #[error(
        "{path}: report schema version {found}, this hls-swarm reads version {REPORT_SCHEMA_VERSION}; \
         use the hls-swarm release that wrote it"
    )]
    Version { path: String, found: u64 },
    #[error("{path}: {source}")]
    Histograms { path: String, source: crate::stats::StatsError },
}

impl Report {
    /// A report read back from its JSON text; `path` names it in errors. The schema version is checked
    /// first, so a report of another version says so rather than which field it lacks.
    pub fn from_json(text: &str, path: &str) -> Result<Report, ReadError> {
        let json = |source| ReadError::Json { path: path.to_owned(), source };
        let value: serde_json::Value = serde_json::from_str(text).map_err(json)?;
        match value.get("schema_version").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(REPORT_SCHEMA_VERSION) => {}
            Some(found) => return Err(ReadError::Version { path: path.to_owned(), found }),
            None => {}
        }
        serde_json::from_value(value).map_err(json)
    }

    /// The report as written and read back: numbers tidied as in the file, so what is printed from it
    /// is what `hls-swarm report show` prints from the file.
    pub fn as_written(&self) -> serde_json::Result<Report> {
        serde_json::from_str(&report_json(self)?)
    }
}

/// Rounds every float below `value`: to an integer under a key that names bytes per second, else to
/// three decimals.
fn tidy_numbers(value: &mut serde_json::Value, integer: bool) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or_default();
            *value = if integer && x >= 0.0 {
                Value::from(x.round() as u64)
            } else {
                serde_json::Number::from_f64((x * 1000.0).round() / 1000.0).map_or(Value::Null, Value::Number)
            };
        }
        Value::Array(items) => items.iter_mut().for_each(|v| tidy_numbers(v, integer)),
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                tidy_numbers(v, integer || key.contains("bytes_per_s"));
            }
        }
        _ => {}
    }
}

/// Builds the report from the final snapshot.
pub fn build_report(snapshot: &Snapshot, meta: &RunMeta) -> Report {
    build_report_with(snapshot, meta, true)
}

/// `histograms`: encode the whole-run histograms (the costly part).
fn build_report_with(snapshot: &Snapshot, meta: &RunMeta, histograms: bool) -> Report {
    let run = &snapshot.windows.run;
    let requests = Kind::ALL.iter().map(|&k| (k.as_str().to_owned(), kind_report(&run.kinds.0[k.index()]))).collect();
    let errors = ErrorClass::ALL.iter().map(|&c| (c.as_str().to_owned(), run.errors_by_class.get(c))).collect();
    let playback = snapshot.playback();
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        tool: Tool { name: "hls-swarm".into(), version: env!("CARGO_PKG_VERSION").into() },
        target: meta.info.target.clone(),
        engine: meta.info.engine.into(),
        started_at: crate::origin::playlist::iso8601(meta.info.started_at),
        duration_seconds: snapshot.elapsed.as_secs_f64(),
        clients: Clients {
            target: meta.info.clients_target,
            ramp_rate: meta.info.ramp_rate,
            peak_active: snapshot.gauges.peak_active,
            starts: playback.starts,
            restarts: playback.restarts,
        },
        requests,
        segments: Segments {
            downloaded: run.segments_downloaded,
            skipped: playback.segments_skipped,
            bytes: run.kinds.0[Kind::Segment.index()].bytes,
            throughput_bytes_per_second: run.segment_throughput_bps,
        },
        errors,
        playback: Playback {
            startup_ms: playback.startup_ms,
            stall_count: playback.stalls,
            stall_seconds: playback.stall_seconds,
            stalled_viewers_peak: snapshot.gauges.peak_stalled,
            live_latency_ms: playback.live_latency_ms,
            edge_distance_parts: playback.edge_distance_parts,
            switches_up: snapshot.totals.playback.switches_up,
            switches_down: snapshot.totals.playback.switches_down,
            media_seconds: snapshot.totals.playback.media_us as f64 / 1e6,
            average_bitrate: super::summary::average_bitrate(&snapshot.totals.playback).map(|b| b.round() as u64),
        },
        warnings: Warnings {
            playlist: snapshot.totals.playback.playlist_warnings,
            keys_skipped: snapshot.totals.playback.keys_skipped,
            notes: meta.notes.clone(),
        },
        connections: run.connections.clone(),
        variants: snapshot
            .variants
            .iter()
            .filter(|v| v.is_variant())
            .map(|v| variant_report(v, &meta.info.ladder))
            .collect(),
        timeline: snapshot.timeline.to_vec(),
        origin: meta.origin.clone(),
        origin_metrics: meta.origin_metrics.as_ref().and_then(|v| serde_json::to_value(v).ok()),
        histograms: if histograms { snapshot.run_histograms().encode().unwrap_or_default() } else { BTreeMap::new() },
        abandoned_viewers: meta.abandoned,
        generator: GeneratorReport {
            lateness_ms: run.lateness_ms,
            max_lateness_ms: snapshot.generator.max_lateness_ms,
            saturated_seconds: snapshot.generator.saturated_seconds,
            saturated_episodes: snapshot.generator.episodes,
            cpu_seconds: snapshot.generator.cpu_seconds,
            threads: snapshot.generator.threads,
        },
        thresholds: Vec::new(),
        aborted: None,
        shard: None,
        shards: None,
        merged_from: Vec::new(),
    }
}

/// The report's figures as JSON without its histograms (what thresholds read), cheap enough to build
/// each second from a live snapshot.
pub fn figures(snapshot: &Snapshot, meta: &RunMeta) -> serde_json::Value {
    serde_json::to_value(build_report_with(snapshot, meta, false)).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::ll_run;

    /// The report as a reader gets it, checked against `schema/report.schema.json`.
    pub(crate) fn valid_json(snapshot: &Snapshot, meta: &RunMeta) -> serde_json::Value {
        let text = report_json(&build_report(snapshot, meta)).unwrap();
        let report: serde_json::Value = serde_json::from_str(&text).unwrap();
        let schema: serde_json::Value = serde_json::from_str(include_str!("../../schema/report.schema.json")).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&report).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        report
    }

    #[test]
    fn low_latency_kinds_are_reported_by_name() {
        let (snapshot, meta) = ll_run();
        let report = valid_json(&snapshot, &meta);
        let requests = &report["requests"];
        assert_eq!(requests["preload_hint"]["count"], 8);
        assert_eq!(requests["blocking_playlist"]["count"], 8);
        assert_eq!(requests["part"]["bytes"], 400_000);
        let variant = &report["variants"][1]["requests"];
        assert_eq!(variant["blocking_playlist"]["ok"], 4, "{variant:#}");
        assert!(variant.get("key").is_none(), "a variant lists the kinds it was asked for");
    }

    #[test]
    fn held_requests_have_their_hold_and_counts() {
        let (snapshot, meta) = ll_run();
        let report = valid_json(&snapshot, &meta);
        let blocking = &report["requests"]["blocking_playlist"];
        assert_eq!((&blocking["held"], &blocking["unblocked"]), (&8.into(), &2.into()), "{blocking:#}");
        assert_eq!(blocking["hold_ms"]["count"], 8);
        assert_eq!(blocking["ttfb_ms"], serde_json::Value::Null, "a hold is not a TTFB");
        assert!(blocking["duration_ms"]["max"].as_f64().unwrap() < 3.0, "the transfer after the hold");
        let hint = &report["requests"]["preload_hint"];
        assert_eq!((&hint["held"], hint.get("unblocked")), (&8.into(), None), "{hint:#}");
        let segment = &report["requests"]["segment"];
        assert!(segment.get("held").is_none() && segment.get("hold_ms").is_none(), "{segment:#}");
        assert_eq!(report["variants"][0]["requests"]["blocking_playlist"]["hold_ms"]["count"], 4);
        assert!(report["histograms"].get("hold_us.blocking_playlist").is_some());
    }

    #[test]
    fn live_latency_and_edge_distance_are_playback_figures() {
        let (snapshot, meta) = ll_run();
        let report = valid_json(&snapshot, &meta);
        let playback = &report["playback"];
        let latency = &playback["live_latency_ms"];
        assert_eq!(latency["count"], 6, "{playback:#}");
        for (stat, ms) in [("p50", 2_400.0), ("max", 3_000.0)] {
            let got = latency[stat].as_f64().unwrap();
            assert!((got - ms).abs() <= ms * 0.001 + 1e-9, "{stat}: {got}");
        }
        let edge = &playback["edge_distance_parts"];
        assert_eq!((&edge["count"], &edge["p50"], &edge["max"]), (&6.into(), &4.0.into(), &6.0.into()), "{edge:#}");
        for name in ["live_latency_us", "edge_distance_parts"] {
            assert!(report["histograms"].get(name).is_some(), "{name}");
        }
        let thresholds = crate::report::thresholds::Threshold::parse("live_latency.p50 < 2.5s").unwrap();
        assert!(thresholds.evaluate(&report).passed);
    }

    /// A day's run keeps 86,400 points; with three kinds timed and three variants watched each second,
    /// the report stays a file people can open (the README quotes the figure).
    #[test]
    fn a_days_timeline_stays_a_file_to_open() {
        use crate::stats::{KindTimes, TimelinePoint};
        let (snapshot, meta) = ll_run();
        let mut report = build_report(&snapshot, &meta);
        let kinds = [Kind::MediaPlaylist, Kind::Segment, Kind::Part];
        report.timeline = (1..=86_400u64)
            .map(|t| TimelinePoint {
                t,
                ticks: 1,
                active_clients: 5_000,
                requests: 12_345,
                segments: 2_500,
                bytes: 1_234_567_890,
                lateness_p99_ms: Some(1.234),
                ttfb_ms: kinds.map(|kind| KindTimes { kind, p50: 1.234, p90: 12.345, p99: 123.456 }).to_vec(),
                stalled: 12,
                live_latency_p50_ms: Some(6_123.456),
                live_latency_p99_ms: Some(7_123.456),
                variant_viewers: vec![1_500, 2_000, 1_500],
                ..TimelinePoint::default()
            })
            .collect();
        let text = report_json(&report).unwrap();
        let per_point = text.len() / 86_400;
        assert!(per_point < 500, "{per_point} bytes per point");
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back.timeline.len(), 86_400);
        assert_eq!(back.timeline[9].ttfb_ms, report.timeline[9].ttfb_ms);
    }

    #[test]
    fn a_run_without_samples_writes_null() {
        let report = valid_json(&Snapshot::empty(), &ll_run().1);
        assert_eq!(report["playback"]["live_latency_ms"], serde_json::Value::Null);
        assert_eq!(report["playback"]["edge_distance_parts"], serde_json::Value::Null);
    }
}
