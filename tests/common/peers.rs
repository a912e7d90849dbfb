//! Real peers the tests start: Debian's programs (nginx, the Prometheus exporters), each on a free
//! loopback port, killed on drop, and Debian's FFmpeg to write streams. They are installed by
//! scripts/test.sh; without them tests fail, they do not skip.

use std::ffi::{OsStr, OsString};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (and reaped) on drop; its scratch directory removed.
pub struct Peer {
    pub name: &'static str,
    pub child: Child,
    pub dir: PathBuf,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The program's path; Debian puts nginx in /usr/sbin, which a non-root PATH may lack.
pub fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin".into(), "/usr/bin".into()]);
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "{name} is not installed: run scripts/test.sh, which installs Debian's ffmpeg, nginx, \
         prometheus-node-exporter and prometheus-nginx-exporter"
    );
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hls-swarm-{name}-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `cmd` with its output in a log file, and waits until it accepts connections on `port`.
pub fn start(name: &'static str, mut cmd: Command, port: u16, dir: PathBuf) -> Peer {
    let log = std::fs::File::create(dir.join("output.log")).unwrap();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let mut peer = Peer { name, child, dir };
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        let exited = peer.child.try_wait().unwrap();
        if exited.is_some() || Instant::now() > deadline {
            let output = std::fs::read_to_string(peer.dir.join("output.log")).unwrap_or_default();
            panic!("{} did not listen on 127.0.0.1:{port} (exit: {exited:?}):\n{output}", peer.name);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    peer
}

/// nginx as a single foreground process (`master_process off`: killing it leaves no workers behind) on a
/// free loopback port, every path inside its scratch directory. `http` writes the rest of its `http`
/// block (servers, logs) given that port and directory.
pub fn nginx(name: &str, http: impl FnOnce(u16, &Path) -> String) -> (Peer, u16) {
    let port = free_port();
    let dir = scratch(name);
    let p = dir.display();
    let conf = format!(
        "master_process off;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n  \
         fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n{}\n}}\n",
        http(port, &dir)
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let mut cmd = Command::new(program("nginx"));
    cmd.arg("-e").arg(dir.join("error.log")).arg("-c").arg(dir.join("nginx.conf")).arg("-p").arg(&dir);
    cmd.args(["-g", "daemon off;"]);
    (start("nginx", cmd, port, dir), port)
}

/// nginx serving the files under `<its dir>/www` ([`www`]) as an HLS origin's web server does, logging
/// each request for [`access_log`].
pub fn nginx_static() -> (Peer, u16) {
    nginx("nginx-static", |port, dir| {
        let p = dir.display();
        std::fs::create_dir_all(dir.join("www")).unwrap();
        format!(
            "  types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; video/iso.segment m4s; \
             video/mp4 mp4; }}\n  default_type application/octet-stream;\n  \
             log_format files '$connection $status $body_bytes_sent $request_uri $http_range';\n  \
             access_log {p}/access.log files;\n  \
             server {{ listen 127.0.0.1:{port}; root {p}/www; }}"
        )
    })
}

/// The folder [`nginx_static`] serves.
pub fn www(nginx: &Peer) -> PathBuf {
    nginx.dir.join("www")
}

/// One request in [`nginx_static`]'s access log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logged {
    /// nginx's connection serial number.
    pub connection: u64,
    pub status: u16,
    /// The body bytes nginx sent (for a 206, those of the range).
    pub body_bytes: u64,
    pub uri: String,
    /// The request's `Range` header.
    pub range: Option<String>,
}

/// [`nginx_static`]'s access log, a line a request.
pub fn access_log(nginx: &Peer) -> Vec<Logged> {
    let log = std::fs::read_to_string(nginx.dir.join("access.log")).unwrap();
    log.lines().map(|l| logged(l).unwrap_or_else(|| panic!("not an access log line: {l:?}"))).collect()
}

fn logged(line: &str) -> Option<Logged> {
    let mut f = line.splitn(5, ' ');
    let connection = f.next()?.parse().ok()?;
    let status = f.next()?.parse().ok()?;
    let body_bytes = f.next()?.parse().ok()?;
    let uri = f.next()?.to_owned();
    let range = f.next().filter(|r| *r != "-").map(str::to_owned);
    Some(Logged { connection, status, body_bytes, uri, range })
}

/// Runs Debian's FFmpeg with `args` in `dir` until it exits; panics with what it said when it fails.
pub fn ffmpeg(dir: &Path, args: impl IntoIterator<Item = impl AsRef<OsStr>>) {
    let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let out = Command::new(program("ffmpeg"))
        .current_dir(dir)
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ffmpeg: {e}"));
    assert!(out.status.success(), "ffmpeg {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}
