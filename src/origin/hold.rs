//! Held requests: a blocking playlist reload and a request for a hinted part wait until the part they
//! need has been produced (rfc8216bis 6.2.5.2, 6.2.6).
//!
//! One ticker per origin follows the stream clock and bumps a `watch` channel at each part boundary;
//! a held request keeps a receiver and re-checks its own condition at each bump, so it costs a
//! receiver and a timer, not a thread or a poll loop, and thousands wait at once for the price of
//! waking them at each part. The condition reads the clock itself (the channel carries no facts), so
//! a view frozen by the stale-playlist fault keeps its requests waiting, up to their time limit.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::clock::StreamClock;

/// The origin's part clock: ticks at each part produced.
pub struct PartTicks {
    tx: watch::Sender<u64>,
}

impl Default for PartTicks {
    fn default() -> Self {
        Self::new()
    }
}

impl PartTicks {
    pub fn new() -> Self {
        Self { tx: watch::channel(0).0 }
    }

    /// Ticks at each part boundary of `clock` until dropped (the server stops polling it when it
    /// stops). Whether anyone listens or not: `send_modify` needs no receiver.
    pub async fn run(&self, clock: &StreamClock) {
        loop {
            let next = clock.next_part_at(Instant::now());
            // The timer never fires early, so the part is complete when the tick goes out.
            tokio::time::sleep_until(next.into()).await;
            self.tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Waits until `ready()` holds (checked now, then at each tick) or `limit` passes; true when
    /// ready.
    pub async fn hold(&self, limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
        let mut rx = self.tx.subscribe();
        let waited = tokio::time::timeout(limit, rx.wait_for(|_| ready())).await;
        matches!(waited, Ok(Ok(_)))
    }

    #[cfg(test)]
    fn tick(&self) {
        self.tx.send_modify(|n| *n += 1);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_held_request_returns_at_the_tick_that_makes_it_ready_or_at_its_limit() {
        let ticks = Arc::new(PartTicks::new());
        assert!(ticks.hold(Duration::from_secs(3), || true).await, "ready at once");
        let flag = Arc::new(AtomicBool::new(false));
        let held = tokio::spawn({
            let (ticks, flag) = (ticks.clone(), flag.clone());
            async move { ticks.hold(Duration::from_secs(3), || flag.load(Ordering::Relaxed)).await }
        });
        while ticks.tx.receiver_count() < 1 {
            tokio::task::yield_now().await;
        }
        ticks.tick();
        tokio::task::yield_now().await;
        assert!(!held.is_finished(), "a tick that does not make it ready");
        flag.store(true, Ordering::Relaxed);
        ticks.tick();
        assert!(held.await.unwrap());
        let started = Instant::now();
        assert!(!ticks.hold(Duration::from_millis(50), || false).await, "never ready");
        assert!(started.elapsed() >= Duration::from_millis(50), "held to its limit");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn ten_thousand_held_requests_wait_on_one_channel_and_all_wake_at_one_tick() {
        let ticks = Arc::new(PartTicks::new());
        let (flag, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let mut held = tokio::task::JoinSet::new();
        for _ in 0..10_000 {
            let (ticks, flag, done) = (ticks.clone(), flag.clone(), done.clone());
            held.spawn(async move {
                if ticks.hold(Duration::from_secs(60), || flag.load(Ordering::Relaxed)).await {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        while ticks.tx.receiver_count() < 10_000 {
            tokio::task::yield_now().await;
        }
        assert_eq!(done.load(Ordering::Relaxed), 0);
        flag.store(true, Ordering::Relaxed);
        ticks.tick();
        while held.join_next().await.is_some() {}
        assert_eq!(done.load(Ordering::Relaxed), 10_000);
    }
}
