//! Real peers the tests start: Debian's programs (nginx, the Prometheus exporters), each on a free
//! loopback port, killed on drop. They are installed by scripts/test.sh; without them tests fail, they do
//! not skip.

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
