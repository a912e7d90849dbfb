//! Audio-only renditions parsed back: the TS with [`super::tsparse`], the fMP4 with
//! [`super::boxparse`]; both hold the AAC frames the muxed segments hold, segment for segment.

use super::boxparse::{boxes, fragments};
use super::ts::{AUDIO_PID, PAT_PID, PMT_PID};
use super::tsparse::{packets, pes_units, section};
use super::*;

/// Audio frames of segments `first..end` of `frames` video frames each (split by PTS, as muxed).
fn audio_frames(frames: u32, first: u64, end: u64) -> u64 {
    let ticks = |segment: u64| segment * u64::from(frames) * 3000;
    ticks(end).div_ceil(1920) - ticks(first).div_ceil(1920)
}

#[test]
fn audio_only_ts_lists_only_aac_and_continues_across_segments() {
    for frames in [1, 15, 60] {
        let bytes: Vec<u8> = (4..7).flat_map(|k| build_audio_segment(frames, k).to_vec()).collect();
        let p = packets(&bytes);
        assert_eq!((p[0].pid, p[1].pid), (PAT_PID, PMT_PID));
        let (table_id, _, body) = section(p[1].payload);
        assert_eq!(table_id, 0x02);
        assert_eq!(u16::from_be_bytes([body[0], body[1]]) & 0x1FFF, AUDIO_PID, "the audio carries the PCR");
        let streams: Vec<(u8, u16)> =
            body[4..].chunks(5).map(|s| (s[0], u16::from_be_bytes([s[1], s[2]]) & 0x1FFF)).collect();
        assert_eq!(streams, [(0x0F, AUDIO_PID)], "ADTS AAC only");
        assert!(p.iter().all(|p| [PAT_PID, PMT_PID, AUDIO_PID].contains(&p.pid)), "no video, no null packets");
        let audio = pes_units(&p, AUDIO_PID);
        assert_eq!(audio.len() as u64, audio_frames(frames, 4, 7));
        assert_eq!(audio[0].pts, 90_000 + audio_frames(frames, 0, 4) * 1920);
        for pes in &audio {
            assert_eq!(pes.pts - pes.pcr.expect("a PCR on every audio PES"), 9000);
            assert_eq!(pes.data, aac::silent_adts_frame());
        }
        for pair in audio.windows(2) {
            assert_eq!(pair[1].pts - pair[0].pts, 1920);
        }
        let mut last = None;
        for p in p.iter().filter(|p| p.pid == AUDIO_PID) {
            if let Some(prev) = last.replace(p.cc) {
                assert_eq!(p.cc, (prev + 1) % 16, "continuity across segments");
            }
        }
    }
}

#[test]
fn audio_only_init_has_one_audio_track() {
    let init = build_audio_init();
    let top = boxes(&init);
    assert_eq!(top.iter().map(|b| b.kind().to_string()).collect::<Vec<_>>(), ["ftyp", "moov"]);
    assert_eq!(top[1].kinds(), ["mvhd", "trak", "mvex"]);
    let trak = top[1].child("trak");
    assert_eq!(trak.path(&["mdia", "hdlr"]).full().2.rest()[4..8], *b"soun");
    let trex = top[1].child("mvex").child("trex").full().2.u32();
    let tkhd = trak.child("tkhd").full().2.rest()[8..12].to_vec();
    assert_eq!((trex, tkhd), (2, vec![0, 0, 0, 2]), "the muxed init's audio track ID");
}

#[test]
fn audio_only_fragments_hold_the_muxed_audio_frames() {
    for frames in [1, 15, 60] {
        let bytes: Vec<u8> = (4..7).flat_map(|k| build_fmp4_audio_segment(frames, k).to_vec()).collect();
        let frags = fragments(&bytes);
        assert_eq!(frags.len(), 3);
        let mut next = 48_000 + audio_frames(frames, 0, 4) * 1024;
        let mut count = 0;
        for frag in &frags {
            assert_eq!(frag.runs.len(), 1);
            let run = &frag.runs[0];
            assert_eq!((run.track_id, run.decode_time), (2, next));
            assert_eq!(frag.sequence as u64, (next - 48_000) / 1024 + 1, "first audio frame plus one");
            assert!(run.samples.iter().all(|s| *s == (7, 1024, 0x0200_0000)), "{:?}", run.samples);
            next += 1024 * run.samples.len() as u64;
            count += run.samples.len() as u64;
        }
        assert_eq!(count, audio_frames(frames, 4, 7));
    }
}

#[test]
fn audio_parts_line_up_with_the_video_parts_and_make_the_segment() {
    for (frames, frames_per_part) in [(30, 6), (60, 10), (15, 7), (6, 1)] {
        let audio = Rendition::AudioOnly { frames_per_segment: frames };
        let segment = audio.segment_in_parts(Container::Fmp4, 4, frames_per_part);
        let video = MediaFormat { width: 640, height: 360, bitrate: 400_000, frames_per_segment: frames, audio: true };
        let ranges = part_ranges(&video, frames_per_part);
        let frags = fragments(&segment);
        assert_eq!(frags.len(), ranges.len(), "{frames} / {frames_per_part}");
        assert_eq!(fragment_ranges(&segment).len(), ranges.len());
        let mut total = 0;
        for ((frag, range), bytes) in frags.iter().zip(&ranges).zip(fragment_ranges(&segment)) {
            let muxed_part = build_fmp4_part(&video, 4, range.clone(), frames_per_part);
            let muxed = fragments(&muxed_part);
            let (run, muxed_audio) = (&frag.runs[0], &muxed[0].runs[1]);
            assert_eq!((run.decode_time, run.samples.len()), (muxed_audio.decode_time, muxed_audio.samples.len()));
            assert!(!run.samples.is_empty(), "every video frame has audio");
            assert_eq!(segment[bytes], build_fmp4_audio_part(frames, 4, range.clone())[..]);
            total += run.samples.len() as u64;
        }
        assert_eq!(total, audio_frames(frames, 4, 5));
    }
    assert_eq!(
        Rendition::AudioOnly { frames_per_segment: 15 }.segment_in_parts(Container::Fmp4, 2, 0),
        build_fmp4_audio_segment(15, 2),
        "one part: the segment as before"
    );
}

#[test]
fn renditions_pick_the_muxer_and_audio_bandwidth_is_the_peak() {
    let video = MediaFormat { width: 640, height: 360, bitrate: 800_000, frames_per_segment: 15, audio: false };
    let muxed = Rendition::Muxed(video.clone());
    assert_eq!(muxed.segment(Container::Ts, 3), build_segment(&video, 3));
    assert_eq!(muxed.segment(Container::Fmp4, 3), build_fmp4_segment(&video, 3, 0));
    assert_eq!(muxed.init(), build_init(&video));
    let audio = Rendition::AudioOnly { frames_per_segment: 15 };
    assert_eq!(audio.segment(Container::Ts, 3), build_audio_segment(15, 3));
    assert_eq!(audio.init(), build_audio_init());
    for container in [Container::Ts, Container::Fmp4] {
        let peak = Rendition::audio_peak_bitrate(15, container, 0);
        let largest = (0..100).map(|k| audio.segment(container, k).len() as u64).max().unwrap();
        assert_eq!(peak, (largest * 8 * 30).div_ceil(15), "{container:?}");
        assert!((1_000..100_000).contains(&peak), "{container:?}: {peak}");
    }
}
