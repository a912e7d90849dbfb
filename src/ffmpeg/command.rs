//! The FFmpeg command line of one viewer, as plain data: built here, printed by `--print-cmd`, spawned
//! by `process`. Pure, so the exact arguments are unit-tested.

use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use url::Url;

/// What every viewer's FFmpeg shares.
#[derive(Clone, Debug)]
pub struct FfmpegOptions {
    pub program: PathBuf,
    /// The playlist FFmpeg opens: the chosen variant's media playlist, or the multivariant one.
    pub input: Url,
    /// Read every program of the input (`--variant all`); otherwise FFmpeg's own stream selection.
    pub map_all: bool,
    pub user_agent: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub no_cache: bool,
    /// FFmpeg's `-rw_timeout`: the longest wait on any network read or write.
    pub timeout: Duration,
}

/// A program, its arguments and the environment changes to run it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env_set: Vec<(String, String)>,
    pub env_remove: Vec<String>,
}

/// The proxy URL FFmpeg is given: its own port of the measuring proxy.
pub fn proxy_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/")
}

/// The command for one viewer whose proxy listens on `proxy_port`.
///
/// - `-nostdin`: FFmpeg would otherwise read keys from (and stop on) the terminal;
/// - `-nostats -loglevel warning`: stderr carries warnings and errors only, kept for error messages;
/// - `-progress pipe:1`: the progress blocks on stdout, which is FFmpeg's alone here because the
///   `null` muxer writes no file (`-` is never opened);
/// - `-c copy -f null -`: demux and drop, no decoding: the network side is the player's;
/// - `http_proxy`: every playlist and segment request (and HTTPS as CONNECT) goes through the proxy.
///   `no_proxy` is removed so that a loopback origin is not exempted from it.
pub fn ffmpeg_command(options: &FfmpegOptions, proxy_port: u16) -> CommandSpec {
    let mut args: Vec<String> =
        ["-nostdin", "-hide_banner", "-nostats", "-loglevel", "warning"].map(String::from).into();
    args.extend(["-user_agent".into(), options.user_agent.clone()]);
    let mut headers = String::new();
    for (name, value) in &options.headers {
        headers.push_str(&format!("{}: {}\r\n", name.as_str(), String::from_utf8_lossy(value.as_bytes())));
    }
    if options.no_cache {
        headers.push_str("Cache-Control: no-cache\r\nPragma: no-cache\r\n");
    }
    if !headers.is_empty() {
        args.extend(["-headers".into(), headers]);
    }
    args.extend(["-rw_timeout".into(), options.timeout.as_micros().max(1).to_string()]);
    args.extend(["-i".into(), options.input.to_string()]);
    if options.map_all {
        args.extend(["-map".into(), "0".into()]);
    }
    args.extend(["-c", "copy", "-f", "null", "-", "-progress", "pipe:1"].map(String::from));
    CommandSpec {
        program: options.program.clone(),
        args,
        env_set: vec![("http_proxy".into(), proxy_url(proxy_port))],
        env_remove: vec!["no_proxy".into(), "NO_PROXY".into()],
    }
}

impl CommandSpec {
    /// The command as one shell line (`env -u ... NAME=value program args`), quoted so that it can
    /// be pasted into a POSIX shell as is.
    pub fn shell_line(&self) -> String {
        let mut words = vec!["env".to_string()];
        for name in &self.env_remove {
            words.extend(["-u".into(), shell_quote(name)]);
        }
        for (name, value) in &self.env_set {
            words.push(format!("{name}={}", shell_quote(value)));
        }
        words.push(shell_quote(&self.program.to_string_lossy()));
        words.extend(self.args.iter().map(|a| shell_quote(a)));
        words.join(" ")
    }
}

/// POSIX shell quoting: plain words stay bare; anything else goes in single quotes; CR and LF (in
/// `-headers`) are written as `$'\r\n'` so the line stays one line.
fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_string();
    }
    let mut out = String::from("'");
    for c in word.chars() {
        match c {
            '\'' => out.push_str("'\\''"),
            '\r' => out.push_str("'$'\\r''"),
            '\n' => out.push_str("'$'\\n''"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> FfmpegOptions {
        FfmpegOptions {
            program: "ffmpeg".into(),
            input: Url::parse("http://origin.example/live/720p.m3u8").unwrap(),
            map_all: false,
            user_agent: "hls-swarm/0.1.0".into(),
            headers: Vec::new(),
            no_cache: false,
            timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn plain_command() {
        let spec = ffmpeg_command(&options(), 40001);
        assert_eq!(
            spec.args.join(" "),
            "-nostdin -hide_banner -nostats -loglevel warning -user_agent hls-swarm/0.1.0 -rw_timeout 10000000 \
             -i http://origin.example/live/720p.m3u8 -c copy -f null - -progress pipe:1"
        );
        assert_eq!(spec.env_set, vec![("http_proxy".to_string(), "http://127.0.0.1:40001/".to_string())]);
        assert_eq!(
            spec.shell_line(),
            "env -u no_proxy -u NO_PROXY http_proxy=http://127.0.0.1:40001/ ffmpeg -nostdin -hide_banner \
             -nostats -loglevel warning -user_agent hls-swarm/0.1.0 -rw_timeout 10000000 \
             -i http://origin.example/live/720p.m3u8 -c copy -f null - -progress pipe:1"
        );
    }

    #[test]
    fn headers_no_cache_and_all_variants() {
        let mut o = options();
        o.map_all = true;
        o.no_cache = true;
        o.user_agent = "it's me".into();
        o.headers = vec![(HeaderName::from_static("x-token"), HeaderValue::from_static("a b"))];
        let spec = ffmpeg_command(&o, 1);
        let headers = spec.args.iter().position(|a| a == "-headers").unwrap();
        assert_eq!(spec.args[headers + 1], "x-token: a b\r\nCache-Control: no-cache\r\nPragma: no-cache\r\n");
        assert!(spec.args.windows(2).any(|w| w == ["-map", "0"]));
        let line = spec.shell_line();
        assert!(line.contains("-user_agent 'it'\\''s me'"), "{line}");
        assert!(line.contains(r"'x-token: a b'$'\r'''$'\n''Cache-Control"), "{line}");
        assert!(!line.contains('\n'));
    }
}
