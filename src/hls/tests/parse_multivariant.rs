use super::{ORIGIN_MULTIVARIANT, multivariant};
use crate::hls::RenditionType;

#[test]
fn origin_multivariant_playlist() {
    let playlist = multivariant(ORIGIN_MULTIVARIANT);
    assert_eq!(playlist.version, Some(3));
    assert!(playlist.independent_segments);
    assert_eq!(playlist.variants.len(), 2);
    let hd = &playlist.variants[1];
    assert_eq!(hd.index, 1);
    assert_eq!(hd.uri.as_str(), "http://127.0.0.1:8080/live/720p/stream.m3u8");
    assert_eq!(hd.bandwidth, 2_500_000);
    assert_eq!(hd.average_bandwidth, None);
    assert_eq!(hd.resolution, Some((1280, 720)));
    assert_eq!(hd.codecs.as_deref(), Some("avc1.42e01f,mp4a.40.2"));
    assert_eq!(hd.label(), "720p@2500k");
    assert_eq!(playlist.variants[0].label(), "360p@800k");
}

#[test]
fn renditions_average_bandwidth_and_iframe_streams() {
    let playlist = multivariant(
        r#"#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="audio/en.m3u8?lang=en"
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",INSTREAM-ID="CC1"
#EXT-X-STREAM-INF:BANDWIDTH=1280000,AVERAGE-BANDWIDTH=1000000,AUDIO="aac"
https://cdn.example/low/index.m3u8?token=1
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=86000,URI="low/iframe.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=65000,CODECS="mp4a.40.5"
../audio-only.m3u8
"#,
    );
    assert_eq!(playlist.variants.len(), 2);
    let low = &playlist.variants[0];
    assert_eq!(low.uri.as_str(), "https://cdn.example/low/index.m3u8?token=1");
    assert_eq!(low.average_bandwidth, Some(1_000_000));
    assert_eq!(low.audio.as_deref(), Some("aac"));
    assert_eq!(low.label(), "1280k");
    assert_eq!(playlist.variants[1].uri.as_str(), "http://127.0.0.1:8080/audio-only.m3u8");
    let [audio, cc] = &playlist.renditions[..] else { panic!("two renditions") };
    assert_eq!(audio.kind, RenditionType::Audio);
    assert_eq!((audio.group_id.as_str(), audio.name.as_str()), ("aac", "English"));
    assert_eq!(audio.uri.as_ref().map(|u| u.as_str()), Some("http://127.0.0.1:8080/live/audio/en.m3u8?lang=en"));
    assert!(audio.default && audio.autoselect);
    assert_eq!(cc.kind, RenditionType::ClosedCaptions);
    assert_eq!(cc.uri, None);
}
