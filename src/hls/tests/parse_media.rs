use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{ORIGIN_LIVE, base, error, media};
use crate::hls::{ByteRange, KeyMethod, ParseError, PlaylistType, ServerControl};

fn pdt(unix_secs: u64) -> Option<SystemTime> {
    Some(UNIX_EPOCH + Duration::from_secs(unix_secs))
}

#[test]
fn origin_live_playlist() {
    let playlist = media(ORIGIN_LIVE);
    assert_eq!(playlist.version, Some(3));
    assert_eq!(playlist.target_duration, Duration::from_secs(2));
    assert_eq!(playlist.media_sequence, 42);
    assert_eq!(playlist.discontinuity_sequence, 0);
    assert!(!playlist.ended && playlist.is_live());
    assert_eq!(playlist.playlist_type, None);
    assert_eq!(playlist.end_sequence(), 45);
    assert_eq!(playlist.duration(), Duration::from_secs(6));
    let seqs: Vec<u64> = playlist.segments.iter().map(|s| s.sequence).collect();
    assert_eq!(seqs, [42, 43, 44]);
    let first = &playlist.segments[0];
    assert_eq!(first.uri.as_str(), "http://127.0.0.1:8080/live/720p/seg00042.ts");
    assert_eq!(first.duration, Duration::from_secs(2));
    assert_eq!(first.program_date_time, pdt(1_795_726_800));
    assert_eq!(playlist.segments[2].program_date_time, pdt(1_795_726_804));
    assert!(playlist.segments.iter().all(|s| !s.discontinuity && s.key.is_none() && s.map.is_none()));
}

#[test]
fn origin_vod_playlist_with_subsecond_segments() {
    let playlist = media(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n\
         #EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-PROGRAM-DATE-TIME:2027-01-15T08:00:00.000Z\n#EXTINF:0.500,\n\
         seg00000.ts\n#EXT-X-PROGRAM-DATE-TIME:2027-01-15T08:00:00.500Z\n#EXTINF:0.500,\nseg00001.ts\n\
         #EXT-X-ENDLIST\n",
    );
    assert!(playlist.ended && !playlist.is_live());
    assert_eq!(playlist.playlist_type, Some(PlaylistType::Vod));
    assert_eq!(playlist.duration(), Duration::from_secs(1));
    let times: Vec<_> = playlist.segments.iter().map(|s| s.program_date_time.unwrap()).collect();
    assert_eq!(times[1].duration_since(times[0]).ok(), Some(Duration::from_millis(500)));
}

#[test]
fn crlf_and_a_bom_parse_like_plain_lf() {
    let crlf = ORIGIN_LIVE.replace('\n', "\r\n");
    assert_eq!(media(&crlf), media(ORIGIN_LIVE));
    let bom = format!("\u{FEFF}{crlf}");
    assert_eq!(media(&bom), media(ORIGIN_LIVE));
}

#[test]
fn uris_resolve_relative_absolute_parent_and_keep_queries() {
    let playlist = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n\
         #EXTINF:2,\nseg1.ts?token=abc&exp=9\n\
         #EXTINF:2,\n../480p/seg2.ts\n\
         #EXTINF:2,\n/abs/seg3.ts\n\
         #EXTINF:2,\nhttps://cdn.example/x/seg4.ts?sig=%2F1\n",
    );
    let uris: Vec<&str> = playlist.segments.iter().map(|s| s.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            "http://127.0.0.1:8080/live/720p/seg1.ts?token=abc&exp=9",
            "http://127.0.0.1:8080/live/480p/seg2.ts",
            "http://127.0.0.1:8080/abs/seg3.ts",
            "https://cdn.example/x/seg4.ts?sig=%2F1",
        ]
    );
}

#[test]
fn discontinuities_mark_the_next_segment() {
    let playlist = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n\
         #EXTINF:2.0,\na.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:1.5,\nb.ts\n#EXTINF:2.0,\nc.ts\n",
    );
    assert_eq!(playlist.discontinuity_sequence, 3);
    let flags: Vec<bool> = playlist.segments.iter().map(|s| s.discontinuity).collect();
    assert_eq!(flags, [false, true, false]);
    assert_eq!(playlist.segments[1].duration, Duration::from_millis(1500));
    assert_eq!(playlist.segments[2].sequence, 9);
}

#[test]
fn byte_ranges_continue_from_the_previous_segment() {
    let playlist = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-VERSION:4\n\
         #EXTINF:2,\n#EXT-X-BYTERANGE:1000@0\nall.ts\n\
         #EXTINF:2,\n#EXT-X-BYTERANGE:500\nall.ts\n\
         #EXTINF:2,\n#EXT-X-BYTERANGE:10@9000\nall.ts\n",
    );
    let ranges: Vec<_> = playlist.segments.iter().map(|s| s.byte_range.unwrap()).collect();
    assert_eq!(
        ranges,
        [
            ByteRange { length: 1000, offset: 0 },
            ByteRange { length: 500, offset: 1000 },
            ByteRange { length: 10, offset: 9000 }
        ]
    );
    let err = error("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:500\nall.ts\n");
    assert!(matches!(err, ParseError::InvalidValue { line: 4, .. }), "{err}");
}

#[test]
fn key_and_map_apply_until_replaced() {
    let playlist = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-VERSION:6\n\
         #EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720@0\"\n\
         #EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example/k1?id=1\",IV=0x0123456789ABCDEF0123456789ABCDEF\n\
         #EXTINF:4.0,\ns1.m4s\n#EXTINF:4.0,\ns2.m4s\n\
         #EXT-X-KEY:METHOD=NONE\n#EXT-X-MAP:URI=\"init2.mp4\"\n#EXTINF:4.0,\ns3.m4s\n",
    );
    let [s1, s2, s3] = &playlist.segments[..] else { panic!("three segments") };
    let key = s1.key.as_ref().unwrap();
    assert_eq!(key.method, KeyMethod::Aes128);
    assert_eq!(key.uri.as_str(), "https://keys.example/k1?id=1");
    assert_eq!(key.iv.as_deref(), Some("0x0123456789ABCDEF0123456789ABCDEF"));
    assert_eq!(s2.key, s1.key);
    assert_eq!(s3.key, None);
    let map = s1.map.as_ref().unwrap();
    assert_eq!(map.uri.as_str(), "http://127.0.0.1:8080/live/720p/init.mp4");
    assert_eq!(map.byte_range, Some(ByteRange { length: 720, offset: 0 }));
    assert_eq!(s2.map, s1.map);
    assert_eq!(s3.map.as_ref().unwrap().uri.path(), "/live/720p/init2.mp4");
}

#[test]
fn low_latency_tags_are_read_and_parts_ignored() {
    let playlist = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-VERSION:9\n\
         #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0,CAN-SKIP-UNTIL=24.0\n\
         #EXT-X-PART-INF:PART-TARGET=0.33334\n#EXT-X-MEDIA-SEQUENCE:266\n\
         #EXTINF:4.00008,\nfileSequence266.mp4\n\
         #EXT-X-PART:DURATION=0.33334,URI=\"filePart267.0.mp4\",INDEPENDENT=YES\n\
         #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"filePart267.1.mp4\"\n\
         #EXT-X-RENDITION-REPORT:URI=\"../1M/waitForMSN.php\",LAST-MSN=273,LAST-PART=2\n",
    );
    assert_eq!(playlist.part_target, Some(Duration::from_nanos(333_340_000)));
    let control = ServerControl {
        can_block_reload: true,
        can_skip_until: Some(Duration::from_secs(24)),
        hold_back: None,
        part_hold_back: Some(Duration::from_secs(1)),
        can_skip_dateranges: false,
    };
    assert_eq!(playlist.server_control, Some(control));
    assert_eq!(playlist.segments.len(), 1);
    assert_eq!(playlist.segments[0].duration, Duration::from_nanos(4_000_080_000));
}

#[test]
fn comments_unknown_tags_titles_and_missing_commas_are_tolerated() {
    let playlist = media(
        "#EXTM3U\n# written by hand\n#EXT-X-TARGETDURATION:10\n#EXT-X-CUE-OUT:DURATION=30\n\
         #EXT-X-DATERANGE:ID=\"ad\",START-DATE=\"2026-11-26T21:00:00Z\"\n\
         #EXTINF:9.009,Title, with a comma\nfirst.ts\n#EXTINF:9\nsecond.ts\n  \n#EXT-X-ENDLIST\n",
    );
    let durations: Vec<Duration> = playlist.segments.iter().map(|s| s.duration).collect();
    assert_eq!(durations, [Duration::from_millis(9009), Duration::from_secs(9)]);
    assert!(playlist.ended);
}

#[test]
fn an_empty_live_window_is_a_valid_playlist() {
    let playlist = media("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:100\n");
    assert!(playlist.segments.is_empty());
    assert_eq!(playlist.end_sequence(), 100);
    assert_eq!(base().path(), "/live/720p/stream.m3u8");
}
