//! What the consumers of a run (dashboard, Prometheus exporter, progress lines, and at the end the
//! reports) know of it besides the snapshots: its fixed facts, and the two `watch` channels they read.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use url::Url;

use crate::hls::{MultivariantPlaylist, RenditionType, Variant};
use crate::metrics::origin_view::OriginView;
use crate::stats::Snapshot;

/// Facts fixed for the whole run.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub target: String,
    pub engine: &'static str,
    pub clients_target: u32,
    /// `None`: until Ctrl-C.
    pub duration: Option<Duration>,
    pub ramp_rate: f64,
    /// The run's start: `started` for durations, `started_at` for the reports' wall clock.
    pub started: Instant,
    pub started_at: SystemTime,
    /// The variants of the multivariant playlist the run was given (empty for a media playlist URL):
    /// what the per-variant figures are labelled with.
    pub ladder: Vec<Rung>,
}

/// One variant of the ladder, or an alternate rendition played with it, as reports name it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rung {
    pub index: u16,
    /// Unique in the ladder (see [`Rung::ladder`]).
    pub label: String,
    /// `BANDWIDTH` of a variant; 0 for a rendition, which has none.
    pub bandwidth: u64,
    pub uri: String,
    /// For an alternate rendition (`EXT-X-MEDIA`): what it is.
    pub rendition: Option<RenditionName>,
}

/// An `EXT-X-MEDIA` rendition's type, group and name, as the report gives them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RenditionName {
    /// `audio` or `subtitles`.
    pub kind: &'static str,
    pub group: String,
    pub name: String,
    pub language: Option<String>,
}

impl Rung {
    /// The ladder of a multivariant playlist. Each variant's label, unique in it because a report's
    /// readers key on them: `720p` from the `RESOLUTION` height (`720p@2500k` when two variants share a
    /// height); without a resolution, the part of its URI that tells it apart (`low` of `low.m3u8`,
    /// `v5` of `v5/prog_index.m3u8`); else, or when taken, `v<index>`.
    ///
    /// Then the audio and subtitle renditions a viewer may play (those with a URI), indexed after the
    /// variants in playlist order (as viewers count them) and labelled `GROUP/NAME` (`aud/English`),
    /// `r<index>` when that is taken.
    pub fn ladder_of(master: &MultivariantPlaylist) -> Vec<Rung> {
        let mut rungs = Self::ladder(&master.variants);
        for (i, r) in master.renditions.iter().enumerate() {
            let kind = match r.kind {
                RenditionType::Audio => "audio",
                RenditionType::Subtitles => "subtitles",
                RenditionType::Video | RenditionType::ClosedCaptions => continue,
            };
            let (Some(uri), Ok(index)) = (&r.uri, u16::try_from(master.variants.len() + i)) else { continue };
            let mut label = format!("{}/{}", r.group_id, r.name);
            if rungs.iter().any(|o| o.label == label) {
                label = format!("r{index}");
            }
            let name =
                RenditionName { kind, group: r.group_id.clone(), name: r.name.clone(), language: r.language.clone() };
            rungs.push(Rung { index, label, bandwidth: 0, uri: uri.to_string(), rendition: Some(name) });
        }
        rungs
    }

    /// The variants' part of [`Rung::ladder_of`].
    pub fn ladder(variants: &[Variant]) -> Vec<Rung> {
        let height = |v: &Variant| v.resolution.map(|(_, h)| h);
        fn stem(v: &Variant) -> Option<&str> {
            uri_name(&v.uri, Part::Stem)
        }
        let label = |v: &Variant| match height(v) {
            Some(h) if variants.iter().filter(|o| height(o) == Some(h)).count() == 1 => Some(format!("{h}p")),
            Some(_) => Some(v.label()),
            None if variants.iter().filter(|o| stem(o) == stem(v)).count() == 1 => stem(v).map(str::to_owned),
            None => uri_name(&v.uri, Part::Folder).map(str::to_owned),
        };
        let mut rungs: Vec<Rung> = variants
            .iter()
            .map(|v| {
                let index = u16::try_from(v.index).unwrap_or(u16::MAX);
                Rung {
                    index,
                    label: label(v).unwrap_or_else(|| format!("v{index}")),
                    bandwidth: v.bandwidth,
                    uri: v.uri.to_string(),
                    rendition: None,
                }
            })
            .collect();
        for i in 0..rungs.len() {
            if rungs[..i].iter().any(|r| r.label == rungs[i].label) {
                rungs[i].label = format!("v{}", rungs[i].index);
            }
        }
        rungs
    }

    /// The label of variant `index` in `ladder`, `others` for the slot beyond the cap, `v<index>` else.
    pub fn label_of(ladder: &[Rung], index: u16) -> String {
        if usize::from(index) >= crate::stats::MAX_RENDITIONS {
            return "others".into();
        }
        ladder.iter().find(|r| r.index == index).map_or_else(|| format!("v{index}"), |r| r.label.clone())
    }
}

enum Part {
    /// `low` of `/live/low.m3u8`.
    Stem,
    /// `live` of `/live/low.m3u8`.
    Folder,
}

/// A name from the path of a media playlist URI; `None` when empty or absent (a `data:` URI).
fn uri_name(uri: &Url, part: Part) -> Option<&str> {
    let mut segments = uri.path_segments()?.rev();
    let file = segments.next()?;
    let name = match part {
        Part::Stem => file.rsplit_once('.').map_or(file, |(stem, _)| stem),
        Part::Folder => segments.next()?,
    };
    (!name.is_empty()).then_some(name)
}

impl RunInfo {
    /// Viewers that should have started by `elapsed` (ramp progress).
    pub fn ramp_expected(&self, elapsed: Duration) -> u32 {
        let n = (elapsed.as_secs_f64() * self.ramp_rate).floor() as u64 + 1;
        n.min(u64::from(self.clients_target)) as u32
    }
}

/// The read side of a live run; cheap to clone, one per consumer.
#[derive(Clone)]
pub struct LiveFeed {
    pub info: Arc<RunInfo>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub origin: watch::Receiver<Arc<OriginView>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hls::{Playlist, parse_playlist};

    fn labels(body: &str) -> Vec<String> {
        let base = Url::parse("http://o.test/live/master.m3u8").unwrap();
        let Ok(Playlist::Multivariant(m)) = parse_playlist(format!("#EXTM3U\n{body}").as_bytes(), &base) else {
            panic!("not a multivariant playlist: {body}");
        };
        Rung::ladder(&m.variants).into_iter().map(|r| r.label).collect()
    }

    #[test]
    fn labels_come_from_the_height_then_the_uri_then_the_index() {
        let heights = "#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n360p/stream.m3u8\n\
                       #EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720\nhd.m3u8\n";
        assert_eq!(labels(heights), ["360p", "720p"]);
        let shared = "#EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720\na.m3u8\n\
                      #EXT-X-STREAM-INF:BANDWIDTH=4000000,RESOLUTION=1280x720\nb.m3u8\n";
        assert_eq!(labels(shared), ["720p@2500k", "720p@4000k"], "a shared height adds the bandwidth");
        let stems = "#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow.m3u8?token=1\n\
                     #EXT-X-STREAM-INF:BANDWIDTH=2500000\nhttps://cdn.test/x/high.m3u8\n";
        assert_eq!(labels(stems), ["low", "high"], "the file name without extension or query");
        let folders = "#EXT-X-STREAM-INF:BANDWIDTH=800000\nv1/prog_index.m3u8\n\
                       #EXT-X-STREAM-INF:BANDWIDTH=2500000\nv2/prog_index.m3u8\n";
        assert_eq!(labels(folders), ["v1", "v2"], "the folder when the file names are alike");
        let none = "#EXT-X-STREAM-INF:BANDWIDTH=800000\n/index.m3u8\n\
                    #EXT-X-STREAM-INF:BANDWIDTH=2500000\nhttps://cdn.test/index.m3u8\n\
                    #EXT-X-STREAM-INF:BANDWIDTH=9000000\nhttps://cdn.test/\n";
        assert_eq!(labels(none), ["v0", "v1", "v2"], "nothing that tells them apart");
        let taken = "#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\na.m3u8\n\
                     #EXT-X-STREAM-INF:BANDWIDTH=900000\n360p.m3u8\n";
        assert_eq!(labels(taken), ["360p", "v1"], "a label already taken falls back to the index");
    }

    #[test]
    fn label_of_names_the_slot_beyond_the_cap_and_unknown_indices() {
        let ladder = [Rung { index: 0, label: "360p".into(), bandwidth: 1, uri: "u".into(), rendition: None }];
        assert_eq!(Rung::label_of(&ladder, 0), "360p");
        assert_eq!(Rung::label_of(&ladder, 3), "v3");
        assert_eq!(Rung::label_of(&ladder, crate::stats::MAX_RENDITIONS as u16), "others");
    }
}
