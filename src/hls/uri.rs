//! URI resolution. RFC 8216 4.1: relative URIs in a playlist are relative to the URI of the
//! playlist that contains them, resolved as in RFC 3986 section 5.
//!
//! The reference's own query string and fragment are kept (`seg.ts?token=x` stays tokenized). The
//! playlist's query string is *not* copied onto relative references: RFC 3986 5.2.2 drops it, and
//! so do browsers and common players. A CDN whose segment URLs need the playlist's token must write
//! it into the playlist. Redirects are not handled here: the caller passes the URL it finally
//! fetched the playlist from as `base`.

use std::cell::Cell;

use url::{Position, Url};

/// Resolves `reference` (a URI line or a `URI=` attribute) against `base`.
pub fn resolve(base: &Url, reference: &str) -> Result<Url, url::ParseError> {
    base.join(reference)
}

/// The base a playlist's references resolve against, and the URLs an earlier load of the same
/// playlist resolved (`known`). A reload lists mostly what the last load did (a live window moves
/// by a segment, a low-latency playlist by a part), so a reference whose URL is known is cloned
/// from it instead of parsed again (a low-latency reload's parse went from 15.8 to 13.6 us: README,
/// `cargo bench --bench playlist`). Only references for which resolving is plain
/// concatenation ([`is_plain`]: the base's directory, then the reference as written) are looked up;
/// any other goes through [`resolve`], so the result is the same either way (unit tests).
pub(crate) struct Base<'a> {
    url: &'a Url,
    /// The base up to the last `/` of its path (`http(s)` only): what a plain reference follows.
    dir: Option<&'a str>,
    known: Vec<&'a Url>,
    /// Where the last lookup found its URL: references come in the order they did before.
    next: Cell<usize>,
}

impl<'a> Base<'a> {
    pub(crate) fn new(url: &'a Url) -> Self {
        Self::reusing(url, Vec::new())
    }

    pub(crate) fn reusing(url: &'a Url, known: Vec<&'a Url>) -> Self {
        let dir = match url.scheme() {
            "http" | "https" if !known.is_empty() => {
                let path_start = url[..Position::BeforePath].len();
                url.path().rfind('/').map(|i| &url.as_str()[..path_start + i + 1])
            }
            _ => None,
        };
        Self { url, dir, known, next: Cell::new(0) }
    }

    /// [`resolve`], or the known URL it would give.
    pub(crate) fn resolve(&self, reference: &str) -> Result<Url, url::ParseError> {
        match self.known_as(reference) {
            Some(url) => Ok(url.clone()),
            None => resolve(self.url, reference),
        }
    }

    fn known_as(&self, reference: &str) -> Option<&'a Url> {
        let dir = self.dir?;
        if !is_plain(reference) {
            return None;
        }
        let matches = |url: &&Url| {
            let s = url.as_str();
            s.len() == dir.len() + reference.len() && s.ends_with(reference) && s.starts_with(dir)
        };
        let from = self.next.get().min(self.known.len());
        let i = (from..self.known.len()).chain(0..from).find(|&i| matches(&self.known[i]))?;
        self.next.set(i + 1);
        Some(self.known[i])
    }
}

/// A relative reference that resolves to the base's directory followed by the reference exactly as
/// written (RFC 3986 5.2 with the WHATWG URL parser's encoding): a path of unreserved characters,
/// sub-delimiters, `@` and `/`, with no dot segment and not starting with `/`; then perhaps a query of
/// the characters a query keeps as they are. No scheme (no `:` in the path), no `%` in the path (a
/// `%2e` is a dot), no fragment, nothing the parser would encode, trim or drop.
fn is_plain(reference: &str) -> bool {
    let (path, query) = reference.split_once('?').map_or((reference, None), |(p, q)| (p, Some(q)));
    let path_char = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&()*+,;=@/".contains(&b);
    let query_char = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&()*+,;=:@/?%".contains(&b);
    !path.is_empty()
        && !path.starts_with('/')
        && path.bytes().all(path_char)
        && path.split('/').all(|segment| segment != "." && segment != "..")
        && query.is_none_or(|q| q.bytes().all(query_char))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://cdn.example/live/720p/stream.m3u8?token=abc").unwrap()
    }

    fn resolved(reference: &str) -> String {
        resolve(&base(), reference).unwrap().to_string()
    }

    #[test]
    fn relative_paths() {
        assert_eq!(resolved("seg00042.ts"), "https://cdn.example/live/720p/seg00042.ts");
        assert_eq!(resolved("../480p/stream.m3u8"), "https://cdn.example/live/480p/stream.m3u8");
        assert_eq!(resolved("../../a/b.ts"), "https://cdn.example/a/b.ts");
        assert_eq!(resolved("/root.ts"), "https://cdn.example/root.ts");
        assert_eq!(resolved("//other.example/x.ts"), "https://other.example/x.ts");
    }

    #[test]
    fn absolute_uris_are_taken_as_they_are() {
        assert_eq!(resolved("http://origin.example:8080/s/1.ts"), "http://origin.example:8080/s/1.ts");
        assert_eq!(resolved("skd://key-id"), "skd://key-id");
    }

    #[test]
    fn the_reference_query_is_kept_and_the_playlist_query_is_not_inherited() {
        assert_eq!(resolved("seg1.ts?token=xyz&t=1"), "https://cdn.example/live/720p/seg1.ts?token=xyz&t=1");
        assert_eq!(resolved("seg1.ts"), "https://cdn.example/live/720p/seg1.ts");
        assert_eq!(resolved("?only=query"), "https://cdn.example/live/720p/stream.m3u8?only=query");
    }

    /// A reload's references found among the URLs of the last load are those [`resolve`] gives, and
    /// every other reference is resolved.
    #[test]
    fn a_known_url_is_reused_only_where_resolving_would_give_it() {
        let bases = [
            "http://127.0.0.1:8080/240p/stream.m3u8?_HLS_msn=12&_HLS_part=1",
            "https://cdn.example/live/720p/stream.m3u8",
            "http://cdn.example",
            "http://cdn.example/a/b/",
        ];
        let references = [
            "seg00042.ts",
            "part00012.3.m4s",
            "a/b/seg.ts",
            "seg.ts?token=x:y/z&t=%41",
            "../480p/stream.m3u8",
            "./seg.ts",
            "a/./b.ts",
            "a/../b.ts",
            ".",
            "..",
            "%2e%2e/x.ts",
            "/root.ts",
            "//other.example/x.ts",
            "http://origin.example/s/1.ts",
            "seg 1.ts",
            "seg\\1.ts",
            "seg.ts#frag",
            "seg.ts?q='a'",
            "?only=query",
            "a:b.ts",
            "é.ts",
            "seg.ts?x=<y>",
            "init.mp4",
            "a//b.ts",
            "(x)+,;=@!$&~.ts",
        ];
        for base in bases {
            let base = Url::parse(base).unwrap();
            // Everything each reference resolves to, from this base and from a few others: known.
            let mut known: Vec<Url> = references.iter().filter_map(|r| resolve(&base, r).ok()).collect();
            known.push(Url::parse("http://127.0.0.1:8080/240p/seg00042.ts").unwrap());
            known.push(Url::parse("http://cdn.example/a/b/a%2F/b.ts").unwrap());
            let reusing = Base::reusing(&base, known.iter().collect());
            for reference in references {
                assert_eq!(reusing.resolve(reference).ok(), resolve(&base, reference).ok(), "{base} + {reference}");
            }
            let fresh = Base::reusing(&base, Vec::new());
            assert_eq!(fresh.resolve("seg.ts").unwrap(), resolve(&base, "seg.ts").unwrap());
        }
        assert!(is_plain("seg00042.ts") && is_plain("a/b.ts") && is_plain("seg.ts?token=x"));
        for reference in ["", "/a.ts", "./a.ts", "a/../b", "a:b", "%2e/a", "a#f", "a b", "a.ts?q=<"] {
            assert!(!is_plain(reference), "{reference}");
        }
    }

    proptest::proptest! {
        /// What [`is_plain`] lets through resolves to the base's directory and the reference as written,
        /// whatever mix of characters it has.
        #[test]
        fn a_plain_reference_resolves_to_the_directory_and_itself(reference in "[a-z0-9./?%:@=&;+,~'\\\\#<> é_-]{1,12}") {
            for base in ["http://127.0.0.1:8080/240p/stream.m3u8?_HLS_msn=3", "https://cdn.example", "http://h/a/b/"] {
                let base = Url::parse(base).unwrap();
                let reusing = Base::reusing(&base, vec![&base]);
                if is_plain(&reference) {
                    let joined = resolve(&base, &reference).unwrap();
                    proptest::prop_assert_eq!(joined.as_str(), format!("{}{reference}", reusing.dir.unwrap()));
                }
            }
        }
    }

    #[test]
    fn unresolvable_references_are_errors() {
        let data = Url::parse("data:text/plain,hello").unwrap();
        assert!(resolve(&data, "seg.ts").is_err());
        assert!(resolve(&base(), "http://[::1").is_err());
    }
}
