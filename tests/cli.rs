//! The binary's contract: bad flags exit 2 naming the flag; a run that cannot start exits 1 with a clear
//! message; nothing panics.

use std::process::Command;

fn hls_swarm(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hls-swarm")).args(args).output().expect("run the binary");
    let code = out.status.code().unwrap_or(-1);
    (code, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_flag_values_name_the_flag_and_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["origin", "--segment-duration", "fast"], "--segment-duration"),
        (&["origin", "--segment-duration", "0"], "--segment-duration"),
        (&["origin", "--variants", "hd:1M"], "--variants"),
        (&["origin", "--variants", "720p:lots"], "--variants"),
        (&["origin", "--variants", "720p:1M,720p:2M"], "--variants"),
        (&["origin", "--fault-http-5xx", "2"], "--fault-http-5xx"),
        (&["origin", "--window", "0"], "--window"),
        (&["origin", "--listen", "nowhere"], "--listen"),
        (&["origin", "--vod", "0.01"], "--vod"),
        (&["run", "--clients", "0"], "--clients"),
        (&["run", "--ramp-rate", "-1"], "--ramp-rate"),
        (&["run", "--duration", "soon"], "--duration"),
        (&["run", "--timeout", "0"], "--timeout"),
        (&["run", "--header", "no colon"], "--header"),
        (&["run", "ftp://example.invalid/x.m3u8"], "URL"),
        (&["run", "--insecure"], "--dangerous"),
        (&["run", "--resolve", "127.0.0.1"], "--dangerous"),
        (&["run", "--variant", "middle"], "--variant"),
        (&["run", "--metrics-addr", "nowhere"], "--metrics-addr"),
    ];
    for (args, flag) in cases {
        let (code, _, err) = hls_swarm(args);
        assert_eq!(code, 2, "{args:?} exited {code}: {err}");
        assert!(err.contains(flag), "{args:?}: the message does not name {flag}: {err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    }
}

#[test]
fn unreachable_target_exits_1_with_a_clear_message() {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    let (code, _, err) = hls_swarm(&["run", "http://127.0.0.1:1/live/master.m3u8", "--duration", "1s"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot start the run"), "{err}");
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(err.to_lowercase().contains("refused"), "{err}");
}

#[test]
fn origin_address_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, err) = hls_swarm(&["origin", "--listen", &addr]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--listen"), "{err}");
}
