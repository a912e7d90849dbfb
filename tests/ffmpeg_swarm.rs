//! The FFmpeg engine end to end: the real binary runs Debian's FFmpeg against the in-process origin,
//! and its report is checked against what the origin served. ffmpeg is installed by scripts/test.sh;
//! without it these tests fail, they do not skip.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hls_swarm::origin::{self, OriginConfig, OriginHandle, ServedKind};

fn require_ffmpeg() {
    let ok = Command::new("ffmpeg").arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    assert!(
        ok.is_ok_and(|s| s.success()),
        "ffmpeg is not installed: run scripts/test.sh, which installs Debian's ffmpeg"
    );
}

/// Live processes (not zombies) of FFmpeg viewers whose command line contains `marker`, from /proc.
fn processes_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let zombie = stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z'));
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !zombie && cmdline.contains("-progress pipe:1") && cmdline.contains(marker) {
            found.push(pid);
        }
    }
    found
}

fn wait_for(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

struct Run {
    child: Child,
    dir: PathBuf,
    /// Text in every FFmpeg command line of this run: the origin's address.
    marker: String,
}

impl Run {
    fn start(origin: &OriginHandle, name: &str, clients: u32, ffmpeg: Option<&str>) -> Run {
        let dir = std::env::temp_dir().join(format!("hls-swarm-ffmpeg-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("{}master.m3u8", origin.url());
        let program = match ffmpeg {
            Some(script) => {
                let path = dir.join("ffmpeg");
                std::fs::write(&path, script).unwrap();
                std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
                path
            }
            None => PathBuf::from("ffmpeg"),
        };
        let child = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
            .args(["run", &url, "--engine", "ffmpeg", "--clients", &clients.to_string(), "--ramp-rate", "5"])
            .arg("--ffmpeg")
            .arg(program)
            .arg("--report")
            .arg(dir.join("report.json"))
            .stdout(std::fs::File::create(dir.join("stdout")).unwrap())
            .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
            .spawn()
            .expect("start hls-swarm");
        Run { child, dir, marker: format!("127.0.0.1:{}/", origin.addr().port()) }
    }

    fn log(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        format!("stdout:\n{}\nstderr:\n{}", read("stdout"), read("stderr"))
    }

    fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "hls-swarm did not exit within {limit:?}\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn origin_with_1s_segments(rt: &tokio::runtime::Runtime) -> OriginHandle {
    let config = OriginConfig { segment_duration: Duration::from_secs(1), ..OriginConfig::local_default() };
    rt.block_on(origin::spawn(config)).unwrap()
}

#[test]
fn five_ffmpeg_viewers_are_counted_exactly_and_sigterm_leaves_no_ffmpeg() {
    require_ffmpeg();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let origin = origin_with_1s_segments(&rt);
    let mut run = Run::start(&origin, "sigterm", 5, None);
    wait_for(Duration::from_secs(15), "5 ffmpeg processes", || processes_with(&run.marker).len() == 5);
    // About 20 s of play: 5 viewers x 20 segments of 1 s, and no FFmpeg dies on the way.
    wait_for(Duration::from_secs(60), "100 segments served", || {
        assert_eq!(processes_with(&run.marker).len(), 5, "no FFmpeg died on the way\n{}", run.log());
        origin.counters().requests_all(ServedKind::Segment) >= 5 * 20
    });
    signal(&run.child, libc::SIGTERM);
    let status = run.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "hls-swarm ended with {status:?}\n{}", run.log());
    assert_eq!(processes_with(&run.marker), Vec::<u32>::new(), "FFmpeg left behind\n{}", run.log());

    let report = read_report(&run.dir.join("report.json"));
    assert_eq!(report["engine"], "ffmpeg");
    common::validate_report(&report);
    let c = origin.counters();
    for (kind, served) in [
        ("multivariant", ServedKind::Multivariant),
        ("media_playlist", ServedKind::MediaPlaylist),
        ("segment", ServedKind::Segment),
    ] {
        let count = report["requests"][kind]["count"].as_u64().unwrap();
        let bytes = report["requests"][kind]["bytes"].as_u64().unwrap();
        assert_eq!(count, c.requests_all(served), "{kind} count\n{}", run.log());
        assert_eq!(bytes, c.body_bytes(served), "{kind} bytes\n{}", run.log());
    }
    assert_eq!(report["errors"].as_object().map(|e| e.values().filter_map(|v| v.as_u64()).sum::<u64>()), Some(0));
    assert!(c.requests_all(ServedKind::Segment) >= 5 * 18, "5 viewers x ~20 s of 1 s segments");
    segments_grow_every_two_seconds(&report, &run);
    assert_eq!(report["playback"]["stall_count"].as_u64(), Some(0), "{}", run.log());
    rt.block_on(origin.shutdown());
}

/// The old tool's defect was a segment counter that froze after ramp-up: here every 2 s window after
/// startup has new segments.
fn segments_grow_every_two_seconds(report: &serde_json::Value, run: &Run) {
    let timeline = report["timeline"].as_array().unwrap();
    let per_second: Vec<(u64, u64)> =
        timeline.iter().map(|p| (p["t"].as_u64().unwrap(), p["segments"].as_u64().unwrap())).collect();
    let first = per_second.iter().find(|(_, n)| *n > 0).expect("segments at all").0;
    let last = per_second.last().unwrap().0;
    assert!(last >= first + 18, "{per_second:?}");
    for start in (first..last - 1).step_by(2) {
        let window: u64 = per_second.iter().filter(|(t, _)| (start..start + 2).contains(t)).map(|p| p.1).sum();
        assert!(window > 0, "no segment in seconds {start}..{}: {per_second:?}\n{}", start + 2, run.log());
    }
}

fn read_report(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report written")).expect("report is JSON")
}

/// A player that ignores SIGTERM and never notices that its proxy is gone (a real FFmpeg soon exits
/// on its own when the proxy refuses it, which would hide a missing backstop).
const STUBBORN_PLAYER: &str = "#!/bin/sh\n\
    if [ \"$1\" = -version ]; then echo 'ffmpeg version stub'; exit 0; fi\n\
    trap '' TERM\n\
    while :; do sleep 0.2; done\n";

/// The backstop: when hls-swarm is killed outright (no shutdown path runs), the kernel's
/// parent-death signal ends every player.
#[test]
fn sigkill_to_hls_swarm_leaves_no_player() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let origin = origin_with_1s_segments(&rt);
    let mut run = Run::start(&origin, "sigkill", 3, Some(STUBBORN_PLAYER));
    wait_for(Duration::from_secs(15), "3 ffmpeg processes", || processes_with(&run.marker).len() == 3);
    signal(&run.child, libc::SIGKILL);
    run.wait_exit(Duration::from_secs(5));
    wait_for(Duration::from_secs(3), "every player to end", || processes_with(&run.marker).is_empty());
    rt.block_on(origin.shutdown());
}

/// `--print-cmd`: viewer 0's command as a shell line, with the variant chosen from the playlist.
#[test]
fn print_cmd_shows_the_chosen_variant_and_the_proxy() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let origin = rt.block_on(origin::spawn(OriginConfig::local_default())).unwrap();
    let url = format!("{}master.m3u8", origin.url());
    let print = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
            .args(["run", &url, "--print-cmd"])
            .args(extra)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (code, line) = print(&["--engine", "ffmpeg", "--variant", "highest"]);
    assert_eq!(code, Some(0));
    assert!(line.starts_with("env -u no_proxy -u NO_PROXY http_proxy=http://127.0.0.1:"), "{line}");
    assert!(line.contains(&format!(" -i {}1080p/stream.m3u8 ", origin.url())), "{line}");
    let (_, all) = print(&["--engine", "ffmpeg", "--variant", "all"]);
    assert!(all.contains(&format!(" -i {url} -map 0 ")), "{all}");
    let (code, _) = print(&[]);
    assert_eq!(code, Some(2), "--print-cmd needs --engine ffmpeg");
    rt.block_on(origin.shutdown());
}
