//! `hls-swarm run --engine ffmpeg`: checks FFmpeg and the open-file limit, picks the playlist FFmpeg
//! opens, and prints the command (`--print-cmd`) or configures the FFmpeg swarm, which then runs under
//! the same dashboard, exporter and report as the native engine.

use std::sync::Arc;

use url::Url;

use crate::error::Error;
use crate::ffmpeg::preflight::{ensure_fd_limit, fds_needed, ffmpeg_version};
use crate::ffmpeg::{FfmpegOptions, FfmpegSwarmConfig, ProxyConfig, TERM_GRACE, ffmpeg_command};
use crate::hls::{self, Playlist, VariantPolicy};
use crate::settings::{FfmpegSettings, RunSettings};
use crate::stats::Recorder;

/// What FFmpeg is given to open, and what the proxy needs to know about the variants.
#[derive(Debug, PartialEq)]
pub(super) struct Input {
    pub url: Url,
    pub map_all: bool,
    /// Media playlist URLs by their index in the run's ladder (`Rung::ladder_of`): the multivariant
    /// playlist's variants, then its renditions (`None` for one without a URI); empty for a media
    /// playlist URL.
    pub variants: Vec<Option<Url>>,
    /// Streams each FFmpeg reads (for the open-file estimate).
    pub streams: u32,
}

/// `highest`/`lowest`/`first`: the chosen variant's media playlist (we choose, by BANDWIDTH as the
/// native engine does); `all`: the multivariant playlist with `-map 0`, so FFmpeg reads every variant.
pub(super) fn choose_input(url: &Url, playlist: &Playlist, variant: VariantPolicy) -> Input {
    match playlist {
        Playlist::Media(_) => Input { url: url.clone(), map_all: false, variants: Vec::new(), streams: 1 },
        Playlist::Multivariant(m) => {
            let playlists = m.variants.iter().map(|v| Some(v.uri.clone()));
            let variants: Vec<Option<Url>> = playlists.chain(m.renditions.iter().map(|r| r.uri.clone())).collect();
            if variant == VariantPolicy::All {
                let streams = u32::try_from(variants.iter().flatten().count()).unwrap_or(u32::MAX);
                return Input { url: url.clone(), map_all: true, variants, streams };
            }
            let chosen = hls::choose_variants(m, variant).first().copied().unwrap_or(0);
            Input { url: m.variants[chosen].uri.clone(), map_all: false, variants, streams: 1 }
        }
    }
}

/// What `prepare` leaves to do.
pub(super) enum Prepared {
    Swarm(FfmpegSwarmConfig),
    /// `--print-cmd`: the command is printed, the run ends here.
    Printed,
}

/// The FFmpeg swarm's configuration after FFmpeg and the open-file limit were checked, or the command
/// printed for `--print-cmd`.
pub(super) fn prepare(
    settings: &RunSettings,
    ffmpeg: &FfmpegSettings,
    url: &Url,
    playlist: &Playlist,
    recorder: Recorder,
) -> Result<Prepared, Error> {
    let input = choose_input(url, playlist, settings.variant);
    let net = &settings.net;
    let options = Arc::new(FfmpegOptions {
        program: ffmpeg.program.clone(),
        input: input.url.clone(),
        map_all: input.map_all,
        // Checked as a header value by the settings, so it is text.
        user_agent: net.user_agent.to_str().unwrap_or_default().to_string(),
        headers: net.headers.clone(),
        no_cache: net.no_cache,
        timeout: net.timeout,
    });
    if ffmpeg.print_cmd {
        // The port a viewer's proxy would get now; each run picks free ports anew.
        let port = free_port().map_err(|e| Error::start(format!("cannot pick a proxy port: {e}")))?;
        println!("{}", ffmpeg_command(&options, port).shell_line());
        eprintln!("hls-swarm: viewer 0's command; the proxy port (http_proxy) is picked anew by each run");
        return Ok(Prepared::Printed);
    }
    checks(ffmpeg, settings.plan.shard.viewers(settings.plan.clients), input.streams).map_err(Error::start)?;
    let proxy = Arc::new(ProxyConfig {
        recorder,
        resolve: net.resolve,
        timeout: net.timeout,
        variants: input.variants.into(),
        clock: net.clock.clone(),
    });
    Ok(Prepared::Swarm(FfmpegSwarmConfig { plan: settings.plan.clone(), options, proxy, term_grace: TERM_GRACE }))
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// FFmpeg runs (its version goes to stderr) and the open-file limit holds the swarm.
fn checks(ffmpeg: &FfmpegSettings, clients: u32, streams: u32) -> Result<(), String> {
    let version = ffmpeg_version(&ffmpeg.program).map_err(|e| e.to_string())?;
    eprintln!("hls-swarm: {version} ({})", ffmpeg.program.display());
    let needed = fds_needed(clients, streams);
    let limit = ensure_fd_limit(clients, needed).map_err(|e| e.to_string())?;
    if limit.now > limit.was {
        eprintln!(
            "hls-swarm: raised the open-file limit from {} to {} for {clients} FFmpeg viewers",
            limit.was, limit.now
        );
    }
    Ok(())
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
        assert_eq!(pick(VariantPolicy::Highest).url.as_str(), "http://o/1080p/stream.m3u8");
        assert_eq!(pick(VariantPolicy::Lowest).url.as_str(), "http://o/360p/stream.m3u8");
        assert_eq!(pick(VariantPolicy::First).url.as_str(), "http://o/360p/stream.m3u8");
        let all = pick(VariantPolicy::All);
        assert_eq!((all.url.as_str(), all.map_all, all.streams), ("http://o/master.m3u8", true, 3));
        assert_eq!(pick(VariantPolicy::First).variants.len(), 3, "records keep the multivariant's indices");
    }

    #[test]
    fn a_media_playlist_is_opened_as_is() {
        let url = Url::parse("http://o/720p/stream.m3u8").unwrap();
        let playlist = hls::parse_playlist(b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\ns.ts\n", &url).unwrap();
        let input = choose_input(&url, &playlist, VariantPolicy::Highest);
        assert_eq!(input, Input { url, map_all: false, variants: Vec::new(), streams: 1 });
    }
}
