//! Fault injection. Each fault rolls its own deterministic sequence of numbers from `--seed` and a
//! per-fault counter, so the same seed and the same request order give the same faults, and turning one
//! fault on does not shift another's choices.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::FaultConfig;
use super::counters::{Counters, Fault};
use crate::units::{parse_bitrate, parse_bytes, parse_duration, parse_rate};

pub struct FaultPlan {
    config: FaultConfig,
    seed: u64,
    rolls: [AtomicU64; 3],
    /// When the schedule's clock started (the origin's start).
    start: Instant,
}

/// What the faults decided for one segment or playlist response.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Decision {
    /// Answer with this status instead (503 or 404) and an empty body.
    pub status: Option<u16>,
    /// Cut the connection after this fraction of the body (0.0..1.0).
    pub reset_after: Option<f64>,
}

impl FaultPlan {
    pub fn new(config: FaultConfig, seed: u64) -> Self {
        Self { config, seed, rolls: Default::default(), start: Instant::now() }
    }

    /// The faults in force now: the schedule's latest step that has begun, else the base ones.
    pub fn current(&self) -> &FaultConfig {
        let elapsed = self.start.elapsed();
        self.config.schedule.iter().rev().find(|(at, _)| *at <= elapsed).map_or(&self.config, |(_, f)| f)
    }

    /// A uniform number in [0, 1) for the next roll of fault `which`; one atomic add per roll keeps it
    /// lock-free and deterministic per request order.
    fn roll(&self, which: usize) -> f64 {
        let n = self.rolls[which].fetch_add(1, Ordering::Relaxed);
        crate::seeded::unit(self.seed, which as u64, n)
    }

    fn hit(&self, which: usize, rate: f64) -> bool {
        rate > 0.0 && self.roll(which) < rate
    }

    /// Decides the faults of one media response; `segment` is false for playlists.
    pub fn decide(&self, segment: bool, counters: &Counters) -> Decision {
        let mut d = Decision::default();
        let config = self.current();
        if self.hit(0, config.http_5xx) {
            counters.fault(Fault::Http5xx);
            d.status = Some(503);
            return d;
        }
        if segment && self.hit(1, config.http_404) {
            counters.fault(Fault::Http404);
            d.status = Some(404);
            return d;
        }
        if segment && config.reset > 0.0 && self.hit(2, config.reset) {
            counters.fault(Fault::Reset);
            // Reuse the roll's position for where to cut, so it is deterministic too.
            d.reset_after = Some(0.1 + 0.8 * self.roll(2));
        }
        d
    }
}

/// `--fault-schedule "30s:bandwidth=2Mbit,60s:none"`: steps in time order, each `AT:` and its faults
/// joined by `+` (`http-5xx=5%`, `http-404=1%`, `reset=1%`, `delay=200ms`, `bandwidth=250k` in bytes per
/// second per response or `2Mbit` in bits), or `none`.
pub fn parse_schedule(text: &str) -> Result<Vec<(Duration, FaultConfig)>, String> {
    let mut steps: Vec<(Duration, FaultConfig)> = Vec::new();
    for step in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (at, faults) = step.split_once(':').ok_or_else(|| {
            format!("step '{step}' has no time; write AT:FAULTS, e.g. 30s:bandwidth=2Mbit or 60s:none")
        })?;
        let at = parse_duration(at.trim()).map_err(|e| format!("step '{step}': {e}"))?;
        if steps.last().is_some_and(|(last, _)| *last >= at) {
            return Err(format!("step '{step}' is not after the one before it; list the steps in time order"));
        }
        let mut config = FaultConfig::default();
        for fault in faults.split('+').map(str::trim) {
            if fault.eq_ignore_ascii_case("none") {
                continue;
            }
            let (name, value) = fault
                .split_once('=')
                .ok_or_else(|| format!("step '{step}': '{fault}' is not FAULT=VALUE (or none)"))?;
            let bad = |e: String| format!("step '{step}': {e}");
            match name.trim() {
                "http-5xx" => config.http_5xx = parse_rate(value).map_err(bad)?,
                "http-404" => config.http_404 = parse_rate(value).map_err(bad)?,
                "reset" => config.reset = parse_rate(value).map_err(bad)?,
                "delay" => config.delay = Some(parse_duration(value).map_err(bad)?),
                "bandwidth" => {
                    let value = value.trim();
                    let bytes = match value.strip_suffix("bit").or_else(|| value.strip_suffix("bps")) {
                        Some(bits) => parse_bitrate(bits).map(|b| (b / 8).max(1)),
                        None => parse_bytes(value),
                    };
                    config.bandwidth = Some(bytes.map_err(bad)?);
                }
                other => {
                    return Err(format!(
                        "step '{step}': '{other}' is not a fault; use http-5xx, http-404, reset, delay or bandwidth"
                    ));
                }
            }
        }
        steps.push((at, config));
    }
    if steps.is_empty() {
        return Err("no step given; write e.g. 30s:bandwidth=2Mbit,60s:none".into());
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_parses_in_order_and_names_a_bad_step() {
        let steps = parse_schedule("30s:bandwidth=2Mbit, 45s:delay=200ms+http-5xx=5%, 60s:none").unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[0], (Duration::from_secs(30), FaultConfig { bandwidth: Some(250_000), ..Default::default() }));
        assert_eq!(steps[1].1.delay, Some(Duration::from_millis(200)));
        assert_eq!(steps[1].1.http_5xx, 0.05);
        assert_eq!(steps[2].1, FaultConfig::default());
        assert_eq!(parse_schedule("1s:bandwidth=250k").unwrap()[0].1.bandwidth, Some(250_000), "bytes per second");
        assert!(parse_schedule("bandwidth=2M").unwrap_err().contains("has no time"));
        assert!(parse_schedule("30s:slow=1").unwrap_err().contains("'slow' is not a fault"));
        assert!(parse_schedule("30s:none,10s:none").unwrap_err().contains("time order"));
        assert!(parse_schedule("30s:delay=soon").unwrap_err().starts_with("step '30s:delay=soon'"));
    }

    #[test]
    fn the_faults_in_force_follow_the_schedule() {
        let base = FaultConfig { delay: Some(Duration::from_millis(5)), ..Default::default() };
        let later = FaultConfig { http_5xx: 1.0, ..Default::default() };
        let config = FaultConfig { schedule: vec![(Duration::from_secs(3600), later)], ..base.clone() };
        let plan = FaultPlan::new(config, 1);
        assert_eq!(plan.current().delay, base.delay, "before the first step: the base faults");
        let now = FaultConfig {
            schedule: vec![(Duration::ZERO, FaultConfig { http_5xx: 1.0, ..Default::default() })],
            ..base
        };
        let plan = FaultPlan::new(now, 1);
        assert_eq!(plan.current().delay, None, "a step replaces the faults in force");
        assert_eq!(plan.decide(false, &Counters::new()).status, Some(503));
    }

    fn plan(config: FaultConfig, seed: u64) -> FaultPlan {
        FaultPlan::new(config, seed)
    }

    #[test]
    fn rates_are_respected_and_deterministic() {
        let counters = Counters::new();
        let cfg = FaultConfig { http_5xx: 0.1, ..Default::default() };
        let a: Vec<_> = (0..10_000).map(|_| plan(cfg.clone(), 7).decide(true, &counters)).collect();
        let p = plan(cfg.clone(), 7);
        let b: Vec<_> = (0..10_000).map(|_| p.decide(true, &counters)).collect();
        let p2 = plan(cfg, 7);
        let c: Vec<_> = (0..10_000).map(|_| p2.decide(true, &counters)).collect();
        assert_eq!(b, c, "same seed, same order, same faults");
        assert!(a.iter().all(|d| *d == a[0]), "a fresh plan's first roll is always the same");
        let hits = b.iter().filter(|d| d.status == Some(503)).count();
        assert!((800..1200).contains(&hits), "about 10 %: {hits}");
    }

    #[test]
    fn zero_rates_never_fire_and_404_is_for_segments_only() {
        let counters = Counters::new();
        let p = plan(FaultConfig { http_404: 1.0, ..Default::default() }, 1);
        assert_eq!(p.decide(false, &counters), Decision::default());
        assert_eq!(p.decide(true, &counters).status, Some(404));
        assert_eq!(counters.faults(Fault::Http404), 1);
        assert_eq!(counters.faults(Fault::Http5xx), 0);
    }

    #[test]
    fn resets_cut_somewhere_inside_the_body() {
        let counters = Counters::new();
        let p = plan(FaultConfig { reset: 1.0, ..Default::default() }, 3);
        for _ in 0..100 {
            let cut = p.decide(true, &counters).reset_after.unwrap();
            assert!((0.1..0.9).contains(&cut));
        }
    }
}
