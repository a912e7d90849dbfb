//! The limits a big run meets on its own machine, checked before the run so that they are a clear
//! message and not a mystery of connect errors: open files (the soft limit raised to the hard one when
//! that is enough), local ports per destination (`net.ipv4.ip_local_port_range`, times the
//! `--source-addrs`), and the source addresses themselves. What still runs out during the run is
//! counted as the `local_limit` error class ([`crate::net::NetError::LocalLimit`]).

use std::net::IpAddr;

/// Descriptors for everything but connections (runtime, listeners, logs, the metrics endpoint).
pub const FDS_BASE: u64 = 64;

/// The soft open-file limit as it was and as it is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdLimit {
    pub was: u64,
    pub now: u64,
}

/// Why the open-file limit cannot hold a run.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("the hard open-file limit is {hard} (ulimit -Hn)")]
    TooFew { needed: u64, hard: u64 },
    #[error("cannot read or raise the open-file limit: {0}; check `ulimit -n`")]
    Rlimit(std::io::Error),
}

/// Makes sure the soft open-file limit is at least `needed`, raising it (never above the hard limit).
pub fn ensure_open_files(needed: u64) -> Result<FdLimit, FilesError> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(FilesError::Rlimit(std::io::Error::last_os_error()));
    }
    // rlim_t is u64 on 64-bit Linux but not on every target.
    #[allow(clippy::unnecessary_cast)]
    let (soft, hard) = (lim.rlim_cur as u64, lim.rlim_max as u64);
    if soft >= needed {
        return Ok(FdLimit { was: soft, now: soft });
    }
    if hard < needed {
        return Err(FilesError::TooFew { needed, hard });
    }
    lim.rlim_cur = needed as libc::rlim_t;
    // SAFETY: setrlimit reads the struct we own; raising the soft limit up to the hard one is allowed.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(FilesError::Rlimit(std::io::Error::last_os_error()));
    }
    Ok(FdLimit { was: soft, now: needed })
}

/// Raises the soft open-file limit to the hard one (a server that takes whatever connections come).
pub fn raise_open_files() -> Result<FdLimit, FilesError> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(FilesError::Rlimit(std::io::Error::last_os_error()));
    }
    #[allow(clippy::unnecessary_cast)]
    ensure_open_files(lim.rlim_max as u64)
}

/// What a native swarm holds open: connections per viewer to the target, and descriptors in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    /// Connections to the one destination the target URL names.
    pub connections: u64,
    pub files: u64,
    /// The built-in origin runs in the same process (its ends of the connections count here too).
    pub with_origin: bool,
}

/// A native swarm of `clients` viewers playing `tracks` tracks each (a variant, plus an audio or
/// subtitle rendition): a track keeps one keep-alive connection, a low-latency one two more (its
/// blocking reload and its preload hint wait on their own). With the built-in origin in the same
/// process, each connection is a descriptor at both ends.
pub fn native_needs(clients: u32, tracks: u32, low_latency: bool, origin_in_process: bool) -> Needs {
    let per_track = if low_latency { 3 } else { 1 };
    let connections = u64::from(clients) * u64::from(tracks.max(1)) * per_track;
    let ends = if origin_in_process { 2 } else { 1 };
    Needs { connections, files: FDS_BASE + connections * ends, with_origin: origin_in_process }
}

/// The open-file limit for a native run: raised when the hard limit allows, else a message that says
/// what to change.
pub fn check_open_files(clients: u32, needs: Needs) -> Result<FdLimit, String> {
    ensure_open_files(needs.files).map_err(|e| match e {
        FilesError::TooFew { needed, hard } => too_few_files(clients, needs, needed, hard),
        other => other.to_string(),
    })
}

/// What to change when `needed` descriptors are more than the `hard` limit: with the built-in origin in
/// the process, move it out (a shard each would start one of its own); else, as many shards as fit.
fn too_few_files(clients: u32, needs: Needs, needed: u64, hard: u64) -> String {
    let start = format!(
        "{clients} viewers need about {needed} open files and this process may open {hard} (ulimit -Hn): \
         raise the hard limit (limits.conf, or LimitNOFILE= for a service)"
    );
    if needs.with_origin {
        return format!(
            "{start}, or serve the origin from processes of its own (`hls-swarm origin --workers N`, each \
             with its own limit) and give its URL"
        );
    }
    let per_process = hard.saturating_sub(FDS_BASE).max(1);
    let shards = needs.files.saturating_sub(FDS_BASE).div_ceil(per_process).max(2);
    format!(
        "{start}, or shard the run: {shards} processes, --shard 0/{shards} to --shard {}/{shards} with one \
         --start-at (on this machine or several), then `hls-swarm report merge`",
        shards - 1
    )
}

/// Local ports to one destination: the size of `net.ipv4.ip_local_port_range`, `None` where it cannot
/// be read.
pub fn local_ports() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut bounds = text.split_whitespace().map(|n| n.parse::<u64>().ok());
    let (low, high) = (bounds.next()??, bounds.next()??);
    (high >= low).then(|| high - low + 1)
}

/// Whether `connections` to one destination fit the local ports of `sources` addresses (one when
/// none are given); `ports`: the range's size.
pub fn check_ports(connections: u64, sources: usize, ports: u64) -> Result<(), String> {
    let addresses = sources.max(1) as u64;
    if connections <= ports * addresses {
        return Ok(());
    }
    let more = connections.div_ceil(ports);
    Err(format!(
        "about {connections} connections to one destination, and each local address has {ports} ports \
         (net.ipv4.ip_local_port_range){}: give --source-addrs with at least {more} local addresses \
         (e.g. 127.0.0.2,127.0.0.3 for a loopback target), widen the range, or shard the run",
        if sources > 0 { format!(" and --source-addrs gives {sources}") } else { String::new() }
    ))
}

/// Connections the kernel queues for a listener before it accepts them (`net.core.somaxconn`).
pub fn somaxconn() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn").ok()?.trim().parse().ok()
}

/// This machine's name (a pod's, in Kubernetes), for a shard's report; `unknown` where it cannot be read.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map_or_else(|_| "unknown".into(), |h| h.trim().to_owned())
}

/// Each `--source-addrs` address is one of this machine's: it can be bound.
pub fn check_sources(addrs: &[IpAddr]) -> Result<(), String> {
    for ip in addrs {
        std::net::TcpListener::bind((*ip, 0)).map_err(|e| {
            format!("--source-addrs {ip}: not an address this machine can connect from ({e}); give local addresses")
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_grow_with_viewers_tracks_low_latency_and_an_origin_in_the_process() {
        assert_eq!(
            native_needs(1_000, 1, false, false),
            Needs { connections: 1_000, files: 1_064, with_origin: false }
        );
        assert_eq!(native_needs(1_000, 2, true, false).connections, 6_000);
        assert_eq!(native_needs(1_000, 1, false, true).files, 2_064);
    }

    #[test]
    fn ports_are_per_source_address_and_the_message_says_how_many_more() {
        assert!(check_ports(28_000, 0, 28_232).is_ok());
        let err = check_ports(60_000, 0, 28_232).unwrap_err();
        assert!(err.contains("--source-addrs with at least 3") && err.contains("ip_local_port_range"), "{err}");
        assert!(check_ports(60_000, 3, 28_232).is_ok());
        let err = check_ports(90_000, 3, 28_232).unwrap_err();
        assert!(err.contains("--source-addrs gives 3"), "{err}");
    }

    #[test]
    fn a_source_address_must_be_this_machines() {
        assert!(check_sources(&["127.0.0.2".parse().unwrap()]).is_ok());
        let err = check_sources(&["192.0.2.1".parse().unwrap()]).unwrap_err();
        assert!(err.contains("--source-addrs 192.0.2.1"), "{err}");
    }

    #[test]
    fn too_few_files_names_shards_that_fit_or_the_origin_workers() {
        // 20,000 viewers and 20,000 descriptors a process (this machine's): two shards of 10,000.
        let err = too_few_files(20_000, native_needs(20_000, 1, false, false), 20_064, 20_000);
        assert!(err.contains("shard the run: 2 processes, --shard 0/2 to --shard 1/2"), "{err}");
        let err = too_few_files(50_000, native_needs(50_000, 1, false, false), 50_064, 20_000);
        assert!(err.contains("3 processes"), "{err}");
        let err = too_few_files(20_000, native_needs(20_000, 1, false, true), 40_064, 20_000);
        assert!(err.contains("hls-swarm origin --workers N") && !err.contains("--shard"), "{err}");
    }

    #[test]
    fn the_limit_is_raised_within_the_hard_one_or_says_so() {
        assert!(ensure_open_files(FDS_BASE).is_ok());
        assert!(matches!(ensure_open_files(u64::MAX), Err(FilesError::TooFew { .. })));
        let err = check_open_files(u32::MAX, native_needs(u32::MAX, 1, false, false)).unwrap_err();
        assert!(err.contains("ulimit -Hn") && err.contains("shard the run"), "{err}");
        let err = check_open_files(u32::MAX, native_needs(u32::MAX, 1, false, true)).unwrap_err();
        assert!(err.contains("hls-swarm origin --workers"), "{err}");
    }
}
