//! Each viewer's last mile: a download rate cap ([`Shaper`], fixed or following a trace) and an added
//! round trip per request, drawn per viewer from the run's network plan (`--network`, `--bandwidth`,
//! `--rtt`, `--bandwidth-trace`), deterministically from `--seed`.

use std::time::{Duration, Instant};

use super::shape::{Shaper, Trace};
use crate::seeded;

/// One viewer's link: what its loaders share.
#[derive(Clone, Debug, Default)]
pub struct Link {
    pub shaper: Option<Shaper>,
    /// Added before each request's first byte (a round trip), and once more to open a connection.
    pub rtt: Duration,
}

/// A named connection profile: WebPageTest's connectivity presets (`connectivity.ini.sample` in
/// WPO-Foundation/webpagetest: downstream bandwidth and round-trip time), the figures web performance
/// tools share (Lighthouse's default throttling is `3gfast`'s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    pub bits_per_s: u64,
    pub rtt: Duration,
}

const fn profile(name: &'static str, bits_per_s: u64, rtt_ms: u64) -> Profile {
    Profile { name, bits_per_s, rtt: Duration::from_millis(rtt_ms) }
}

pub const PROFILES: [Profile; 10] = [
    profile("2g", 280_000, 800),
    profile("edge", 240_000, 840),
    profile("3gslow", 400_000, 400),
    profile("3g", 1_600_000, 300),
    profile("3gfast", 1_600_000, 150),
    profile("4g", 9_000_000, 170),
    profile("lte", 12_000_000, 70),
    profile("dsl", 1_500_000, 50),
    profile("cable", 5_000_000, 28),
    profile("fios", 20_000_000, 4),
];

/// The profiles' names, for messages.
pub fn profile_names() -> String {
    PROFILES.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

/// `--network "3g:20%,4g:50%,cable:30%"`: profiles and their shares (which sum to 100 %).
pub fn parse_mix(text: &str) -> Result<Vec<(Profile, f64)>, String> {
    let mut mix = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, share) = part.split_once(':').unwrap_or((part, "100%"));
        let profile = PROFILES.iter().find(|p| p.name.eq_ignore_ascii_case(name.trim())).ok_or_else(|| {
            format!("'{}' is not a network profile; use one of {} (e.g. 3g:20%,4g:80%)", name.trim(), profile_names())
        })?;
        let share = share.trim();
        let value: f64 = share
            .strip_suffix('%')
            .unwrap_or(share)
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v > 0.0)
            .ok_or_else(|| {
                format!("'{share}' is not a share of viewers for {}; use a percentage such as 20%", name.trim())
            })?;
        mix.push((*profile, value / 100.0));
    }
    if mix.is_empty() {
        return Err("no network profile given; use e.g. 3g:20%,4g:50%,cable:30%".into());
    }
    let total: f64 = mix.iter().map(|(_, s)| s).sum();
    if (total - 1.0).abs() > 0.001 {
        return Err(format!("the shares add up to {:.1} %, not 100 %", total * 100.0));
    }
    Ok(mix)
}

/// `--bandwidth-trace FILE`'s text: a line per step, `seconds kbit/s` (the rate from that second on),
/// from 0 and in order; `#` starts a comment. A bad line is an error naming it.
pub fn parse_trace(text: &str) -> Result<Trace, String> {
    let mut steps = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let bad = || format!("line {}: '{line}' is not 'seconds kbit/s' (e.g. '0 8000', then '30 1000')", n + 1);
        let mut fields = line.split_whitespace();
        let (Some(at), Some(rate), None) = (fields.next(), fields.next(), fields.next()) else { return Err(bad()) };
        // At most about 31 years: a larger time is a typo, and would overflow the trace's length.
        let at: f64 = at.parse().ok().filter(|v: &f64| v.is_finite() && (0.0..=1e9).contains(v)).ok_or_else(bad)?;
        let kbit: f64 = rate.parse().ok().filter(|v: &f64| v.is_finite() && *v > 0.0).ok_or_else(bad)?;
        let at = Duration::from_secs_f64(at);
        if steps.last().is_some_and(|(last, _): &(Duration, u64)| *last >= at) || (steps.is_empty() && !at.is_zero()) {
            return Err(format!("line {}: steps start at 0 and go forward in time", n + 1));
        }
        steps.push((at, (kbit * 1000.0).round() as u64));
    }
    Trace::new(steps).ok_or_else(|| "the trace has no step; give lines of 'seconds kbit/s' from 0".into())
}

/// What every viewer's link is drawn from.
#[derive(Clone, Debug, Default)]
pub struct NetworkPlan {
    /// Profiles and their shares (`--network`); empty: no profile.
    pub mix: Vec<(Profile, f64)>,
    /// `--bandwidth`: every viewer's cap, over the profile's.
    pub bandwidth: Option<u64>,
    /// `--rtt`: every viewer's added round trip, over the profile's.
    pub rtt: Option<Duration>,
    /// `--bandwidth-trace`: every viewer's bandwidth over time, each from an offset of its own.
    pub trace: Option<Trace>,
    /// Every viewer from the trace's start (a network event all meet at once), not from offsets of
    /// their own.
    pub trace_in_step: bool,
    pub seed: u64,
}

/// The seeded stream a viewer's profile is drawn from, and its trace offset's.
const PROFILE_STREAM: u64 = 0x6e65_7477;
const TRACE_STREAM: u64 = 0x7472_6163;

impl NetworkPlan {
    /// Whether viewers get a link at all.
    pub fn shapes(&self) -> bool {
        !self.mix.is_empty() || self.bandwidth.is_some() || self.rtt.is_some() || self.trace.is_some()
    }

    /// Viewer `viewer`'s profile, drawn from the mix by the seed.
    pub fn profile_of(&self, viewer: u32) -> Option<Profile> {
        let u = seeded::unit(self.seed, PROFILE_STREAM, u64::from(viewer));
        let mut below = 0.0;
        for (profile, share) in &self.mix {
            below += share;
            if u < below {
                return Some(*profile);
            }
        }
        self.mix.last().map(|(p, _)| *p)
    }

    /// Where in the trace viewer `viewer` starts.
    pub fn trace_offset(&self, viewer: u32) -> Duration {
        if self.trace_in_step {
            return Duration::ZERO;
        }
        self.trace
            .as_ref()
            .map_or(Duration::ZERO, |t| t.length().mul_f64(seeded::unit(self.seed, TRACE_STREAM, u64::from(viewer))))
    }

    /// Viewer `viewer`'s link from `now` on; `None` without shaping.
    pub fn link_for(&self, viewer: u32, now: Instant) -> Option<Link> {
        if !self.shapes() {
            return None;
        }
        let profile = self.profile_of(viewer);
        let rtt = self.rtt.or(profile.map(|p| p.rtt)).unwrap_or_default();
        let shaper = match (&self.trace, self.bandwidth.or(profile.map(|p| p.bits_per_s))) {
            (Some(trace), _) => Some(Shaper::traced(trace.clone(), self.trace_offset(viewer), now)),
            (None, Some(bits)) => Some(Shaper::new(bits, now)),
            (None, None) => None,
        };
        Some(Link { shaper, rtt })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_is_drawn_per_viewer_in_its_shares_and_repeats_with_the_seed() {
        let plan = NetworkPlan { mix: parse_mix("3g:20%,4g:50%,cable:30%").unwrap(), seed: 7, ..Default::default() };
        let mut counts = std::collections::BTreeMap::new();
        for viewer in 0..10_000 {
            *counts.entry(plan.profile_of(viewer).unwrap().name).or_insert(0) += 1;
        }
        for (name, share) in [("3g", 0.2), ("4g", 0.5), ("cable", 0.3)] {
            let got = f64::from(counts[name]) / 10_000.0;
            assert!((got - share).abs() < 0.02, "{name}: {got}");
        }
        assert_eq!(plan.profile_of(42), plan.profile_of(42));
        let link = plan.link_for(3, Instant::now()).unwrap();
        let p = plan.profile_of(3).unwrap();
        assert_eq!(link.rtt, p.rtt);
        assert!(link.shaper.is_some());
        let overridden = NetworkPlan { rtt: Some(Duration::from_millis(5)), ..plan };
        assert_eq!(overridden.link_for(3, Instant::now()).unwrap().rtt, Duration::from_millis(5));
        assert!(NetworkPlan::default().link_for(0, Instant::now()).is_none(), "no shaping: no link");
    }

    #[test]
    fn bad_mixes_and_traces_name_what_to_change() {
        assert!(parse_mix("5g:100%").unwrap_err().contains("'5g' is not a network profile"));
        assert!(parse_mix("3g:50%,4g:20%").unwrap_err().contains("add up to 70.0 %"));
        assert!(parse_mix("3g:lots").unwrap_err().contains("'lots'"));
        assert_eq!(parse_mix("cable").unwrap()[0].0.bits_per_s, 5_000_000, "one profile for everyone");
        let trace = parse_trace("# a drop\n0 8000\n\n5 1000  # 1 Mbit/s\n").unwrap();
        assert_eq!(trace.rate_at(Duration::from_secs(6)), 1_000_000);
        assert!(parse_trace("0 8000\n5 fast\n").unwrap_err().starts_with("line 2:"));
        assert!(parse_trace("0 8000\n5 1000 9\n").unwrap_err().starts_with("line 2:"));
        assert!(parse_trace("0 8000\n0 1000\n").unwrap_err().contains("go forward"));
        assert!(parse_trace("3 8000\n").unwrap_err().contains("start at 0"));
        assert!(parse_trace("0 8000\n1e20 1000\n").unwrap_err().starts_with("line 2:"), "no panic on a huge time");
        assert!(parse_trace("# nothing\n").unwrap_err().contains("no step"));
    }

    #[test]
    fn viewers_start_the_trace_at_offsets_of_their_own() {
        let trace = parse_trace("0 8000\n5 1000\n").unwrap();
        let plan = NetworkPlan { trace: Some(trace), seed: 1, ..Default::default() };
        let offsets: Vec<Duration> = (0..20).map(|v| plan.trace_offset(v)).collect();
        assert!(offsets.iter().all(|o| *o < Duration::from_secs(10)));
        assert!(offsets.windows(2).any(|w| w[0] != w[1]));
    }
}
