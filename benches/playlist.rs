//! What a viewer's playlist reload costs in user space: parsing the body, and for a low-latency track
//! completing the delta update from the playlist it holds. Run: `cargo bench --bench playlist`.
//! The playlists are written as the built-in origin writes them (README: figures).

use criterion::{Criterion, criterion_group, criterion_main};
use hls_swarm::hls::{MediaPlaylist, Playlist, apply_delta, fill_program_date_times, parse_reload};
use std::hint::black_box;
use url::Url;

const WINDOW: u64 = 10;
const PARTS: u64 = 5;

fn date(second: u64, millis: u64) -> String {
    format!("2026-12-05T08:{:02}:{:02}.{millis:03}Z", (second / 60) % 60, second % 60)
}

/// An LL-HLS media playlist (1 s segments of five 200 ms parts, a 10 s window) whose last complete
/// segment is `last` and with `pending` parts of the next one out; `skip`: a delta update.
fn low_latency(last: u64, pending: u64, skip: bool) -> String {
    let first = last + 1 - WINDOW;
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n");
    out += "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600,CAN-SKIP-UNTIL=6.0\n";
    out += "#EXT-X-PART-INF:PART-TARGET=0.20000\n";
    out += &format!("#EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-MAP:URI=\"init.mp4\"\n");
    let skipped = if skip { 4 } else { 0 };
    if skip {
        out += &format!("#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}\n");
    }
    for msn in first + skipped..=last {
        out += &format!("#EXT-X-PROGRAM-DATE-TIME:{}\n", date(msn, 563));
        if msn + 3 > last {
            for p in 0..PARTS {
                out += &format!("#EXT-X-PART:DURATION=0.20000,URI=\"part{msn:05}.{p}.m4s\",INDEPENDENT=YES\n");
            }
        }
        out += &format!("#EXTINF:1.000,\nseg{msn:05}.m4s\n");
    }
    let next = last + 1;
    if pending > 0 {
        out += &format!("#EXT-X-PROGRAM-DATE-TIME:{}\n", date(next, 563));
    }
    for p in 0..pending {
        out += &format!("#EXT-X-PART:DURATION=0.20000,URI=\"part{next:05}.{p}.m4s\",INDEPENDENT=YES\n");
    }
    out += &format!("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part{next:05}.{pending}.m4s\"\n");
    for rung in ["360p", "480p"] {
        out += &format!("#EXT-X-RENDITION-REPORT:URI=\"../{rung}/stream.m3u8\",LAST-MSN={last},LAST-PART=4\n");
    }
    out
}

/// A regular live MPEG-TS playlist of `WINDOW` 2 s segments ending at `last`, each dated.
fn regular(last: u64) -> String {
    let first = last + 1 - WINDOW;
    let mut out = format!("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n");
    for msn in first..=last {
        out += &format!("#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:2.000,\nseg{msn:05}.ts\n", date(msn * 2, 0));
    }
    out
}

fn media(body: &str, base: &Url, held: Option<&MediaPlaylist>) -> MediaPlaylist {
    match parse_reload(body.as_bytes(), base, None, held) {
        Ok(Playlist::Media(m)) => m,
        other => panic!("not a media playlist: {other:?}"),
    }
}

fn reloads(c: &mut Criterion) {
    let base = Url::parse("http://127.0.0.1:8080/240p/stream.m3u8").unwrap();
    let held = media(&low_latency(100, 2, false), &base, None);
    // The next blocking reload's answer: one part more, as a delta update.
    let body = low_latency(100, 3, true);
    let directives =
        Url::parse("http://127.0.0.1:8080/240p/stream.m3u8?_HLS_msn=101&_HLS_part=2&_HLS_skip=YES").unwrap();
    c.bench_function("low-latency reload (delta update, 1 new part)", |b| {
        b.iter(|| {
            let delta = media(black_box(&body), &directives, Some(&held));
            let mut whole = apply_delta(Some(&held), delta).unwrap();
            fill_program_date_times(&mut whole);
            black_box(whole)
        })
    });
    c.bench_function("low-latency reload parsed alone (nothing held, no delta applied)", |b| {
        b.iter(|| black_box(media(black_box(&body), &directives, None)))
    });
    let body = regular(100);
    c.bench_function("regular live reload (10 segments)", |b| {
        b.iter(|| black_box(media(black_box(&body), &base, None)))
    });
}

criterion_group!(benches, reloads);
criterion_main!(benches);
