//! Fault injection. Each fault rolls its own deterministic sequence of numbers from `--seed` and a
//! per-fault counter, so the same seed and the same request order give the same faults, and turning one
//! fault on does not shift another's choices.

use std::sync::atomic::{AtomicU64, Ordering};

use super::FaultConfig;
use super::counters::{Counters, Fault};

pub struct FaultPlan {
    pub config: FaultConfig,
    seed: u64,
    rolls: [AtomicU64; 3],
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
        Self { config, seed, rolls: Default::default() }
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
        if self.hit(0, self.config.http_5xx) {
            counters.fault(Fault::Http5xx);
            d.status = Some(503);
            return d;
        }
        if segment && self.hit(1, self.config.http_404) {
            counters.fault(Fault::Http404);
            d.status = Some(404);
            return d;
        }
        if segment && self.config.reset > 0.0 && self.hit(2, self.config.reset) {
            counters.fault(Fault::Reset);
            // Reuse the roll's position for where to cut, so it is deterministic too.
            d.reset_after = Some(0.1 + 0.8 * self.roll(2));
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
