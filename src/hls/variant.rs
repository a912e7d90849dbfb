//! Which variant streams a viewer plays. Choosing by BANDWIDTH (RFC 8216 4.3.4.2: the peak bit
//! rate) matches how players rank renditions; adaptive switching is the viewer's business.

use std::cmp::Reverse;
use std::str::FromStr;

use super::model::MultivariantPlaylist;

/// A rule for picking variants out of a multivariant playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VariantPolicy {
    /// Every variant: one viewer loads them all (an origin-wide load pattern).
    All,
    /// The highest BANDWIDTH; the first listed wins a tie.
    Highest,
    /// The lowest BANDWIDTH; the first listed wins a tie.
    Lowest,
    /// The first listed: the one players commonly start with.
    #[default]
    First,
    /// Adaptive: the viewer starts on one and switches as its throughput estimate says (the viewer's
    /// `abr`); chosen here, the first listed stands for it.
    Abr,
}

impl FromStr for VariantPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "all" => Ok(Self::All),
            "highest" => Ok(Self::Highest),
            "lowest" => Ok(Self::Lowest),
            "first" => Ok(Self::First),
            "abr" => Ok(Self::Abr),
            _ => Err(format!("'{text}' is not a variant policy; use abr, all, highest, lowest or first")),
        }
    }
}

/// Indices into `playlist.variants`, in playlist order. Empty only for a playlist with no
/// variants, which the parser never returns.
pub fn choose_variants(playlist: &MultivariantPlaylist, policy: VariantPolicy) -> Vec<usize> {
    let variants = playlist.variants.iter().enumerate();
    // `min_by_key` keeps the first of equal elements; `max_by_key` would keep the last.
    let chosen = match policy {
        VariantPolicy::All => return (0..playlist.variants.len()).collect(),
        VariantPolicy::Highest => variants.min_by_key(|(_, v)| Reverse(v.bandwidth)),
        VariantPolicy::Lowest => variants.min_by_key(|(_, v)| v.bandwidth),
        VariantPolicy::First | VariantPolicy::Abr => variants.min_by_key(|(i, _)| *i),
    };
    chosen.map(|(i, _)| i).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;
    use crate::hls::model::Variant;

    fn ladder(bandwidths: &[u64]) -> MultivariantPlaylist {
        let uri = Url::parse("http://origin.example/v.m3u8").unwrap();
        let variants = bandwidths
            .iter()
            .enumerate()
            .map(|(index, &bandwidth)| Variant {
                index,
                uri: uri.clone(),
                bandwidth,
                average_bandwidth: None,
                resolution: None,
                codecs: None,
                audio: None,
                subtitles: None,
            })
            .collect();
        MultivariantPlaylist { variants, ..MultivariantPlaylist::default() }
    }

    #[test]
    fn each_policy_on_an_unsorted_ladder() {
        let playlist = ladder(&[2_500_000, 800_000, 5_000_000, 1_200_000]);
        assert_eq!(choose_variants(&playlist, VariantPolicy::All), [0, 1, 2, 3]);
        assert_eq!(choose_variants(&playlist, VariantPolicy::Highest), [2]);
        assert_eq!(choose_variants(&playlist, VariantPolicy::Lowest), [1]);
        assert_eq!(choose_variants(&playlist, VariantPolicy::First), [0]);
    }

    #[test]
    fn ties_go_to_the_first_listed() {
        let playlist = ladder(&[800_000, 5_000_000, 800_000, 5_000_000]);
        assert_eq!(choose_variants(&playlist, VariantPolicy::Highest), [1]);
        assert_eq!(choose_variants(&playlist, VariantPolicy::Lowest), [0]);
    }

    #[test]
    fn no_variants_choose_nothing() {
        let playlist = ladder(&[]);
        for policy in [VariantPolicy::All, VariantPolicy::Highest, VariantPolicy::Lowest, VariantPolicy::First] {
            assert!(choose_variants(&playlist, policy).is_empty());
        }
    }

    #[test]
    fn policies_parse_from_their_names() {
        assert_eq!("Highest".parse(), Ok(VariantPolicy::Highest));
        assert_eq!(" all ".parse(), Ok(VariantPolicy::All));
        assert_eq!("abr".parse(), Ok(VariantPolicy::Abr));
        let err = "best".parse::<VariantPolicy>().unwrap_err();
        assert_eq!(err, "'best' is not a variant policy; use abr, all, highest, lowest or first");
    }
}
