//! URI resolution. RFC 8216 4.1: relative URIs in a playlist are relative to the URI of the
//! playlist that contains them, resolved as in RFC 3986 section 5.
//!
//! The reference's own query string and fragment are kept (`seg.ts?token=x` stays tokenized). The
//! playlist's query string is *not* copied onto relative references: RFC 3986 5.2.2 drops it, and
//! so do browsers and common players. A CDN whose segment URLs need the playlist's token must write
//! it into the playlist. Redirects are not handled here: the caller passes the URL it finally
//! fetched the playlist from as `base`.

use url::Url;

/// Resolves `reference` (a URI line or a `URI=` attribute) against `base`.
pub fn resolve(base: &Url, reference: &str) -> Result<Url, url::ParseError> {
    base.join(reference)
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

    #[test]
    fn unresolvable_references_are_errors() {
        let data = Url::parse("data:text/plain,hello").unwrap();
        assert!(resolve(&data, "seg.ts").is_err());
        assert!(resolve(&base(), "http://[::1").is_err());
    }
}
