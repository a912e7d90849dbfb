//! `hls-swarm report merge`: several runs' reports as one, as if one swarm had made every request.
//!
//! Counters add up; every percentile is read from the inputs' HdrHistograms added together (whole-run
//! and per variant), so the merged p99 is the p99 of the union, not an average of p99s; the timelines
//! are aligned by wall-clock second. What cannot be known from the inputs is said: peaks (viewers,
//! stalled viewers) are the sums of the inputs' peaks, an upper bound when the runs' peaks did not
//! coincide. Reports of different targets merge, with a note in the merged report.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::json::{KindReport, MergedInput, MergedShards, Report, VariantReport};
use crate::stats::{Kind, Metric, RunHistograms, StatsError, TimelinePoint};

/// Why reports could not be merged; each names the report and what to change.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("report merge needs at least two reports, got {0}")]
    TooFew(usize),
    #[error("{file}: started_at `{value}` is not an RFC 3339 time; give reports as hls-swarm wrote them")]
    StartedAt { file: String, value: String },
    #[error("{file}: {source}")]
    Histograms { file: String, source: StatsError },
    #[error("shards of different runs: {0}; merge the shards of one run")]
    ShardCounts(String),
    #[error("shard {index}/{count} is given twice ({first} and {second})")]
    ShardTwice { index: u32, count: u32, first: String, second: String },
    #[error(
        "shards {missing:?} of {count} are missing; give every shard's report, or --allow-missing to merge those present"
    )]
    MissingShards { missing: Vec<u32>, count: u32 },
}

/// Merges `inputs` (each with the file it was read from), in the order given. Shards of one run
/// (`--shard`) must all be there, unless `allow_missing`.
pub fn merge(inputs: &[(String, Report)], allow_missing: bool) -> Result<Report, MergeError> {
    if inputs.len() < 2 {
        return Err(MergeError::TooFew(inputs.len()));
    }
    let shards = shards(inputs, allow_missing)?;
    let starts: Vec<i128> = inputs.iter().map(|(file, r)| start_ms(file, r)).collect::<Result<_, _>>()?;
    let first = starts.iter().copied().min().unwrap_or_default();
    let end = inputs.iter().zip(&starts).map(|((_, r), s)| s + (r.duration_seconds * 1e3) as i128).max();
    let mut all = inputs[0].1.clone();
    all.started_at = inputs[starts.iter().position(|s| *s == first).unwrap_or(0)].1.started_at.clone();
    all.duration_seconds = (end.unwrap_or(first) - first) as f64 / 1e3;
    all.merged_from = inputs.iter().map(|(file, r)| merged_input(file, r)).collect();
    let mut hists = decode(&inputs[0].0, &inputs[0].1.histograms)?;
    for (file, r) in &inputs[1..] {
        add(&mut all, r);
        hists
            .merge(&decode(file, &r.histograms)?)
            .map_err(|source| MergeError::Histograms { file: file.clone(), source })?;
    }
    all.variants = merge_variants(inputs)?;
    all.timeline = merge_timelines(inputs, &starts, first);
    percentiles_from(&mut all, &hists);
    all.histograms = hists.encode().map_err(|source| MergeError::Histograms { file: "merged".into(), source })?;
    let targets: Vec<&str> = dedup(inputs.iter().map(|(_, r)| r.target.as_str()));
    if targets.len() > 1 {
        all.warnings.notes.push(format!(
            "merged reports of {} different targets: {}",
            targets.len(),
            targets.join(", ")
        ));
        all.target = targets.join(" + ");
    }
    if dedup(inputs.iter().map(|(_, r)| r.engine.as_str())).len() > 1 {
        all.engine = "mixed".into();
    }
    all.warnings.notes.extend(clocks_apart(&all.merged_from));
    all.warnings.notes = dedup(all.warnings.notes.iter().map(String::as_str)).into_iter().map(str::to_owned).collect();
    // The thresholds were each run's; the origin's scraped view was one origin's at one moment.
    all.thresholds.clear();
    all.origin_metrics = None;
    all.shard = None;
    all.shards = shards;
    if let Some(s) = all.shards.as_ref().filter(|s| !s.missing.is_empty()) {
        all.warnings.notes.push(format!("shards {:?} of {} missing (--allow-missing)", s.missing, s.count));
    }
    Ok(all)
}

/// The shards among `inputs`: one count, each index once; those missing fail the merge unless allowed.
fn shards(inputs: &[(String, Report)], allow_missing: bool) -> Result<Option<MergedShards>, MergeError> {
    let given: Vec<(&String, &super::json::ShardReport)> =
        inputs.iter().filter_map(|(file, r)| r.shard.as_ref().map(|s| (file, s))).collect();
    let Some((_, first)) = given.first() else { return Ok(None) };
    let count = first.count;
    if given.len() < inputs.len() || given.iter().any(|(_, s)| s.count != count) {
        // Grouped by what each report is, a few names each: with hundreds of shards, the odd one out
        // must stand out.
        let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (file, r) in inputs {
            let what = r.shard.as_ref().map_or("unsharded".into(), |s| format!("shards of {}", s.count));
            groups.entry(what).or_default().push(file);
        }
        let list: Vec<String> = groups
            .iter()
            .map(|(what, files)| {
                let more = if files.len() > 3 { format!(", and {} more", files.len() - 3) } else { String::new() };
                format!("{} {what} ({}{more})", files.len(), files[..files.len().min(3)].join(", "))
            })
            .collect();
        return Err(MergeError::ShardCounts(list.join("; ")));
    }
    let mut seen: BTreeMap<u32, &String> = BTreeMap::new();
    for (file, s) in &given {
        if let Some(first) = seen.insert(s.index, file) {
            return Err(MergeError::ShardTwice {
                index: s.index,
                count,
                first: first.clone(),
                second: (*file).clone(),
            });
        }
    }
    let missing: Vec<u32> = (0..count).filter(|i| !seen.contains_key(i)).collect();
    if !missing.is_empty() && !allow_missing {
        return Err(MergeError::MissingShards { missing, count });
    }
    Ok(Some(MergedShards { count, present: seen.into_keys().collect(), missing }))
}

/// Reports of different targets, as the merged report's `merged_from` and the output name them.
pub fn targets(report: &Report) -> Vec<&str> {
    dedup(report.merged_from.iter().map(|m| m.target.as_str()))
}

fn dedup<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn start_ms(file: &str, r: &Report) -> Result<i128, MergeError> {
    OffsetDateTime::parse(&r.started_at, &Rfc3339)
        .map(|t| t.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| MergeError::StartedAt { file: file.to_owned(), value: r.started_at.clone() })
}

/// Past this, shards' timelines merged by wall-clock second are off by a second or more.
const CLOCKS_APART_MS: f64 = 500.0;

/// A note when the shards' clocks, each measured against the target's, are surely further apart than
/// [`CLOCKS_APART_MS`]: their `--start-at` and their timeline seconds were not the same instants.
fn clocks_apart(inputs: &[MergedInput]) -> Option<String> {
    let offsets: Vec<(&str, crate::net::ClockOffset)> =
        inputs.iter().filter_map(|i| Some((i.file.as_str(), i.clock_offset?))).collect();
    let (one, a) = offsets.iter().max_by(|x, y| low(&x.1).total_cmp(&low(&y.1)))?;
    let (other, b) = offsets.iter().min_by(|x, y| high(&x.1).total_cmp(&high(&y.1)))?;
    let apart = low(a) - high(b);
    (apart > CLOCKS_APART_MS).then(|| {
        format!(
            "shard clocks differ by at least {apart:.0} ms (the target's clock minus each one's: {one} {:+.0} ms, \
             {other} {:+.0} ms): they started and counted seconds at different instants; sync their clocks (NTP)",
            a.offset_ms, b.offset_ms
        )
    })
}

fn low(c: &crate::net::ClockOffset) -> f64 {
    c.offset_ms - c.uncertainty_ms
}

fn high(c: &crate::net::ClockOffset) -> f64 {
    c.offset_ms + c.uncertainty_ms
}

fn merged_input(file: &str, r: &Report) -> MergedInput {
    MergedInput {
        file: file.to_owned(),
        shard: r.shard.as_ref().map(|s| format!("{}/{}", s.index, s.count)),
        clock_offset: r.shard.as_ref().and_then(|s| s.clock_offset),
        target: r.target.clone(),
        engine: r.engine.clone(),
        started_at: r.started_at.clone(),
        duration_seconds: r.duration_seconds,
        clients_target: r.clients.target,
    }
}

fn decode(file: &str, encoded: &BTreeMap<String, String>) -> Result<RunHistograms, MergeError> {
    RunHistograms::decode(encoded).map_err(|source| MergeError::Histograms { file: file.to_owned(), source })
}

/// Adds `r`'s counters into `all` (percentiles are set afterwards, from the histograms).
fn add(all: &mut Report, r: &Report) {
    let c = &mut all.clients;
    c.target += r.clients.target;
    c.ramp_rate += r.clients.ramp_rate;
    c.peak_active += r.clients.peak_active;
    c.starts += r.clients.starts;
    c.restarts += r.clients.restarts;
    add_kinds(&mut all.requests, &r.requests);
    let s = &mut all.segments;
    s.downloaded += r.segments.downloaded;
    s.skipped += r.segments.skipped;
    s.bytes += r.segments.bytes;
    for (class, n) in &r.errors {
        *all.errors.entry(class.clone()).or_default() += n;
    }
    let (p, q) = (&mut all.playback, &r.playback);
    // The average bitrate is bits over media time: weighted by media seconds, it adds exactly.
    let bits = |b: Option<u64>, media: f64| b.map_or(0.0, |b| b as f64 * media);
    let total_bits = bits(p.average_bitrate, p.media_seconds) + bits(q.average_bitrate, q.media_seconds);
    p.stall_count += q.stall_count;
    p.stall_seconds += q.stall_seconds;
    p.stalled_viewers_peak += q.stalled_viewers_peak;
    p.switches_up += q.switches_up;
    p.switches_down += q.switches_down;
    p.media_seconds += q.media_seconds;
    p.average_bitrate =
        (total_bits > 0.0 && p.media_seconds > 0.0).then(|| (total_bits / p.media_seconds).round() as u64);
    all.warnings.playlist += r.warnings.playlist;
    all.warnings.keys_skipped += r.warnings.keys_skipped;
    all.warnings.notes.extend(r.warnings.notes.iter().cloned());
    all.connections.opened += r.connections.opened;
    all.origin = match (all.origin.take(), &r.origin) {
        (Some(mut a), Some(b)) => {
            for (kind, n) in &b.requests {
                *a.requests.entry(kind.clone()).or_default() += n;
            }
            for (kind, n) in &b.bytes {
                *a.bytes.entry(kind.clone()).or_default() += n;
            }
            Some(a)
        }
        (a, b) => a.or_else(|| b.clone()),
    };
    all.abandoned_viewers += r.abandoned_viewers;
    let g = &mut all.generator;
    g.max_lateness_ms = g.max_lateness_ms.max(r.generator.max_lateness_ms);
    g.saturated_seconds += r.generator.saturated_seconds;
    g.saturated_episodes += r.generator.saturated_episodes;
    g.cpu_seconds += r.generator.cpu_seconds;
    g.threads += r.generator.threads;
}

fn add_kinds(all: &mut BTreeMap<String, KindReport>, more: &BTreeMap<String, KindReport>) {
    for (kind, k) in more {
        match all.get_mut(kind) {
            Some(a) => {
                a.count += k.count;
                a.ok += k.ok;
                a.errors += k.errors;
                a.bytes += k.bytes;
                a.held += k.held;
                a.unblocked += k.unblocked;
            }
            None => {
                all.insert(kind.clone(), k.clone());
            }
        }
    }
}

/// Sets every kind's times from `hists`.
fn kind_times(requests: &mut BTreeMap<String, KindReport>, hists: &RunHistograms) {
    for kind in Kind::ALL {
        if let Some(k) = requests.get_mut(kind.as_str()) {
            k.ttfb_ms = hists.percentiles(Metric::Ttfb(kind));
            k.duration_ms = hists.percentiles(Metric::Duration(kind));
            k.hold_ms = hists.percentiles(Metric::Hold(kind));
        }
    }
}

fn percentiles_from(all: &mut Report, hists: &RunHistograms) {
    kind_times(&mut all.requests, hists);
    all.segments.throughput_bytes_per_second = hists.percentiles(Metric::SegmentThroughput);
    let p = &mut all.playback;
    p.startup_ms = hists.percentiles(Metric::Startup);
    p.live_latency_ms = hists.percentiles(Metric::LiveLatency);
    p.edge_distance_parts = hists.percentiles(Metric::EdgeDistance);
    let c = &mut all.connections;
    c.dns_ms = hists.percentiles(Metric::Dns);
    c.connect_ms = hists.percentiles(Metric::Connect);
    c.tls_ms = hists.percentiles(Metric::Tls);
    all.generator.lateness_ms = hists.percentiles(Metric::Lateness);
}

/// Variants matched by label and type (shards of one stream have the same ladder), in the order first
/// met; their times from their histograms added.
fn merge_variants(inputs: &[(String, Report)]) -> Result<Vec<VariantReport>, MergeError> {
    let mut out: Vec<(VariantReport, RunHistograms)> = Vec::new();
    for (file, r) in inputs {
        for v in &r.variants {
            let hists = decode(file, &v.histograms)?;
            match out.iter_mut().find(|(o, _)| o.label == v.label && o.kind == v.kind) {
                Some((o, h)) => {
                    add_kinds(&mut o.requests, &v.requests);
                    o.segments.downloaded += v.segments.downloaded;
                    o.segments.bytes += v.segments.bytes;
                    let (a, b) = (&mut o.playback, &v.playback);
                    a.media_seconds += b.media_seconds;
                    a.startups += b.startups;
                    a.stalls += b.stalls;
                    a.stall_seconds += b.stall_seconds;
                    a.switches_to += b.switches_to;
                    h.merge(&hists).map_err(|source| MergeError::Histograms { file: file.clone(), source })?;
                }
                None => out.push((v.clone(), hists)),
            }
        }
    }
    out.into_iter()
        .map(|(mut v, hists)| {
            kind_times(&mut v.requests, &hists);
            v.segments.throughput_bytes_per_second = hists.percentiles(Metric::SegmentThroughput);
            let p = &mut v.playback;
            p.stall_ratio = (p.media_seconds > 0.0).then(|| p.stall_seconds / p.media_seconds);
            v.histograms = hists.encode().map_err(|source| MergeError::Histograms { file: "merged".into(), source })?;
            Ok(v)
        })
        .collect()
}

/// The inputs' points summed per wall-clock second (viewers too: the swarms ran side by side); `t`
/// counts from the earliest start. A second's percentiles are the highest of the inputs'.
fn merge_timelines(inputs: &[(String, Report)], starts: &[i128], first: i128) -> Vec<TimelinePoint> {
    let mut seconds: BTreeMap<i128, TimelinePoint> = BTreeMap::new();
    let base = first.div_euclid(1000);
    for ((_, r), start) in inputs.iter().zip(starts) {
        // One run's points in the same second (its last tick and its end) are one point first: counts
        // added, gauges the later's; then the runs' points of a second add up, gauges too.
        let mut own: BTreeMap<i128, TimelinePoint> = BTreeMap::new();
        for p in &r.timeline {
            let second = (start + i128::from(p.t) * 1000).div_euclid(1000);
            let point = match own.remove(&second) {
                // The second's rates are over its ticks: the end's partial tick is in the same second.
                Some(earlier) => {
                    let ticks = earlier.ticks.max(p.ticks);
                    TimelinePoint { ticks, ..earlier.merge(p.clone()) }
                }
                None => p.clone(),
            };
            own.insert(second, point);
        }
        for (second, p) in own {
            let t = u64::try_from(second - base).unwrap_or(0);
            let slot = seconds.entry(second).or_insert(TimelinePoint { t, ..TimelinePoint::default() });
            slot.ticks = slot.ticks.max(p.ticks);
            slot.add(&p, true);
        }
    }
    seconds.into_values().collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant, SystemTime};

    use super::*;
    use crate::live::{RunInfo, Rung};
    use crate::report::{RunMeta, build_report};
    use crate::stats::{Aggregator, PlaybackEvent, Recorder, RequestRecord};

    /// One run of `n` segment requests (and a startup each) timed from `ms`, started `offset_ms` after
    /// the epoch, lasting 3 ticks; the report as written.
    fn run(n: u64, ms: u64, offset_ms: u64) -> Report {
        let start = Instant::now();
        let recorder = Recorder::with_shards(1);
        let mut agg = Aggregator::new(recorder.clone(), start);
        for tick in 1..=3u64 {
            for i in 0..n {
                let mut r =
                    RequestRecord::ok(Kind::Segment, Duration::from_micros(ms * 1000 + i * 37 + tick), 1000 + i);
                r.timings.ttfb = Some(Duration::from_micros(ms * 500 + i * 13));
                r.variant = Some((i % 2) as u16);
                recorder.record_request(&r);
            }
            recorder.record_playback(PlaybackEvent::Started);
            recorder.record_playback(PlaybackEvent::StartupComplete { startup: Duration::from_millis(ms * 10 + tick) });
            if tick < 3 {
                agg.tick(start + Duration::from_secs(tick));
            }
        }
        let snapshot = agg.finish(start + Duration::from_secs(3));
        let rung = |index: u16, label: &str| Rung {
            index,
            label: label.into(),
            bandwidth: 1_000_000 * u64::from(index + 1),
            uri: format!("http://o/{label}.m3u8"),
            rendition: None,
        };
        let info = RunInfo {
            target: "http://o/master.m3u8".into(),
            engine: "native",
            clients_target: 3,
            duration: Some(Duration::from_secs(3)),
            ramp_rate: 1.0,
            started: start,
            started_at: SystemTime::UNIX_EPOCH + Duration::from_millis(offset_ms),
            ladder: vec![rung(0, "low"), rung(1, "high")],
        };
        let meta =
            RunMeta { info: Arc::new(info), abandoned: 0, origin: None, origin_metrics: None, notes: Vec::new() };
        build_report(&snapshot, &meta).as_written().unwrap()
    }

    fn hists(reports: &[&Report], pick: impl Fn(&Report) -> &BTreeMap<String, String>) -> RunHistograms {
        let mut all = RunHistograms::default();
        for r in reports {
            all.merge(&RunHistograms::decode(pick(r)).unwrap()).unwrap();
        }
        all
    }

    #[test]
    fn three_reports_merge_to_the_percentiles_of_their_histograms_added_and_counts_summed() {
        let (a, b, c) = (run(200, 4, 0), run(50, 40, 1_500), run(10, 400, 10_000));
        let inputs: Vec<(String, Report)> =
            [&a, &b, &c].iter().enumerate().map(|(i, r)| (format!("{i}.json"), (*r).clone())).collect();
        let merged = merge(&inputs, false).unwrap().as_written().unwrap();
        // The test's own addition of the three runs' histograms, made into a report's figures.
        let added = hists(&[&a, &b, &c], |r| &r.histograms);
        let mut expected = merged.clone();
        percentiles_from(&mut expected, &added);
        let expected = expected.as_written().unwrap();
        let seg = &merged.requests["segment"];
        assert_eq!(seg.ttfb_ms, expected.requests["segment"].ttfb_ms);
        assert_eq!(seg.duration_ms, expected.requests["segment"].duration_ms);
        assert_eq!(merged.playback.startup_ms, expected.playback.startup_ms);
        assert_eq!(merged.segments.throughput_bytes_per_second, expected.segments.throughput_bytes_per_second);
        assert_eq!(seg.ttfb_ms.unwrap().count, 3 * (200 + 50 + 10));
        // Not an average of the inputs' p99s: the union's, whose top 1 % (7.8 of 780) are all c's.
        let p99s: Vec<f64> = [&a, &b, &c].iter().map(|r| r.requests["segment"].ttfb_ms.unwrap().p99).collect();
        assert!((seg.ttfb_ms.unwrap().p99 - p99s[2]).abs() < p99s[2] * 0.01, "{p99s:?}");
        assert_eq!(seg.count, a.requests["segment"].count + b.requests["segment"].count + c.requests["segment"].count);
        assert_eq!(merged.segments.bytes, a.segments.bytes + b.segments.bytes + c.segments.bytes);
        assert_eq!(merged.clients.starts, 9);
        // Per variant too, from the variants' own histograms.
        let high = |r: &Report| r.variants.iter().find(|v| v.label == "high").unwrap().clone();
        let added_high = hists(&[&a, &b, &c], |r| &r.variants[1].histograms);
        let ttfb = added_high.percentiles(Metric::Ttfb(Kind::Segment)).unwrap();
        let merged_high = high(&merged);
        assert_eq!(merged_high.requests["segment"].ttfb_ms.unwrap().count, ttfb.count);
        assert!((merged_high.requests["segment"].ttfb_ms.unwrap().p99 - ttfb.p99).abs() < 0.001);
        assert_eq!(
            merged_high.segments.downloaded,
            high(&a).segments.downloaded + high(&b).segments.downloaded + high(&c).segments.downloaded
        );
        // Timelines by wall-clock second: b started 1.5 s after a, c 10 s after; 13 s in all.
        assert_eq!(merged.duration_seconds, 13.0);
        let at = |t: u64| merged.timeline.iter().find(|p| p.t == t).map_or(0, |p| p.requests);
        let total: u64 = merged.timeline.iter().map(|p| p.requests).sum();
        assert_eq!(total, [&a, &b, &c].iter().flat_map(|r| &r.timeline).map(|p| p.requests).sum::<u64>());
        assert_eq!(at(2), a.timeline[1].requests + b.timeline[0].requests, "{:?}", merged.timeline);
        assert_eq!(at(11), c.timeline[0].requests);
        let files: Vec<&str> = merged.merged_from.iter().map(|m| m.file.as_str()).collect();
        assert_eq!(files, ["0.json", "1.json", "2.json"]);
        // The merged report is a report like any other.
        let value: serde_json::Value = serde_json::from_str(&crate::report::report_json(&merged).unwrap()).unwrap();
        let schema: serde_json::Value = serde_json::from_str(include_str!("../../schema/report.schema.json")).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }

    #[test]
    fn shards_of_one_run_merge_each_once_and_missing_ones_need_allowing() {
        let shard = |index| {
            let mut r = run(5, 4, 0);
            r.shard =
                Some(crate::report::ShardReport { index, count: 3, host: format!("pod-{index}"), clock_offset: None });
            (format!("s{index}.json"), r)
        };
        let all = merge(&[shard(0), shard(1), shard(2)], false).unwrap();
        let s = all.shards.unwrap();
        assert_eq!((s.count, s.present, s.missing), (3, vec![0, 1, 2], vec![]));
        assert_eq!(all.merged_from[1].shard.as_deref(), Some("1/3"));
        let err = merge(&[shard(0), shard(2)], false).unwrap_err().to_string();
        assert!(err.contains("shards [1] of 3 are missing") && err.contains("--allow-missing"), "{err}");
        let some = merge(&[shard(0), shard(2)], true).unwrap();
        assert_eq!(some.shards.unwrap().missing, [1]);
        assert!(some.warnings.notes.iter().any(|n| n.contains("missing")), "{:?}", some.warnings.notes);
        let err = merge(&[shard(0), shard(0), shard(1), shard(2)], false).unwrap_err().to_string();
        assert!(err.contains("shard 0/3 is given twice (s0.json and s0.json)"), "{err}");
        let err = merge(&[shard(0), ("whole.json".into(), run(5, 4, 0))], false).unwrap_err().to_string();
        assert!(err.contains("1 unsharded (whole.json)") && err.contains("1 shards of 3 (s0.json)"), "{err}");
        let many: Vec<(String, Report)> = (0..3).map(shard).chain([("whole.json".into(), run(5, 4, 0))]).collect();
        let mut many = [&many[..], &many[..3]].concat();
        many.extend((0..3).map(shard));
        let err = merge(&many, false).unwrap_err().to_string();
        assert!(
            err.contains("9 shards of 3 (s0.json, s1.json, s2.json, and 6 more); 1 unsharded (whole.json)"),
            "{err}"
        );
    }

    #[test]
    fn shards_whose_clocks_surely_differ_get_a_note() {
        let shard = |index, offset_ms, uncertainty_ms| {
            let mut r = run(5, 4, 0);
            let clock_offset = Some(crate::net::ClockOffset { offset_ms, uncertainty_ms, samples: 100 });
            r.shard = Some(crate::report::ShardReport { index, count: 3, host: format!("pod-{index}"), clock_offset });
            (format!("s{index}.json"), r)
        };
        // 900 ms apart, but each give or take 300: not surely more than 500 ms.
        let close = merge(&[shard(0, 0.0, 300.0), shard(1, 900.0, 300.0), shard(2, 450.0, 2.0)], false).unwrap();
        assert!(!close.warnings.notes.iter().any(|n| n.contains("clocks")), "{:?}", close.warnings.notes);
        assert_eq!(close.merged_from[1].clock_offset.unwrap().offset_ms, 900.0);
        let apart = merge(&[shard(0, -20.0, 3.0), shard(1, 1_210.0, 5.0), shard(2, 0.0, 2.0)], false).unwrap();
        let note = apart.warnings.notes.iter().find(|n| n.contains("clocks")).expect("a note on the clocks");
        assert!(note.contains("at least 1222 ms (") && note.contains("s1.json +1210 ms, s0.json -20 ms"), "{note}");
    }

    #[test]
    fn a_runs_last_tick_and_its_end_in_one_second_are_one_point_before_the_runs_add_up() {
        let point =
            |t, active_clients, requests| TimelinePoint { t, ticks: 1, active_clients, requests, ..Default::default() };
        let mut a = run(5, 4, 0);
        // As a run that stops on a tick ends: the tick's point, then the end's, both in second 2.
        a.timeline = vec![point(1, 3, 10), point(2, 3, 10), point(2, 0, 1)];
        let merged = merge(&[("a".into(), a.clone()), ("b".into(), a)], false).unwrap();
        let seen: Vec<(u64, u64, u64)> = merged.timeline.iter().map(|p| (p.t, p.active_clients, p.requests)).collect();
        assert_eq!(seen, [(1, 6, 20), (2, 0, 22)]);
        assert_eq!(merged.timeline[1].ticks, 1, "one second's rates: 22 requests in it, not 11 a tick");
    }

    #[test]
    fn different_targets_merge_with_a_note_and_one_report_is_too_few() {
        let (a, mut b) = (run(5, 4, 0), run(5, 4, 0));
        b.target = "http://other/master.m3u8".into();
        let merged = merge(&[("a".into(), a.clone()), ("b".into(), b)], false).unwrap();
        assert_eq!(targets(&merged).len(), 2);
        assert!(merged.warnings.notes.iter().any(|n| n.contains("2 different targets")), "{:?}", merged.warnings);
        assert!(matches!(merge(&[("a".into(), a.clone())], false), Err(MergeError::TooFew(1))));
        let mut bad = a.clone();
        bad.histograms.insert("ttfb_us.segment".into(), "not base64!".into());
        let err = merge(&[("a".into(), a), ("bad.json".into(), bad)], false).unwrap_err().to_string();
        assert!(err.contains("bad.json") && err.contains("ttfb_us.segment"), "{err}");
    }
}
