//! fMP4 properties, checked by parsing the bytes back with [`super::boxparse`].

use super::boxparse::{Mp4Box, avcc_nal_units, boxes, fragments};
use super::fmp4::{Plan, moof_len};
use super::*;

fn format(width: u32, height: u32, bitrate: u64, frames: u32, audio: bool) -> MediaFormat {
    MediaFormat { width, height, bitrate, frames_per_segment: frames, audio }
}

/// A spread of sizes, segment lengths (1 frame to 4 s) and audio on or off.
fn formats() -> Vec<MediaFormat> {
    vec![
        format(640, 360, 800_000, 6, true),
        format(854, 480, 1_200_000, 1, true),
        format(1920, 1080, 5_000_000, 60, true),
        format(1280, 720, 2_500_000, 120, false),
        format(426, 240, 256_000, 3, true),
        // Below what the pictures need: the segment grows past the budget but stays consistent.
        format(1920, 1080, 200_000, 3, true),
    ]
}

/// Frames per part: one fragment, single frames, parts that do not divide the segment, 333 ms.
const PARTS: [u32; 4] = [0, 1, 7, 10];

const SYNC: u32 = 0x0200_0000;
const NON_SYNC: u32 = 0x0101_0000;

fn budget(f: &MediaFormat) -> u64 {
    (u64::from(f.frames_per_segment) * f.bitrate + 120) / 240
}

fn init_tracks(init: &[u8]) -> (Vec<String>, Vec<Mp4Box<'_>>) {
    let top = boxes(init);
    let kinds = top.iter().map(|b| b.kind().to_string()).collect();
    let moov = top.iter().find(|b| b.kind() == "moov").copied().expect("a moov");
    let traks = moov.children().into_iter().filter(|b| b.kind() == "trak").collect();
    (kinds, traks)
}

#[test]
fn init_has_cmaf_brands_and_a_track_per_stream() {
    for audio in [false, true] {
        let f = format(854, 480, 1_200_000, 60, audio);
        let init = build_init(&f);
        let (kinds, traks) = init_tracks(&init);
        assert_eq!(kinds, ["ftyp", "moov"]);
        let ftyp = boxes(&init)[0];
        assert_eq!(&ftyp.body[..4], b"iso6");
        assert!(ftyp.body[8..].chunks(4).any(|brand| brand == b"cmfc"), "CMAF brand");
        let moov = boxes(&init)[1];
        let expected: &[&str] = if audio { &["mvhd", "trak", "trak", "mvex"] } else { &["mvhd", "trak", "mvex"] };
        assert_eq!(moov.kinds(), expected);
        let next_track = moov.child("mvhd").full().2.rest()[92..].to_vec();
        assert_eq!(next_track, [0, 0, 0, traks.len() as u8 + 1]);
        let trex: Vec<u32> = moov.child("mvex").children().iter().map(|t| t.full().2.u32()).collect();
        assert_eq!(trex, if audio { vec![1, 2] } else { vec![1] });
        let facts: Vec<(u32, u32, String)> = traks
            .iter()
            .map(|trak| {
                let track_id = trak.child("tkhd").full().2.rest()[8..12].to_vec();
                let mut mdhd = trak.path(&["mdia", "mdhd"]).full().2;
                mdhd.take(8);
                let handler = trak.path(&["mdia", "hdlr"]).full().2.rest()[4..8].to_vec();
                let id = u32::from_be_bytes(track_id.try_into().unwrap());
                (id, mdhd.u32(), String::from_utf8(handler).unwrap())
            })
            .collect();
        let mut expected = vec![(1, 90_000, "vide".to_string())];
        if audio {
            expected.push((2, 48_000, "soun".to_string()));
        }
        assert_eq!(facts, expected);
        for trak in &traks {
            let stbl = trak.path(&["mdia", "minf", "stbl"]);
            assert_eq!(stbl.kinds(), ["stsd", "stts", "stsc", "stco", "stsz"]);
            for table in ["stts", "stsc", "stco"] {
                assert_eq!(stbl.child(table).full().2.rest(), [0, 0, 0, 0], "{table} is empty");
            }
        }
    }
}

#[test]
fn avcc_holds_the_parameter_sets_of_the_codecs_string() {
    for f in formats() {
        let init = build_init(&f);
        let (_, traks) = init_tracks(&init);
        let stsd = traks[0].path(&["mdia", "minf", "stbl", "stsd"]);
        let avc1 = stsd.children_after(8)[0];
        assert_eq!(avc1.kind(), "avc1");
        let size =
            (u16::from_be_bytes([avc1.body[24], avc1.body[25]]), u16::from_be_bytes([avc1.body[26], avc1.body[27]]));
        assert_eq!((u32::from(size.0), u32::from(size.1)), (f.width, f.height));
        let tkhd = traks[0].child("tkhd").full().2.rest()[72..80].to_vec();
        assert_eq!(tkhd, [&(f.width << 16).to_be_bytes()[..], &(f.height << 16).to_be_bytes()].concat());
        let avcc = avc1.children_after(78);
        assert_eq!(avcc.len(), 1);
        let record = avcc[0].body;
        let params = f.video_params();
        let (sps, pps) = (h264::sps_nal(&params), h264::pps_nal());
        let codecs = format!("avc1.{:02x}{:02x}{:02x}", record[1], record[2], record[3]);
        assert!(f.codecs().starts_with(&codecs), "{} vs {codecs}", f.codecs());
        assert_eq!(record[..1], [1]);
        assert_eq!(record[4..6], [0xFF, 0xE1], "4-byte lengths, one SPS");
        let mut expected = vec![(sps.len() >> 8) as u8, sps.len() as u8];
        expected.extend_from_slice(&sps);
        expected.extend_from_slice(&[1, 0, pps.len() as u8]);
        expected.extend_from_slice(&pps);
        assert_eq!(record[6..], expected);
    }
}

#[test]
fn esds_holds_the_audio_config() {
    let init = build_init(&format(640, 360, 800_000, 60, true));
    let (_, traks) = init_tracks(&init);
    let stsd = traks[1].path(&["mdia", "minf", "stbl", "stsd"]);
    let mp4a = stsd.children_after(8)[0];
    assert_eq!(mp4a.kind(), "mp4a");
    assert_eq!(mp4a.body[16..20], [0, 2, 0, 16], "stereo, 16 bits");
    assert_eq!(mp4a.body[24..28], (48_000u32 << 16).to_be_bytes());
    let esds = mp4a.children_after(28)[0];
    let (_, _, descriptor) = esds.full();
    let d = descriptor.rest();
    assert_eq!((d[0], usize::from(d[1]), d.len()), (0x03, d.len() - 2, 27));
    assert_eq!(d[5..8], [0x04, 17, 0x40], "DecoderConfigDescriptor: MPEG-4 audio");
    assert_eq!(d[20..], [0x05, 2, 0x11, 0x90, 0x06, 1, 2], "AAC-LC 48 kHz stereo, SL predefined 2");
}

#[test]
fn fragments_parse_back() {
    let raw_audio = aac::silent_raw_frame();
    for f in formats() {
        for frames_per_part in PARTS {
            for k in [0, 1, 5] {
                let seg = build_fmp4_segment(&f, k, frames_per_part);
                let ranges = part_ranges(&f, frames_per_part);
                let frags = fragments(&seg);
                assert_eq!(frags.len(), ranges.len());
                for (frag, range) in frags.iter().zip(&ranges) {
                    let context = format!("{f:?} part {range:?} of segment {k}");
                    let first = k * u64::from(f.frames_per_segment) + u64::from(range.start);
                    assert_eq!(u64::from(frag.sequence), first + 1, "{context}");
                    assert_eq!(frag.runs.len(), 1 + usize::from(f.audio), "{context}");
                    assert_eq!(
                        frag.len,
                        moof_len(range.len(), f.audio) + 8 + frag.runs.iter().map(|r| r.data.len()).sum::<usize>()
                    );
                    let video = &frag.runs[0];
                    assert_eq!((video.track_id, video.samples.len()), (1, range.len()), "{context}");
                    let mut rest = video.data;
                    for (n, &(size, duration, flags)) in video.samples.iter().enumerate() {
                        let (sample, after) = rest.split_at(size as usize);
                        rest = after;
                        let types: Vec<u8> = avcc_nal_units(sample).iter().map(|nal| nal[0] & 0x1F).collect();
                        // A segment built in parts has an IDR frame at the start of each part.
                        let idr = n == 0;
                        assert_eq!(types[0], if idr { 5 } else { 1 }, "{context} sample {n}");
                        assert!(types[1..].iter().all(|&t| t == 12), "{context}: only filler after the slice");
                        assert_eq!((duration, flags), (3000, if idr { SYNC } else { NON_SYNC }), "{context}");
                    }
                    if f.audio {
                        let audio = &frag.runs[1];
                        assert_eq!(audio.track_id, 2);
                        assert!(!audio.samples.is_empty(), "every video frame starts an audio frame");
                        assert!(audio.samples.iter().all(|&s| s == (raw_audio.len() as u32, 1024, SYNC)));
                        assert!(audio.data.chunks(raw_audio.len()).all(|frame| frame == raw_audio));
                    }
                }
            }
        }
    }
}

#[test]
fn decode_times_continue_across_segments() {
    for f in formats() {
        for frames_per_part in PARTS {
            let k = 4;
            let bytes: Vec<u8> = (k..k + 3).flat_map(|k| build_fmp4_segment(&f, k, frames_per_part).to_vec()).collect();
            let frags = fragments(&bytes);
            let ticks = |segment: u64| segment * u64::from(f.frames_per_segment) * 3000;
            let mut next = [90_000 + ticks(k), 48_000 + ticks(k).div_ceil(1920) * 1024];
            let mut counts = [0, 0];
            for frag in &frags {
                for (track, run) in frag.runs.iter().enumerate() {
                    assert_eq!(run.decode_time, next[track], "{f:?} track {}", run.track_id);
                    next[track] += run.samples.iter().map(|s| u64::from(s.1)).sum::<u64>();
                    counts[track] += run.samples.len() as u64;
                }
            }
            assert_eq!(counts[0], 3 * u64::from(f.frames_per_segment));
            if f.audio {
                assert_eq!(counts[1], ticks(k + 3).div_ceil(1920) - ticks(k).div_ceil(1920), "as the TS segments");
            }
        }
    }
}

#[test]
fn parts_concatenate_to_the_segment() {
    for f in formats() {
        for frames_per_part in PARTS {
            for k in [0, 3] {
                let parts: Vec<u8> = part_ranges(&f, frames_per_part)
                    .into_iter()
                    .flat_map(|range| build_fmp4_part(&f, k, range, frames_per_part).to_vec())
                    .collect();
                assert_eq!(parts, build_fmp4_segment(&f, k, frames_per_part), "{f:?} / {frames_per_part}");
            }
        }
    }
    let f = format(640, 360, 800_000, 6, true);
    assert_eq!(build_fmp4_part(&f, 2, 4..99, 4), build_fmp4_part(&f, 2, 4..6, 4), "clamped to the segment");
    assert!(build_fmp4_part(&f, 2, 6..9, 4).is_empty());
    assert_eq!(part_ranges(&f, 4), [0..4, 4..6]);
    assert_eq!(part_ranges(&f, 0), part_ranges(&f, 6), "one part");
    assert_eq!(part_ranges(&f, 60), part_ranges(&f, 6));
    assert_eq!((part_ranges(&f, 6).len(), part_ranges(&f, 6).first()), (1, Some(&(0..6))));
}

#[test]
fn fragment_ranges_find_the_parts_in_the_segment() {
    for f in formats() {
        for frames_per_part in PARTS {
            let segment = build_fmp4_segment(&f, 5, frames_per_part);
            let ranges = fragment_ranges(&segment);
            let parts = part_ranges(&f, frames_per_part);
            assert_eq!(ranges.len(), parts.len(), "{f:?} / {frames_per_part}");
            for (bytes, frames) in ranges.into_iter().zip(parts) {
                assert_eq!(
                    segment[bytes],
                    build_fmp4_part(&f, 5, frames, frames_per_part)[..],
                    "{f:?} / {frames_per_part}"
                );
            }
        }
    }
    assert!(fragment_ranges(&[]).is_empty());
    assert!(fragment_ranges(&[0, 0, 0, 4, b'm', b'o', b'o', b'f']).is_empty(), "a box shorter than its header");
}

#[test]
fn size_is_the_budget_however_the_segment_is_split() {
    let heights = [
        (360, [256_000, 500_000, 1_000_000, 2_500_000, 5_000_000]),
        (1080, [2_500_000, 3_000_000, 4_000_000, 4_500_000, 5_000_000]),
    ];
    for (height, bitrates) in heights {
        for bitrate in bitrates {
            for frames in [3, 6, 30, 60, 180] {
                for audio in [false, true] {
                    let f = format(width_for_height(height), height, bitrate, frames, audio);
                    let plan = Plan::new(&f, 0);
                    assert_eq!(plan.segment_len(), budget(&f), "{f:?}");
                    let in_parts = Plan::new(&f, 10);
                    assert_eq!(in_parts.segment_len(), budget(&f), "{f:?} in parts of 10: the same budget");
                    for frames_per_part in PARTS {
                        // In parts, each part starts with an IDR frame: parts of a frame or two at a low
                        // bit rate are key frames too large for the budget, and the segment is then as
                        // small as its pictures allow, never smaller than the budget.
                        let split = Plan::new(&f, frames_per_part).segment_len();
                        assert!(split >= budget(&f), "{f:?} / {frames_per_part}");
                        if frames_per_part == 0 || frames_per_part >= 7 {
                            assert_eq!(split, budget(&f), "{f:?} / {frames_per_part}");
                        }
                        for k in [0, 1, 2] {
                            let seg = build_fmp4_segment(&f, k, frames_per_part).len() as u64;
                            if split == budget(&f) && (frames_per_part == 0 || frames_per_part >= 7) {
                                assert_eq!(seg, budget(&f), "{f:?} / {frames_per_part}");
                            } else {
                                assert!(seg >= budget(&f), "{f:?} / {frames_per_part}: {seg}");
                            }
                        }
                    }
                    for range in part_ranges(&f, 10) {
                        let shares: u64 = range.clone().map(|i| in_parts.share(i)).sum();
                        assert_eq!(build_fmp4_part(&f, 1, range, 10).len() as u64, shares, "{f:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn a_low_budget_gives_the_smallest_valid_segment() {
    let f = format(1920, 1080, 200_000, 3, true);
    let seg = build_fmp4_segment(&f, 0, 0);
    assert!(seg.len() as u64 > budget(&f));
    let frags = fragments(&seg);
    let sizes: Vec<u32> = frags[0].runs[0].samples.iter().map(|s| s.0).collect();
    let video = f.video_params();
    let idr = h264::idr_slice_nal(&video, 0, h264::segment_colour(0)).len();
    let p = [1, 2].map(|n| 4 + h264::p_slice_nal(&video, n).len() as u32);
    assert_eq!((sizes[0] as usize, &sizes[1..]), (4 + idr, &p[..]), "no filler at all");
}

#[test]
fn segments_are_deterministic() {
    for f in formats() {
        assert_eq!(build_fmp4_segment(&f, 42, 10), build_fmp4_segment(&f, 42, 10));
        assert_ne!(build_fmp4_segment(&f, 42, 10), build_fmp4_segment(&f, 43, 10));
        assert_eq!(build_init(&f), build_init(&f));
    }
}
