//! Viewer shards: one single-threaded tokio runtime per core, each running its share of the viewers.
//! A swarm is mostly idle tasks waking for short bursts; on a work-stealing runtime every burst parks and
//! unparks worker threads, and the context switches cost more than the requests (the README's swarm
//! benchmark has both figures). A viewer and its connections stay on one shard for life, so wake-ups
//! never cross threads.

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

pub struct Shards {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
}

impl Shards {
    /// The caller's runtime plus `threads - 1` threads of their own. A shard that cannot be started is
    /// left out (the swarm runs on fewer threads) with a warning.
    pub fn start(threads: usize) -> Shards {
        let mut shards = Shards { handles: vec![Handle::current()], stops: Vec::new() };
        for i in 1..threads.max(1) {
            match shard(i) {
                Ok((handle, stop)) => {
                    shards.handles.push(handle);
                    shards.stops.push(stop);
                }
                Err(err) => tracing::warn!("cannot start viewer thread {i}: {err}; running on {i} thread(s)"),
            }
        }
        shards
    }

    /// Every viewer runtime.
    pub fn handles(&self) -> &[Handle] {
        &self.handles
    }

    /// The runtime of viewer `i`.
    pub fn handle(&self, i: usize) -> &Handle {
        &self.handles[i % self.handles.len()]
    }

    /// Lets the shard threads end (their viewers have stopped by now; anything left is dropped).
    pub fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
    }
}

fn shard(i: usize) -> std::io::Result<(Handle, oneshot::Sender<()>)> {
    let rt = Builder::new_current_thread().enable_all().build()?;
    let handle = rt.handle().clone();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    std::thread::Builder::new().name(format!("hls-swarm-viewers-{i}")).spawn(move || {
        rt.block_on(async {
            let _ = stop_rx.await;
        });
    })?;
    Ok((handle, stop_tx))
}
