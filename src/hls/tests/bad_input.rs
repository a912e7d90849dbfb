use std::fmt::Write as _;

use super::{ORIGIN_LIVE, ORIGIN_MULTIVARIANT, base, error, parse};
use crate::hls::{ParseError, ParseWarning, Playlist, parse_playlist};

const HEAD: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n";

#[test]
fn binary_garbage_is_not_utf8() {
    // The start of an MPEG-TS packet: what a misrouted segment request returns.
    let ts = [0x47, 0x40, 0x00, 0x10, 0x00, 0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0xFF, 0xFF];
    assert_eq!(parse_playlist(&ts, &base()), Err(ParseError::NotUtf8 { offset: 6 }));
    let gzip = [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00];
    assert_eq!(parse_playlist(&gzip, &base()), Err(ParseError::NotUtf8 { offset: 1 }));
}

#[test]
fn text_that_is_not_a_playlist_lacks_the_header() {
    let html = "<!doctype html>\n<html><body>502 Bad Gateway</body></html>";
    assert_eq!(error(html), ParseError::MissingHeader { found: "<!doctype html>".into() });
    let late = format!("\n{ORIGIN_LIVE}");
    assert_eq!(error(&late), ParseError::MissingHeader { found: String::new() });
    assert_eq!(error(""), ParseError::Empty);
    assert_eq!(error("#EXTM3U\n#EXT-X-VERSION:3\n"), ParseError::NoContent);
}

#[test]
fn nul_bytes_after_a_valid_header_are_rejected() {
    let body = format!("{ORIGIN_LIVE}\0\0\0\0");
    assert_eq!(error(&body), ParseError::ControlCharacter { line: 14, code: 0 });
}

#[test]
fn a_segment_uri_needs_an_extinf() {
    let body = format!("{HEAD}#EXTINF:2.0,\na.ts\nb.ts\n");
    assert_eq!(error(&body), ParseError::UriWithoutExtinf { line: 5, uri: "b.ts".into() });
    let two_tags = format!("{HEAD}#EXTINF:2.0,\n#EXTINF:2.0,\na.ts\n");
    assert_eq!(error(&two_tags), ParseError::ExtinfWithoutUri { line: 3 });
    // A last #EXTINF without its URI is a segment not listed yet: ignored with a warning, as players
    // do (it was rejected before; hls.js plays such playlists).
    let truncated = format!("{HEAD}#EXTINF:2.0,\na.ts\n#EXTINF:2.0,\n");
    let Ok(Playlist::Media(media)) = parse_playlist(truncated.as_bytes(), &base()) else { panic!("parses") };
    assert_eq!(media.segments.len(), 1);
    assert_eq!(media.warnings, [crate::hls::ParseWarning::TrailingExtinf { line: 5 }]);
}

#[test]
fn target_duration_is_required_and_a_positive_integer() {
    assert_eq!(error("#EXTM3U\n#EXTINF:2.0,\na.ts\n"), ParseError::MissingTargetDuration);
    for bad in ["2.5", "abc", "-2", ""] {
        let body = format!("#EXTM3U\n#EXT-X-TARGETDURATION:{bad}\n#EXTINF:2,\na.ts\n");
        assert!(matches!(error(&body), ParseError::InvalidValue { line: 2, .. }), "{bad}");
    }
}

#[test]
fn a_zero_target_duration_is_one_second_with_a_warning() {
    // What FFmpeg 5.1 writes for `-hls_time 0.5` (it rounds 0.5 to even): refused before, played by
    // hls.js, which reads it as 1. Never zero, which would make a live viewer reload in a busy loop.
    let body = "#EXTM3U\n#EXT-X-TARGETDURATION:0\n#EXTINF:0.500000,\na.ts\n#EXT-X-ENDLIST\n";
    let Ok(Playlist::Media(media)) = parse_playlist(body.as_bytes(), &base()) else { panic!("parses") };
    assert_eq!(media.target_duration, std::time::Duration::from_secs(1));
    assert_eq!(media.warnings, [crate::hls::ParseWarning::ZeroTargetDuration { line: 2 }]);
}

#[test]
fn extinf_needs_a_number() {
    for bad in ["abc,", ",", "", "2.5.1,", "-1,", "1e3,", "NaN,"] {
        let body = format!("{HEAD}#EXTINF:{bad}\na.ts\n");
        assert!(matches!(error(&body), ParseError::InvalidValue { line: 3, .. }), "{bad}");
    }
    assert!(matches!(error(&format!("{HEAD}#EXTINF\na.ts\n")), ParseError::InvalidValue { .. }));
}

#[test]
fn other_read_tags_must_be_well_formed() {
    let cases = [
        "#EXT-X-MEDIA-SEQUENCE:x",
        "#EXT-X-MEDIA-SEQUENCE:18446744073709551616",
        "#EXT-X-PLAYLIST-TYPE:LIVE",
        "#EXT-X-PROGRAM-DATE-TIME:yesterday",
        "#EXT-X-BYTERANGE:ten",
        "#EXT-X-KEY:URI=\"k\"",
        "#EXT-X-KEY:METHOD=AES-128",
        "#EXT-X-MAP:URI=init.mp4",
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=maybe",
        "#EXT-X-VERSION:three",
    ];
    for tag in cases {
        let body = format!("{HEAD}{tag}\n#EXTINF:2,\na.ts\n");
        assert!(parse(&body).is_err(), "{tag}");
    }
}

#[test]
fn multivariant_needs_variants_with_bandwidth_and_uri() {
    let only_media = "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"en.m3u8\"\n";
    assert_eq!(error(only_media), ParseError::NoVariants);
    // Without BANDWIDTH (required, but seen): read as 0 with a warning, as hls.js plays it.
    let no_bandwidth = "#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=640x360\nlow.m3u8\n";
    match parse_playlist(no_bandwidth.as_bytes(), &base()).unwrap() {
        Playlist::Multivariant(m) => {
            assert_eq!(m.variants[0].bandwidth, 0);
            assert_eq!(m.warnings, [ParseWarning::MissingBandwidth { line: 2 }]);
        }
        Playlist::Media(_) => panic!("a multivariant playlist"),
    }
    let no_uri = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-STREAM-INF:BANDWIDTH=2\nb.m3u8\n";
    assert_eq!(error(no_uri), ParseError::StreamInfWithoutUri { line: 2 });
    let stray = format!("{ORIGIN_MULTIVARIANT}extra.m3u8\n");
    assert_eq!(error(&stray), ParseError::UriWithoutStreamInf { line: 8, uri: "extra.m3u8".into() });
}

#[test]
fn a_stray_uri_after_a_tag_that_takes_none_is_ignored_with_a_warning() {
    let body = "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"en.m3u8\"\nen.m3u8\n\
                #EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\nv.m3u8\n";
    let Ok(Playlist::Multivariant(m)) = parse_playlist(body.as_bytes(), &base()) else { panic!("parses") };
    assert_eq!(m.variants.len(), 1);
    assert_eq!(m.variants[0].uri.as_str(), "http://127.0.0.1:8080/live/720p/v.m3u8");
    assert_eq!(m.warnings, [crate::hls::ParseWarning::StrayUri { line: 3, uri: "en.m3u8".into() }]);
}

#[test]
fn mixing_playlist_kinds_is_rejected() {
    let body = format!("{ORIGIN_MULTIVARIANT}#EXT-X-TARGETDURATION:2\n");
    assert_eq!(error(&body), ParseError::MixedPlaylist { line: 8, tag: "#EXT-X-TARGETDURATION".into() });
    let body = format!("{ORIGIN_LIVE}#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n");
    assert_eq!(error(&body), ParseError::MixedPlaylist { line: 14, tag: "#EXT-X-STREAM-INF".into() });
}

#[test]
fn unresolvable_uris_are_errors_not_panics() {
    let body = format!("{HEAD}#EXTINF:2,\nhttp://[::1/seg.ts\n");
    assert!(matches!(error(&body), ParseError::InvalidUri { line: 4, .. }));
}

#[test]
fn sequence_numbers_must_fit_in_64_bits() {
    let body = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n#EXTINF:2,\na.ts\n";
    assert_eq!(error(body), ParseError::SequenceOverflow);
}

/// The messages users read in logs and reports.
#[test]
fn error_messages() {
    let long_line = format!("{}\n", "x".repeat(10_000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("binary", vec![0x47, 0x40, 0x11, 0xFF]),
        ("html", b"<html>".to_vec()),
        ("long first line", long_line.into_bytes()),
        ("no extinf", format!("{HEAD}a.ts\n").into_bytes()),
        ("bad extinf", format!("{HEAD}#EXTINF:abc,\na.ts\n").into_bytes()),
        ("no target duration", b"#EXTM3U\n#EXTINF:2,\na.ts\n".to_vec()),
        ("no variants", b"#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"n\"\n".to_vec()),
        ("bad attributes", b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1 RESOLUTION=2x2\nv.m3u8\n".to_vec()),
        ("bad resolution", b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=HD\nv.m3u8\n".to_vec()),
        ("bad uri", format!("{HEAD}#EXTINF:2,\nhttp://[::1/a.ts\n").into_bytes()),
    ];
    let mut out = String::new();
    for (name, body) in cases {
        let message = match parse_playlist(&body, &base()) {
            Err(err) => format!("[{}] {err}", err.kind()),
            Ok(playlist) => format!("parsed: {playlist:?}"),
        };
        let _ = writeln!(out, "{name}: {message}");
    }
    insta::assert_snapshot!(out);
}

/// Callers cap reads (8 MiB), but a larger body must still parse in linear time. This builds a
/// 50 MB playlist from every line kind: 8 MB of segments (resolved URLs), a million short unknown
/// tags, blank lines, and single lines of megabytes (an attribute list, a comment). A step that
/// rescans the rest of the body per line would turn this test from seconds into hours.
#[test]
fn a_fifty_megabyte_playlist_parses_in_linear_time() {
    let mut body = String::with_capacity(52_000_000);
    body.push_str("#EXTM3U\n#EXT-X-TARGETDURATION:2\n");
    let _ = writeln!(body, "#EXT-X-DATERANGE:{}", "ID=\"x\",".repeat(1_000_000));
    let _ = writeln!(body, "# {}", "comment ".repeat(1_000_000));
    let mut count = 0u64;
    while body.len() < 25_000_000 {
        let _ = write!(body, "#EXTINF:2.000,\nseg{count:08}.ts\n#EXT-X-CUE:{count}\n\n#X\n\r\n");
        count += 1;
    }
    while body.len() < 50_000_000 {
        body.push_str("#EXT-X-VENDOR-TAG:A=1\n\n");
    }
    let started = std::time::Instant::now();
    let Ok(Playlist::Media(playlist)) = parse(&body) else { panic!("50 MB playlist did not parse") };
    assert_eq!(playlist.segments.len() as u64, count);
    assert_eq!(playlist.segments.last().map(|s| s.sequence), Some(count - 1));
    eprintln!("parsed {} MB in {:?}", body.len() / 1_000_000, started.elapsed());

    // One 50 MB line of garbage after the header: rejected without quoting it whole.
    let garbage = format!("#EXTM3U\n{}", "#EXT-X-STREAM-INF:".repeat(2_800_000));
    let err = error(&garbage);
    assert!(err.to_string().len() < 300, "{err}");
}
