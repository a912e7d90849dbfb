//! Segment-level properties, checked by parsing the bytes back with [`super::tsparse`].

use super::ts::{AUDIO_PID, NULL_PID, PAT_PID, PMT_PID, VIDEO_PID};
use super::tsparse::{Packet, nal_units, packets, pes_units, section};
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

/// Segments `first..first + count` concatenated, as a player would receive them.
fn stream(format: &MediaFormat, first: u64, count: u64) -> Vec<u8> {
    (first..first + count).flat_map(|k| build_segment(format, k).to_vec()).collect()
}

#[test]
fn packets_are_synced() {
    for f in formats() {
        let seg = build_segment(&f, 3);
        assert_eq!(seg.len() % 188, 0);
        assert!(seg.chunks(188).all(|p| p[0] == 0x47));
        let parsed = packets(&seg);
        assert_eq!((parsed[0].pid, parsed[1].pid, parsed[2].pid), (PAT_PID, PMT_PID, VIDEO_PID));
    }
}

#[test]
fn pat_and_pmt_parse_back() {
    for audio in [false, true] {
        let seg = build_segment(&format(640, 360, 1_000_000, 30, audio), 0);
        let p = packets(&seg);
        let (table_id, ts_id, body) = section(p[0].payload);
        assert_eq!((table_id, ts_id), (0x00, 1));
        assert_eq!(body, vec![0x00, 0x01, 0xF0, 0x00], "program 1 -> PMT PID 0x1000");
        let (table_id, program, body) = section(p[1].payload);
        assert_eq!((table_id, program), (0x02, 1));
        assert_eq!(u16::from_be_bytes([body[0], body[1]]) & 0x1FFF, VIDEO_PID, "PCR_PID");
        assert_eq!(u16::from_be_bytes([body[2], body[3]]) & 0x0FFF, 0, "program_info_length");
        let streams: Vec<(u8, u16)> =
            body[4..].chunks(5).map(|s| (s[0], u16::from_be_bytes([s[1], s[2]]) & 0x1FFF)).collect();
        let mut expected = vec![(0x1B, VIDEO_PID)];
        if audio {
            expected.push((0x0F, AUDIO_PID));
        }
        assert_eq!(streams, expected);
    }
}

/// Every PID's counter steps by one (mod 16) from packet to packet, across segment boundaries.
fn assert_continuity(stream: &[Packet]) {
    let mut last: std::collections::HashMap<u16, u8> = Default::default();
    for (n, p) in stream.iter().enumerate().filter(|(_, p)| p.pid != NULL_PID) {
        assert!(p.has_payload);
        if let Some(prev) = last.insert(p.pid, p.cc) {
            assert_eq!(p.cc, (prev + 1) % 16, "PID {:#x} packet {n}", p.pid);
        }
    }
}

#[test]
fn continuity_counters_continue_across_segments() {
    for f in formats() {
        for k in [0, 1, 7, 12_345] {
            assert_continuity(&packets(&stream(&f, k, 3)));
        }
    }
}

#[test]
fn pcr_increases_in_steps_under_100_ms() {
    for f in formats() {
        for k in [0, 5] {
            let bytes = stream(&f, k, 3);
            let pcrs: Vec<u64> = packets(&bytes).iter().filter_map(|p| p.pcr).collect();
            assert_eq!(pcrs.len() as u64, 3 * u64::from(f.frames_per_segment));
            for pair in pcrs.windows(2) {
                assert!(pair[1] > pair[0], "{f:?}: PCR must increase");
                assert!(pair[1] - pair[0] <= TICKS_PER_SECOND / 10, "{f:?}: PCR gap over 100 ms");
            }
        }
    }
}

#[test]
fn timestamps_continue_across_segments() {
    for f in formats() {
        let bytes = stream(&f, 4, 3);
        let p = packets(&bytes);
        let video = pes_units(&p, VIDEO_PID);
        let first_pts = 90_000 + 4 * u64::from(f.frames_per_segment) * 3000;
        assert_eq!(video[0].pts, first_pts);
        for (pair, n) in video.windows(2).zip(0..) {
            assert_eq!(pair[1].pts - pair[0].pts, 3000, "video frame {n}");
        }
        for pes in &video {
            let pcr = pes.pcr.expect("every video PES carries a PCR");
            assert_eq!(pes.pts - pcr, 9000, "PCR runs 100 ms behind DTS");
        }
        if f.audio {
            let audio = pes_units(&p, AUDIO_PID);
            let ticks = |segment: u64| segment * u64::from(f.frames_per_segment) * 3000;
            assert_eq!(audio.len() as u64, ticks(7).div_ceil(1920) - ticks(4).div_ceil(1920));
            let j0 = ticks(4).div_ceil(1920);
            assert_eq!(audio[0].pts, 90_000 + j0 * 1920);
            for pair in audio.windows(2) {
                assert_eq!(pair[1].pts - pair[0].pts, 1920);
            }
        }
    }
}

#[test]
fn every_segment_starts_with_an_idr_access_unit() {
    for f in formats() {
        for k in [0, 1, 2] {
            let seg = build_segment(&f, k);
            let p = packets(&seg);
            let video = pes_units(&p, VIDEO_PID);
            assert_eq!(video.len() as u32, f.frames_per_segment);
            let types: Vec<u8> = nal_units(&video[0].data).iter().map(|(t, _)| *t).collect();
            assert_eq!(&types[..4], &[9, 7, 8, 5], "{f:?} segment {k}");
            assert!(types[4..].iter().all(|&t| t == 12), "only filler after the slice");
            assert!(video[0].random_access);
            for pes in &video[1..] {
                let types: Vec<u8> = nal_units(&pes.data).iter().map(|(t, _)| *t).collect();
                assert_eq!(&types[..2], &[9, 1]);
                assert!(!pes.random_access);
            }
        }
    }
}

#[test]
fn size_follows_the_bitrate() {
    let heights = [
        (360, [256_000, 500_000, 1_000_000, 2_500_000, 5_000_000]),
        (1080, [2_500_000, 3_000_000, 4_000_000, 4_500_000, 5_000_000]),
    ];
    for (height, bitrates) in heights {
        for bitrate in bitrates {
            for frames in [3, 6, 30, 60, 180] {
                for audio in [false, true] {
                    let f = format(width_for_height(height), height, bitrate, frames, audio);
                    let target = bitrate as f64 / 8.0 * f.segment_duration().as_secs_f64();
                    // Whole packets: a 3200-byte budget cannot be met closer than half a packet.
                    let tolerance = (0.02 * target).max(94.0);
                    for k in [0, 1, 2] {
                        let size = build_segment(&f, k).len() as f64;
                        assert!((size - target).abs() <= tolerance, "{f:?}: {size} bytes for {target}");
                    }
                }
            }
        }
    }
}

#[test]
fn segments_are_deterministic() {
    for f in formats() {
        assert_eq!(build_segment(&f, 42), build_segment(&f, 42));
        assert_ne!(build_segment(&f, 42), build_segment(&f, 43));
    }
}

#[test]
fn codecs_name_the_level() {
    assert_eq!(format(640, 360, 800_000, 60, true).codecs(), "avc1.42e01e,mp4a.40.2");
    assert_eq!(format(1280, 720, 2_500_000, 60, false).codecs(), "avc1.42e01f");
    assert_eq!(format(1920, 1080, 5_000_000, 60, true).codecs(), "avc1.42e028,mp4a.40.2");
    assert_eq!(format(3840, 2160, 15_000_000, 60, true).codecs(), "avc1.42e033,mp4a.40.2");
}

#[test]
fn widths_are_16_by_9_and_even() {
    let cases = [(16, 28), (240, 426), (360, 640), (480, 854), (720, 1280), (1080, 1920), (2160, 3840)];
    for (height, width) in cases {
        assert_eq!(width_for_height(height), width, "{height}p");
    }
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn build_speed() {
    for (w, h) in [(1920, 1080), (3840, 2160)] {
        let f = format(w, h, 5_000_000, 60, true);
        let start = std::time::Instant::now();
        for k in 0..20 {
            std::hint::black_box(build_segment(&f, k));
        }
        let each = start.elapsed() / 20;
        println!("{w}x{h} 5 Mbps 2 s: {each:?} per segment");
        assert!(cfg!(debug_assertions) || each < std::time::Duration::from_millis(10));
        let start = std::time::Instant::now();
        for k in 0..20 {
            std::hint::black_box(build_fmp4_segment(&f, k, 10));
        }
        let each = start.elapsed() / 20;
        println!("{w}x{h} 5 Mbps 2 s: {each:?} per fMP4 segment of six parts");
        assert!(cfg!(debug_assertions) || each < std::time::Duration::from_millis(10));
    }
}
