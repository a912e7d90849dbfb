//! Multivariant (master) playlists (RFC 8216 4.3.4): each `EXT-X-STREAM-INF` applies to the URI
//! line that follows it (4.3.4.2). I-frame streams, session data and keys are not played by a
//! viewer and are skipped. A URI line right after another tag (a stray line after `EXT-X-MEDIA`, as
//! some authoring tools write) is ignored with a warning, as players do.

use url::Url;

use super::error::{ParseError, ParseWarning, clip};
use super::lines::{Line, LineKind};
use super::model::{MultivariantPlaylist, Variant};
use super::tags::{self, StreamInf, resolve_at};
use super::uri::Base;

/// Builds a multivariant playlist from the lines after `#EXTM3U`.
pub(crate) fn parse<'a>(lines: impl Iterator<Item = Line<'a>>, base: &Url) -> Result<MultivariantPlaylist, ParseError> {
    let base = &Base::new(base);
    let mut out = MultivariantPlaylist::default();
    let mut pending: Option<(usize, StreamInf)> = None;
    // The line before was a tag other than EXT-X-STREAM-INF: a URI line now is stray, not a variant.
    let mut after_other_tag = false;
    for line in lines {
        let number = line.number;
        match line.kind {
            LineKind::Tag { name: "#EXT-X-STREAM-INF", value } => {
                if let Some((previous, _)) = pending {
                    return Err(ParseError::StreamInfWithoutUri { line: previous });
                }
                let inf = tags::stream_inf(number, value)?;
                if inf.bandwidth.is_none() {
                    // Invalid, but seen; hls.js plays it. An adaptive viewer ranks it by its position.
                    out.warnings.push(ParseWarning::MissingBandwidth { line: number });
                }
                pending = Some((number, inf));
                after_other_tag = false;
            }
            LineKind::Tag { name, value } => {
                tag(&mut out, number, name, value, base)?;
                after_other_tag = true;
            }
            LineKind::Uri(uri) => {
                let Some((_, inf)) = pending.take() else {
                    if !after_other_tag {
                        return Err(ParseError::UriWithoutStreamInf { line: number, uri: clip(uri) });
                    }
                    // hls.js and AVPlayer skip it; a strict reading would reject the whole ladder.
                    out.warnings.push(ParseWarning::StrayUri { line: number, uri: clip(uri) });
                    after_other_tag = false;
                    continue;
                };
                let uri = resolve_at(base, number, uri)?;
                out.variants.push(variant(out.variants.len(), uri, inf));
            }
        }
    }
    if let Some((line, _)) = pending {
        return Err(ParseError::StreamInfWithoutUri { line });
    }
    if out.variants.is_empty() {
        return Err(ParseError::NoVariants);
    }
    Ok(out)
}

fn tag(
    out: &mut MultivariantPlaylist,
    line: usize,
    name: &str,
    value: Option<&str>,
    base: &Base<'_>,
) -> Result<(), ParseError> {
    match name {
        "#EXT-X-MEDIA" => out.renditions.push(tags::rendition(line, value, base)?),
        "#EXT-X-VERSION" => out.version = Some(tags::version(line, name, value)?),
        "#EXT-X-INDEPENDENT-SEGMENTS" => out.independent_segments = true,
        // 4.3.4: media playlist and media segment tags make the playlist invalid.
        _ if tags::MEDIA_TAGS.contains(&name) => {
            return Err(ParseError::MixedPlaylist { line, tag: name.to_owned() });
        }
        _ => {}
    }
    Ok(())
}

fn variant(index: usize, uri: Url, inf: StreamInf) -> Variant {
    Variant {
        index,
        uri,
        bandwidth: inf.bandwidth.unwrap_or(0),
        average_bandwidth: inf.average_bandwidth,
        resolution: inf.resolution,
        codecs: inf.codecs,
        audio: inf.audio,
        subtitles: inf.subtitles,
    }
}
