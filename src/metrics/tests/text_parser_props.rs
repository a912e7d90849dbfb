//! Properties of the text-format parser: whatever samples are rendered (any label value, any float,
//! comments and CRLF between them) parse back equal; no input panics; and a bounded fuzz loop over
//! strings built from the format's own punctuation, which reaches the odd corners faster than random
//! bytes do (the same target runs unbounded under cargo-fuzz: `fuzz/fuzz_targets/text_parser.rs`).

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::metrics::text_parser::{Exposition, Sample, parse, parse_bytes};

fn sample() -> impl Strategy<Value = Sample> {
    let name = "[a-zA-Z_:][a-zA-Z0-9_:]{0,24}";
    let labels = proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,12}", any::<String>(), 0..6);
    let value = prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        (0u64..1 << 53).prop_map(|v| v as f64),
    ];
    (name, labels, value, proptest::option::of(any::<i64>())).prop_map(
        |(name, labels, value, timestamp_ms): (String, BTreeMap<String, String>, f64, Option<i64>)| Sample {
            name,
            labels: labels.into_iter().collect(),
            value,
            timestamp_ms,
        },
    )
}

/// Equal, with NaN equal to NaN and 0.0 unequal to -0.0 (the text keeps the sign).
fn same_samples(a: &[Sample], b: &[Sample]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            let value = (x.value.is_nan() && y.value.is_nan()) || x.value.to_bits() == y.value.to_bits();
            x.name == y.name && x.labels == y.labels && x.timestamp_ms == y.timestamp_ms && value
        })
}

fn render(samples: &[Sample], comments: &[bool], crlf: bool) -> String {
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut page = String::new();
    for (s, comment) in samples.iter().zip(comments.iter().chain(std::iter::repeat(&false))) {
        if *comment {
            page +=
                &format!("# HELP {} a \"help\" line, with {{braces}}{eol}# TYPE {} gauge{eol}{eol}", s.name, s.name);
        }
        page += &format!("{s}{eol}");
    }
    page
}

/// Line lengths are bounded by the input: no sample or bad line appears from nothing.
fn bounded(page: &Exposition, text: &str) -> bool {
    let lines = text.split('\n').count();
    page.samples.len() + page.bad_lines <= lines && page.first_bad_line.is_none_or(|n| n <= lines)
}

/// Pieces of the format, and pieces that break it, for the fuzz loop.
fn fragment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "node_cpu_seconds_total",
        "a",
        "_",
        ":",
        "9",
        "{",
        "}",
        "\"",
        "\\",
        "\\\\",
        "\\\"",
        "\\n",
        "=",
        ",",
        " ",
        "\t",
        "\n",
        "\r\n",
        "\r",
        "#",
        "# ",
        "TYPE ",
        "HELP ",
        "EOF",
        "counter",
        "gauge",
        "wat",
        "1",
        "-1",
        "0.5",
        "1e3",
        "1E-3",
        "NaN",
        "+Inf",
        "-Inf",
        "inf",
        "nan",
        "9223372036854775807",
        "9223372036854775808",
        "é",
        "🎬",
        "\u{0}",
        "mode=\"idle\"",
        "cpu=\"0\"",
        "{}",
        "} ",
        " # {",
        "1700000000000",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn rendered_samples_parse_back_equal(
        samples in proptest::collection::vec(sample(), 0..20),
        comments in proptest::collection::vec(any::<bool>(), 0..20),
        crlf in any::<bool>(),
    ) {
        let page = parse(&render(&samples, &comments, crlf));
        prop_assert_eq!(page.bad_lines, 0);
        prop_assert!(same_samples(&page.samples, &samples), "{:?}\n!=\n{:?}", page.samples, samples);
    }

    #[test]
    fn any_string_parses_without_panic(text in any::<String>()) {
        let page = parse(&text);
        prop_assert!(bounded(&page, &text));
    }

    #[test]
    fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let page = parse_bytes(&bytes);
        prop_assert!(bounded(&page, &text));
    }
}

proptest! {
    // The bounded fuzz loop: more cases than the properties above, each a few hundred fragments.
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn syntax_biased_fuzz_is_stable(parts in proptest::collection::vec(fragment(), 0..200)) {
        let text = parts.concat();
        let page = parse(&text);
        prop_assert!(bounded(&page, &text));
        // Whatever was read renders to a page that reads back the same: parsing is idempotent.
        let again = parse(&render(&page.samples, &[], false));
        prop_assert_eq!(again.bad_lines, 0);
        prop_assert!(same_samples(&again.samples, &page.samples));
    }
}

#[test]
fn huge_lines_parse_in_one_pass() {
    // One line of 100,000 labels, one of 1 MB inside an unclosed quote, one of 500,000 escapes: each
    // would take minutes in a parser that backtracks or checks duplicates pairwise.
    let labels: Vec<String> = (0..100_000).map(|i| format!("l{i}=\"v,{i}=\\\"\"")).collect();
    let mut text = format!("wide{{{}}} 1\n", labels.join(","));
    text += &format!("open{{a=\"{}\n", "x".repeat(1 << 20));
    text += &format!("esc{{a=\"{}\"}} 2\n", "\\\\".repeat(500_000));
    let page = parse(&text);
    assert_eq!((page.samples.len(), page.bad_lines), (2, 1));
    assert_eq!(page.samples[0].labels.len(), 100_000);
    assert_eq!(page.samples[1].labels[0].1.len(), 500_000);
}
