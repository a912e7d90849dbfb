//! `EXT-X-DEFINE` (rfc8216bis 4.4.2.3) and `EXT-X-GAP`, on fixtures of our own.

use url::Url;

use super::base;
use crate::hls::{ParseError, Playlist, Variables, parse_playlist, parse_playlist_with};

fn media(body: &str, url: &Url, parent: Option<&Variables>) -> Result<crate::hls::MediaPlaylist, ParseError> {
    match parse_playlist_with(body.as_bytes(), url, parent)? {
        Playlist::Media(m) => Ok(m),
        Playlist::Multivariant(_) => panic!("a media playlist"),
    }
}

const HEAD: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n";

#[test]
fn names_are_substituted_in_uris_and_attribute_values() {
    let body = format!(
        "{HEAD}#EXT-X-DEFINE:NAME=\"host\",VALUE=\"http://cdn.test\"\n#EXT-X-DEFINE:NAME=\"k\",VALUE=\"k1\"\n\
         #EXT-X-KEY:METHOD=AES-128,URI=\"{{$host}}/keys/{{$k}}.key\"\n#EXTINF:2,\n{{$host}}/a.ts\n"
    );
    let m = media(&body, &base(), None).unwrap();
    assert_eq!(m.segments[0].uri.as_str(), "http://cdn.test/a.ts");
    assert_eq!(m.segments[0].key.as_ref().unwrap().uri.as_str(), "http://cdn.test/keys/k1.key");
}

#[test]
fn import_takes_the_multivariant_playlists_variable_and_queryparam_the_urls() {
    let master =
        "#EXTM3U\n#EXT-X-DEFINE:NAME=\"token\",VALUE=\"abc\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8?t={$token}\n";
    let Ok(Playlist::Multivariant(m)) = parse_playlist(master.as_bytes(), &base()) else { panic!("parses") };
    assert_eq!(m.variants[0].uri.query(), Some("t=abc"));
    assert_eq!(m.variables.get("token"), Some("abc"));
    let body = format!("{HEAD}#EXT-X-DEFINE:IMPORT=\"token\"\n#EXTINF:2,\na.ts?t={{$token}}\n");
    assert_eq!(media(&body, &base(), Some(&m.variables)).unwrap().segments[0].uri.query(), Some("t=abc"));
    let url = Url::parse("http://o.test/live/p.m3u8?session=s42").unwrap();
    let body = format!("{HEAD}#EXT-X-DEFINE:QUERYPARAM=\"session\"\n#EXTINF:2,\nseg.ts?session={{$session}}\n");
    assert_eq!(media(&body, &url, None).unwrap().segments[0].uri.as_str(), "http://o.test/live/seg.ts?session=s42");
}

#[test]
fn an_undefined_or_bad_variable_fails_the_parse_naming_it() {
    let reason = |r: Result<_, ParseError>| match r {
        Err(ParseError::InvalidVariable { line, name, reason }) => (line, name, reason),
        other => panic!("not a variable error: {other:?}"),
    };
    let undefined = format!("{HEAD}#EXTINF:2,\na{{$nope}}.ts\n");
    let (line, name, _) = reason(media(&undefined, &base(), None));
    assert_eq!((line, name.as_str()), (4, "nope"));
    // IMPORT without a multivariant playlist that defines it.
    let import = format!("{HEAD}#EXT-X-DEFINE:IMPORT=\"v\"\n#EXTINF:2,\na{{$v}}.ts\n");
    assert_eq!(reason(media(&import, &base(), None)).1, "v");
    assert_eq!(reason(media(&import, &base(), Some(&Variables::default()))).1, "v");
    let twice = format!("{HEAD}#EXT-X-DEFINE:NAME=\"a\",VALUE=\"1\"\n#EXT-X-DEFINE:NAME=\"a\",VALUE=\"2\"\n");
    assert_eq!(reason(media(&twice, &base(), None)).2, "is defined twice");
    let huge = format!("{HEAD}#EXT-X-DEFINE:NAME=\"big\",VALUE=\"{}\"\n", "x".repeat(1 << 20));
    assert!(reason(media(&huge, &base(), None)).2.contains("16 KiB"));
    let bad_name = format!("{HEAD}#EXT-X-DEFINE:NAME=\"a b\",VALUE=\"1\"\n");
    assert_eq!(reason(media(&bad_name, &base(), None)).1, "a b");
    let missing_query = format!("{HEAD}#EXT-X-DEFINE:QUERYPARAM=\"s\"\n");
    assert_eq!(reason(media(&missing_query, &base(), None)).1, "s");
}

#[test]
fn a_value_that_refers_to_a_variable_is_not_expanded_again() {
    // No definition can loop: values are used as written.
    let body = format!(
        "{HEAD}#EXT-X-DEFINE:NAME=\"a\",VALUE=\"{{$a}}\"\n#EXT-X-DEFINE:NAME=\"b\",VALUE=\"{{$b}}{{$b}}\"\n\
         #EXTINF:2,\n{{$a}}x{{$b}}.ts\n"
    );
    let m = media(&body, &base(), None).unwrap();
    assert!(m.segments[0].uri.as_str().ends_with("/%7B$a%7Dx%7B$b%7D%7B$b%7D.ts"), "{}", m.segments[0].uri);
}

#[test]
fn many_references_to_a_long_value_cannot_build_a_huge_line() {
    let value = "y".repeat(16 * 1024);
    let body = format!("{HEAD}#EXT-X-DEFINE:NAME=\"v\",VALUE=\"{value}\"\n#EXTINF:2,\n{}\n", "{$v}".repeat(100));
    assert!(matches!(media(&body, &base(), None), Err(ParseError::InvalidVariable { line: 5, .. })));
}

#[test]
fn a_gap_segment_is_listed_and_marked() {
    let body = format!("{HEAD}#EXTINF:2,\na.ts\n#EXT-X-GAP\n#EXTINF:2,\nb.ts\n#EXTINF:2,\nc.ts\n");
    let m = media(&body, &base(), None).unwrap();
    let gaps: Vec<bool> = m.segments.iter().map(|s| s.gap).collect();
    assert_eq!(gaps, [false, true, false]);
}

#[test]
fn a_playlist_without_variables_is_read_as_before() {
    let body = format!("{HEAD}#EXTINF:2,\n{{odd}}$name.ts\n");
    assert!(media(&body, &base(), None).is_ok());
}
