//! Which alternate renditions (`EXT-X-MEDIA`, RFC 8216 4.3.4.1) a viewer plays beside its variants,
//! as a player picks them: for each chosen variant's `AUDIO` group the `DEFAULT=YES` rendition, else
//! the first `AUTOSELECT=YES`, else the first (hls.js's audio track choice); a language asked for wins
//! over that. A rendition without a URI is in the variant's own stream (muxed): nothing to fetch.
//! `SUBTITLES` are chosen alike, only when asked for (players load them when a track is shown).

use std::str::FromStr;

use super::model::{MultivariantPlaylist, Rendition, RenditionType};

/// The audio renditions a viewer plays (`--audio`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AudioPolicy {
    /// None: the variants only (audio in a separate rendition is then not loaded).
    None,
    /// The one a player picks per group.
    #[default]
    Default,
    /// Every rendition of each group: the load of a page that preloads every language.
    All,
}

impl FromStr for AudioPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "default" => Ok(Self::Default),
            "all" => Ok(Self::All),
            _ => Err(format!("'{text}' is not an audio choice; use none, default or all")),
        }
    }
}

/// What a viewer plays of a multivariant playlist's renditions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RenditionPolicy {
    pub audio: AudioPolicy,
    /// Preferred `LANGUAGE` (RFC 5646, matched case-blind, `en` also matching `en-US`).
    pub language: Option<String>,
    /// Play the subtitle rendition too.
    pub subtitles: bool,
}

/// One rendition to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChosenRendition {
    /// Index into `playlist.renditions`.
    pub index: usize,
    /// The audio a player plays with the first chosen variant: the buffer model waits for it as for
    /// the video (a stall is either running empty). Others only download.
    pub follows_playback: bool,
}

/// The renditions to play with `variants` (indices into `playlist.variants`, the first the one
/// playback follows), each once however many variants name its group, in the variants' order.
pub fn choose_renditions(
    playlist: &MultivariantPlaylist,
    variants: &[usize],
    policy: &RenditionPolicy,
) -> Vec<ChosenRendition> {
    let mut chosen: Vec<ChosenRendition> = Vec::new();
    let mut push = |index: usize, follows_playback: bool| {
        let rendition = &playlist.renditions[index];
        let Some(uri) = &rendition.uri else { return };
        // A rendition that is a chosen variant's own playlist is played already.
        let played = variants.iter().any(|&v| playlist.variants.get(v).is_some_and(|v| &v.uri == uri));
        if !played && !chosen.iter().any(|c| c.index == index) {
            chosen.push(ChosenRendition { index, follows_playback });
        }
    };
    for (position, &v) in variants.iter().enumerate() {
        let Some(variant) = playlist.variants.get(v) else { continue };
        if let Some(group) = &variant.audio {
            let members = members(playlist, RenditionType::Audio, group);
            let pick = pick(playlist, &members, policy.language.as_deref());
            match policy.audio {
                AudioPolicy::None => {}
                AudioPolicy::Default => pick.into_iter().for_each(|i| push(i, position == 0)),
                AudioPolicy::All => members.iter().for_each(|&i| push(i, position == 0 && Some(i) == pick)),
            }
        }
        if let Some(group) = variant.subtitles.as_ref().filter(|_| policy.subtitles) {
            let members = members(playlist, RenditionType::Subtitles, group);
            pick(playlist, &members, policy.language.as_deref()).into_iter().for_each(|i| push(i, false));
        }
    }
    chosen
}

/// The renditions of `kind` in `group`, in playlist order.
fn members(playlist: &MultivariantPlaylist, kind: RenditionType, group: &str) -> Vec<usize> {
    let of = |r: &Rendition| r.kind == kind && r.group_id == group;
    playlist.renditions.iter().enumerate().filter(|(_, r)| of(r)).map(|(i, _)| i).collect()
}

/// The one a player picks among `members`: in `language` when one has it (the default among those
/// first), else the `DEFAULT=YES`, else the first `AUTOSELECT=YES`, else the first.
fn pick(playlist: &MultivariantPlaylist, members: &[usize], language: Option<&str>) -> Option<usize> {
    let r = |i: &usize| &playlist.renditions[*i];
    let first = |keep: &dyn Fn(&Rendition) -> bool| members.iter().copied().find(|i| keep(r(i)));
    if let Some(wanted) = language {
        let speaks = |x: &Rendition| x.language.as_deref().is_some_and(|l| language_matches(l, wanted));
        if let Some(i) = first(&|x| speaks(x) && x.default).or_else(|| first(&speaks)) {
            return Some(i);
        }
    }
    first(&|x| x.default).or_else(|| first(&|x| x.autoselect)).or_else(|| members.first().copied())
}

/// `en` matches `en`, `EN` and `en-US`; `en-US` matches only `en-US`.
fn language_matches(tag: &str, wanted: &str) -> bool {
    let (tag, wanted) = (tag.to_ascii_lowercase(), wanted.to_ascii_lowercase());
    tag == wanted || tag.strip_prefix(&wanted).is_some_and(|rest| rest.starts_with('-'))
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;
    use crate::hls::{Playlist, parse_playlist};

    fn master(body: &str) -> MultivariantPlaylist {
        let base = Url::parse("http://o.test/m.m3u8").unwrap();
        match parse_playlist(format!("#EXTM3U\n{body}").as_bytes(), &base) {
            Ok(Playlist::Multivariant(m)) => m,
            other => panic!("not a multivariant playlist: {other:?}"),
        }
    }

    fn uris(m: &MultivariantPlaylist, variants: &[usize], policy: &RenditionPolicy) -> Vec<(String, bool)> {
        choose_renditions(m, variants, policy)
            .into_iter()
            .map(|c| (m.renditions[c.index].uri.as_ref().unwrap().path().to_owned(), c.follows_playback))
            .collect()
    }

    const GROUPS: &str = "\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"lo\",NAME=\"English\",LANGUAGE=\"en\",AUTOSELECT=YES,URI=\"lo/en.m3u8\"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"lo\",NAME=\"Deutsch\",LANGUAGE=\"de\",DEFAULT=YES,AUTOSELECT=YES,URI=\"lo/de.m3u8\"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"hi\",NAME=\"English\",LANGUAGE=\"en-US\",AUTOSELECT=YES,URI=\"hi/en.m3u8\"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"hi\",NAME=\"Francais\",LANGUAGE=\"fr\",AUTOSELECT=YES,URI=\"hi/fr.m3u8\"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"English\",LANGUAGE=\"en\",URI=\"subs/en.m3u8\"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"Deutsch\",LANGUAGE=\"de\",DEFAULT=YES,URI=\"subs/de.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO=\"lo\",SUBTITLES=\"subs\"
lo.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=5000000,AUDIO=\"hi\",SUBTITLES=\"subs\"
hi.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2500000,AUDIO=\"lo\"
mid.m3u8
";

    fn policy(audio: AudioPolicy, language: Option<&str>, subtitles: bool) -> RenditionPolicy {
        RenditionPolicy { audio, language: language.map(str::to_owned), subtitles }
    }

    #[test]
    fn the_default_then_autoselect_then_the_first_of_the_variants_group() {
        let m = master(GROUPS);
        let default = policy(AudioPolicy::Default, None, false);
        assert_eq!(uris(&m, &[0], &default), [("/lo/de.m3u8".to_owned(), true)], "DEFAULT=YES wins");
        assert_eq!(uris(&m, &[1], &default), [("/hi/en.m3u8".to_owned(), true)], "then the first AUTOSELECT");
        let plain = master(
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x\",URI=\"x.m3u8\"\n\
             #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"y\",URI=\"y.m3u8\"\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\nv.m3u8\n",
        );
        assert_eq!(uris(&plain, &[0], &default), [("/x.m3u8".to_owned(), true)], "then the first");
        assert!(uris(&m, &[0], &policy(AudioPolicy::None, None, false)).is_empty());
    }

    #[test]
    fn a_language_asked_for_wins_and_en_matches_en_us() {
        let m = master(GROUPS);
        let en = policy(AudioPolicy::Default, Some("EN"), false);
        assert_eq!(uris(&m, &[0], &en), [("/lo/en.m3u8".to_owned(), true)]);
        assert_eq!(uris(&m, &[1], &en), [("/hi/en.m3u8".to_owned(), true)], "en matches en-US");
        let none_speak = policy(AudioPolicy::Default, Some("ja"), false);
        assert_eq!(uris(&m, &[0], &none_speak), [("/lo/de.m3u8".to_owned(), true)], "no match: the default");
        assert!(!language_matches("eng", "en"), "a prefix that is not a subtag does not match");
    }

    #[test]
    fn each_group_once_across_variants_and_only_the_first_variants_pick_follows_playback() {
        let m = master(GROUPS);
        let all_variants = [0, 1, 2];
        let default = policy(AudioPolicy::Default, None, false);
        assert_eq!(
            uris(&m, &all_variants, &default),
            [("/lo/de.m3u8".to_owned(), true), ("/hi/en.m3u8".to_owned(), false)],
            "variant 2 shares group lo with variant 0"
        );
        let every = policy(AudioPolicy::All, None, false);
        assert_eq!(
            uris(&m, &[0], &every),
            [("/lo/en.m3u8".to_owned(), false), ("/lo/de.m3u8".to_owned(), true)],
            "all: every rendition of the group, playback follows the one a player picks"
        );
    }

    #[test]
    fn subtitles_only_when_asked_for_and_muxed_audio_is_not_fetched() {
        let m = master(GROUPS);
        let with_subs = policy(AudioPolicy::Default, None, true);
        assert_eq!(uris(&m, &[0], &with_subs), [("/lo/de.m3u8".to_owned(), true), ("/subs/de.m3u8".to_owned(), false)]);
        let muxed = master(
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"main\",DEFAULT=YES\n\
             #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"commentary\",URI=\"c.m3u8\"\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\nv.m3u8\n",
        );
        assert!(uris(&muxed, &[0], &policy(AudioPolicy::Default, None, false)).is_empty(), "the default is muxed");
        let undefined = master("#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"nowhere\"\nv.m3u8\n");
        assert!(uris(&undefined, &[0], &policy(AudioPolicy::All, None, true)).is_empty());
    }

    #[test]
    fn a_rendition_that_is_the_variants_own_playlist_is_not_played_twice() {
        let m = master(
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"main\",DEFAULT=YES,URI=\"v.m3u8\"\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\nv.m3u8\n",
        );
        assert!(uris(&m, &[0], &policy(AudioPolicy::Default, None, false)).is_empty());
    }

    #[test]
    fn audio_choices_parse_from_their_names() {
        assert_eq!(" All ".parse(), Ok(AudioPolicy::All));
        assert_eq!("none".parse(), Ok(AudioPolicy::None));
        assert_eq!(
            "loud".parse::<AudioPolicy>().unwrap_err(),
            "'loud' is not an audio choice; use none, default or all"
        );
    }
}
