//! `hls-swarm run --engine ffmpeg`: checks FFmpeg and the open-file limit, picks the playlist FFmpeg
//! opens, and prints the command (`--print-cmd`) or configures the FFmpeg swarm, which then runs under
//! the same dashboard, exporter and report as the native engine.

use std::process::ExitCode;
use std::sync::Arc;

use url::Url;

use super::policy;
use crate::cli::{RunArgs, VariantArg};
use crate::ffmpeg::preflight::{ensure_fd_limit, fds_needed, ffmpeg_version};
use crate::ffmpeg::{FfmpegOptions, FfmpegSwarmConfig, ProxyConfig, TERM_GRACE, ffmpeg_command};
use crate::hls::{self, Playlist};
use crate::stats::Recorder;

/// What FFmpeg is given to open, and what the proxy needs to know about the variants.
#[derive(Debug, PartialEq)]
pub(super) struct Input {
    pub url: Url,
    pub map_all: bool,
    /// The multivariant playlist's variants (media playlist URLs); empty for a media playlist URL.
    pub variants: Vec<Url>,
    /// Streams each FFmpeg reads (for the open-file estimate).
    pub streams: u32,
}

/// `highest`/`lowest`/`first`: the chosen variant's media playlist (we choose, by BANDWIDTH as the
/// native engine does); `all`: the multivariant playlist with `-map 0`, so FFmpeg reads every variant.
pub(super) fn choose_input(url: &Url, playlist: &Playlist, variant: VariantArg) -> Input {
    match playlist {
        Playlist::Media(_) => Input { url: url.clone(), map_all: false, variants: Vec::new(), streams: 1 },
        Playlist::Multivariant(m) => {
            let variants: Vec<Url> = m.variants.iter().map(|v| v.uri.clone()).collect();
            if variant == VariantArg::All {
                let streams = u32::try_from(variants.len()).unwrap_or(u32::MAX);
                return Input { url: url.clone(), map_all: true, variants, streams };
            }
            let chosen = hls::choose_variants(m, policy(variant)).first().copied().unwrap_or(0);
            Input { url: variants[chosen].clone(), map_all: false, variants, streams: 1 }
        }
    }
}

/// The FFmpeg swarm's configuration, or the exit code when the run ends here (`--print-cmd`, or a check
/// that failed with its message printed).
pub(super) fn prepare(
    args: &RunArgs,
    url: &Url,
    playlist: &Playlist,
    recorder: Recorder,
) -> anyhow::Result<Result<FfmpegSwarmConfig, ExitCode>> {
    let input = choose_input(url, playlist, args.variant);
    let options = Arc::new(FfmpegOptions {
        program: args.ffmpeg.clone(),
        input: input.url.clone(),
        map_all: input.map_all,
        user_agent: args.user_agent.clone(),
        headers: args.headers.clone(),
        no_cache: args.no_cache,
        timeout: args.timeout,
    });
    if args.print_cmd {
        // The port a viewer's proxy would get now; each run picks free ports anew.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        println!("{}", ffmpeg_command(&options, port).shell_line());
        eprintln!("hls-swarm: viewer 0's command; the proxy port (http_proxy) is picked anew by each run");
        return Ok(Err(ExitCode::SUCCESS));
    }
    if let Err(message) = checks(args, input.streams) {
        eprintln!("hls-swarm: error: cannot start the run: {message}");
        return Ok(Err(ExitCode::from(1)));
    }
    let proxy = Arc::new(ProxyConfig {
        recorder,
        resolve: args.resolve,
        timeout: args.timeout,
        variants: input.variants.into(),
    });
    Ok(Ok(FfmpegSwarmConfig { plan: super::plan(args, default_threads), options, proxy, term_grace: TERM_GRACE }))
}

/// FFmpeg runs (its version goes to stderr) and the open-file limit holds the swarm.
fn checks(args: &RunArgs, streams: u32) -> Result<(), String> {
    let version = ffmpeg_version(&args.ffmpeg).map_err(|e| e.to_string())?;
    eprintln!("hls-swarm: {version} ({})", args.ffmpeg.display());
    let needed = fds_needed(args.clients, streams);
    let limit = ensure_fd_limit(args.clients, needed).map_err(|e| e.to_string())?;
    if limit.now > limit.was {
        eprintln!(
            "hls-swarm: raised the open-file limit from {} to {} for {} FFmpeg viewers",
            limit.was, limit.now, args.clients
        );
    }
    Ok(())
}

/// One proxy thread per 100 FFmpeg viewers, up to one per CPU: each viewer relays a whole stream's
/// bytes through the proxy, far more work per viewer than a native viewer's requests.
fn default_threads(clients: u32) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (clients as usize).div_ceil(100).clamp(1, cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> (Url, Playlist) {
        let url = Url::parse("http://o/master.m3u8").unwrap();
        let text = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n360p/stream.m3u8\n\
                    #EXT-X-STREAM-INF:BANDWIDTH=5000000\n1080p/stream.m3u8\n\
                    #EXT-X-STREAM-INF:BANDWIDTH=2500000\n720p/stream.m3u8\n";
        let playlist = hls::parse_playlist(text.as_bytes(), &url).unwrap();
        (url, playlist)
    }

    #[test]
    fn variant_choice_maps_to_ffmpeg_input() {
        let (url, playlist) = master();
        let pick = |v| choose_input(&url, &playlist, v);
        assert_eq!(pick(VariantArg::Highest).url.as_str(), "http://o/1080p/stream.m3u8");
        assert_eq!(pick(VariantArg::Lowest).url.as_str(), "http://o/360p/stream.m3u8");
        assert_eq!(pick(VariantArg::First).url.as_str(), "http://o/360p/stream.m3u8");
        let all = pick(VariantArg::All);
        assert_eq!((all.url.as_str(), all.map_all, all.streams), ("http://o/master.m3u8", true, 3));
        assert_eq!(pick(VariantArg::First).variants.len(), 3, "records keep the multivariant's indices");
    }

    #[test]
    fn a_media_playlist_is_opened_as_is() {
        let url = Url::parse("http://o/720p/stream.m3u8").unwrap();
        let playlist = hls::parse_playlist(b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\ns.ts\n", &url).unwrap();
        let input = choose_input(&url, &playlist, VariantArg::Highest);
        assert_eq!(input, Input { url, map_all: false, variants: Vec::new(), streams: 1 });
    }
}
