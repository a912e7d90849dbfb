//! The Prometheus text-format parser on arbitrary bytes: it must not panic, and what it reads must
//! render to a page that reads back the same. Run from the crate root with the recorded pages as seeds:
//! `mkdir -p fuzz/corpus/text_parser && cp tests/data/*.prom fuzz/corpus/text_parser/ &&
//! cargo +nightly fuzz run text_parser -- -max_total_time=600`.
#![no_main]

use hls_swarm::metrics::text_parser::{Sample, parse, parse_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let page = parse_bytes(data);
    let lines = String::from_utf8_lossy(data).split('\n').count();
    assert!(page.samples.len() + page.bad_lines <= lines);
    let text: String = page.samples.iter().map(|s| format!("{s}\n")).collect();
    let again = parse(&text);
    assert_eq!(again.bad_lines, 0, "{text:?}");
    assert_eq!(again.samples.len(), page.samples.len());
    for (a, b) in again.samples.iter().zip(&page.samples) {
        assert!(same(a, b), "{a:?} != {b:?}");
    }
});

fn same(a: &Sample, b: &Sample) -> bool {
    let value = (a.value.is_nan() && b.value.is_nan()) || a.value.to_bits() == b.value.to_bits();
    a.name == b.name && a.labels == b.labels && a.timestamp_ms == b.timestamp_ms && value
}
