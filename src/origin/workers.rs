//! `hls-swarm origin --workers N`: one origin served by N processes, as nginx's worker processes serve
//! one server. Each process has its own open-file limit, so N of them hold N times the connections one
//! may: a 20,000-viewer run and its origin on one machine whose hard limit is 20,000 descriptors a
//! process.
//!
//! The first process binds N listening sockets to the address with `SO_REUSEPORT` (the kernel spreads
//! new connections among them by their addresses), builds the stream once (one clock, counters in
//! shared memory: [`super::cells`]), then forks the others while it still has one thread; each keeps one
//! socket and serves it on a runtime of its own. The first passes SIGINT and SIGTERM on to the others
//! and waits for them; they end with it if it dies (`PR_SET_PDEATHSIG`), and it logs one that ends
//! early. Written here with libc: `fork` has to happen before any runtime exists, which no process
//! crate offers (they spawn programs; re-executing ourselves would give each worker its own clock).

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use super::ACCEPT_BACKLOG;

/// A listening socket on `addr`, non-blocking, for a tokio runtime made later; with `shared`, others may
/// listen on the same address (`SO_REUSEPORT`): only when serving with several workers, so a second
/// origin started by mistake on a taken port still fails to bind.
fn listener(addr: SocketAddr, shared: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if shared {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(ACCEPT_BACKLOG).unwrap_or(i32::MAX))?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// `count` listening sockets on `addr` (port 0: one free port they all take), the first process's first.
pub fn bind(addr: SocketAddr, count: usize) -> io::Result<Vec<std::net::TcpListener>> {
    let shared = count > 1;
    let first = listener(addr, shared)?;
    let bound = first.local_addr()?;
    let mut all = vec![first];
    for _ in 1..count {
        all.push(listener(bound, shared)?);
    }
    Ok(all)
}

/// What a process is after [`fork`].
#[derive(Debug)]
pub enum Role {
    /// The process that was started: it stops the others (their pids, worker 1 first) when it stops.
    First { others: Vec<Worker> },
    /// A forked worker.
    Other,
}

#[derive(Debug)]
pub struct Worker {
    pub index: usize,
    pub pid: libc::pid_t,
    /// Reaped already (ended early and logged, or stopped).
    pub ended: bool,
}

/// Threads of this process, from `/proc/self/status`.
fn threads() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Threads:")).and_then(|n| n.trim().parse().ok())
}

/// Forks a process per listener after the first; each returns its worker index, its own listener and
/// its role. Must run while the process has one thread (checked): a fork copies only the calling
/// thread, so a lock held by another would stay locked in the child.
pub fn fork(listeners: Vec<std::net::TcpListener>) -> io::Result<(usize, std::net::TcpListener, Role)> {
    if listeners.len() > 1 && threads() != Some(1) {
        return Err(io::Error::other(format!(
            "cannot fork worker processes: this process already runs {} threads",
            threads().map_or("several".to_string(), |n| n.to_string())
        )));
    }
    let mut listeners = listeners.into_iter();
    let mine = listeners.next().ok_or_else(|| io::Error::other("no listener"))?;
    // SAFETY: getpid has no preconditions.
    let first = unsafe { libc::getpid() };
    let mut others = Vec::new();
    // Each fork's child keeps its own listener and the later ones (dropped as it returns); this process
    // closes its copy of each once its worker has it.
    for (index, listener) in (1..).zip(listeners.by_ref()) {
        // SAFETY: the process has one thread (checked above), so the child starts with a consistent
        // copy of everything, the allocator's and stdio's locks included.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            let err = io::Error::last_os_error();
            stop(&mut others, std::time::Duration::from_secs(1));
            return Err(err);
        }
        if pid == 0 {
            // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number; getppid has no preconditions.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
            if unsafe { libc::getppid() } != first {
                // The first process ended before the line above: end too, as it would have made us.
                std::process::exit(0);
            }
            drop(mine);
            return Ok((index, listener, Role::Other));
        }
        others.push(Worker { index, pid, ended: false });
    }
    Ok((0, mine, Role::First { others }))
}

/// Reaps workers that have ended, without waiting, and logs each: its share of new connections goes to
/// the others (the kernel drops a closed socket from the port's group).
pub fn reap_ended(others: &mut [Worker]) {
    for worker in others.iter_mut().filter(|w| !w.ended) {
        let mut status = 0;
        // SAFETY: waits (without blocking) for our own child.
        if unsafe { libc::waitpid(worker.pid, &mut status, libc::WNOHANG) } == worker.pid {
            worker.ended = true;
            tracing::error!(
                "origin: worker {} (pid {}) ended ({}); the other workers take its new connections",
                worker.index,
                worker.pid,
                describe(status)
            );
        }
    }
}

fn describe(status: libc::c_int) -> String {
    if libc::WIFSIGNALED(status) {
        format!("signal {}", libc::WTERMSIG(status))
    } else {
        format!("exit status {}", libc::WEXITSTATUS(status))
    }
}

/// Sends SIGTERM to the workers still running, so they finish their responses and stop.
pub fn signal_stop(others: &[Worker]) {
    for worker in others.iter().filter(|w| !w.ended) {
        // SAFETY: signals our own child, not yet reaped (so the pid is still its).
        unsafe { libc::kill(worker.pid, libc::SIGTERM) };
    }
}

/// Stops the workers still running and waits for each: they finish within the origin's shutdown grace;
/// one still running `grace` later is killed, so stopping never hangs.
pub fn stop(others: &mut [Worker], grace: std::time::Duration) {
    signal_stop(others);
    let deadline = std::time::Instant::now() + grace;
    while others.iter().any(|w| !w.ended) && std::time::Instant::now() < deadline {
        for worker in others.iter_mut().filter(|w| !w.ended) {
            let mut status = 0;
            // SAFETY: waits (without blocking) for our own child.
            worker.ended = unsafe { libc::waitpid(worker.pid, &mut status, libc::WNOHANG) } != 0;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for worker in others.iter_mut().filter(|w| !w.ended) {
        tracing::warn!("origin: worker {} (pid {}) did not stop in time: killed", worker.index, worker.pid);
        let mut status = 0;
        // SAFETY: kills and then reaps our own child, not yet reaped (so the pid is still its).
        unsafe {
            libc::kill(worker.pid, libc::SIGKILL);
            libc::waitpid(worker.pid, &mut status, 0);
        }
        worker.ended = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_bind_one_port_and_only_they_share_it() {
        let all = bind("127.0.0.1:0".parse().unwrap(), 3).expect("bind three");
        let port = all[0].local_addr().unwrap().port();
        assert!(port != 0 && all.iter().all(|l| l.local_addr().unwrap().port() == port));
        let alone = bind("127.0.0.1:0".parse().unwrap(), 1).expect("bind one");
        let taken = alone[0].local_addr().unwrap();
        assert!(bind(taken, 1).is_err(), "a single origin's port is not shared");
        assert!(bind(taken, 2).is_err(), "nor joined by workers of another origin");
    }
}
