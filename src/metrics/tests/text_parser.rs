//! The parser on real pages (node_exporter 1.5 and nginx exporter 0.11 as Debian 12 ships them, the
//! built-in origin's OpenMetrics page) and on hand-written lines with tricky label values.

use super::{NGINX_EXPORTER, NODE_EXPORTER, TRICKY};
use crate::metrics::text_parser::{MetricType, Sample, parse, parse_bytes};
use crate::origin::{Counters, ServedKind};

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn node_exporter_page_reads_in_full() {
    let page = parse(NODE_EXPORTER);
    assert_eq!(page.bad_lines, 0, "first bad line: {:?}", page.first_bad_line);
    let sample_lines = NODE_EXPORTER.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).count();
    assert_eq!(page.samples.len(), sample_lines);
    assert_eq!(page.type_of("node_cpu_seconds_total"), Some(MetricType::Counter));
    assert_eq!(page.type_of("go_gc_duration_seconds"), Some(MetricType::Summary));
    let cpu: Vec<&Sample> = page.named("node_cpu_seconds_total").collect();
    assert_eq!(cpu.len(), 16);
    assert_eq!(cpu[0].label("cpu"), Some("0"));
    assert_eq!(cpu[0].label("mode"), Some("idle"));
    assert_eq!(cpu[0].value, 1235.73);
    assert_eq!(page.value("node_memory_MemTotal_bytes"), Some(2.5276063744e10));
    let uname = page.named("node_uname_info").next().unwrap();
    assert_eq!(uname.label("version"), Some("#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"));
    let quantile = page.named("go_gc_duration_seconds").find(|s| s.label("quantile") == Some("0.5"));
    assert!(quantile.is_some());
}

#[test]
fn nginx_exporter_page_reads_in_full() {
    let page = parse(NGINX_EXPORTER);
    assert_eq!(page.bad_lines, 0);
    assert_eq!(page.value("nginx_connections_active"), Some(1.0));
    assert_eq!(page.value("nginx_http_requests_total"), Some(3.0));
    assert_eq!(page.value("nginx_up"), Some(1.0));
    assert_eq!(page.type_of("nginx_connections_active"), Some(MetricType::Gauge));
    let info = page.named("nginxexporter_build_info").next().unwrap();
    assert_eq!(info.label("commit"), Some(""));
    assert_eq!(info.label("go"), Some("go1.19.8"));
}

#[test]
fn builtin_origin_page_reads_back() {
    let counters = Counters::with_variants(vec!["720p".into()]);
    counters.record_for(ServedKind::Segment, Some(0), "200", 1000);
    counters.connection_opened();
    let page = parse(&counters.encode());
    assert_eq!(page.bad_lines, 0);
    assert_eq!(page.type_of("hls_origin_requests_total"), Some(MetricType::Counter));
    let seg = page.named("hls_origin_requests_total").find(|s| s.label("kind") == Some("segment")).unwrap();
    assert_eq!((seg.label("status"), seg.label("variant"), seg.value), (Some("200"), Some("720p"), 1.0));
    assert_eq!(page.value("hls_origin_connections_active"), Some(1.0));
}

#[test]
fn tricky_label_values_keep_commas_equals_quotes_and_newlines() {
    let page = parse(TRICKY);
    let reqs: Vec<&Sample> = page.named("hls_test_requests_total").collect();
    assert_eq!(reqs.len(), 4);
    assert_eq!(reqs[0].labels, labels(&[("path", "/a,b=c"), ("method", "GET")]));
    assert_eq!(reqs[1].labels, labels(&[("msg", "say \"hi\"\nbye")]));
    assert_eq!((reqs[2].labels.len(), reqs[2].value), (0, 7.0));
    assert_eq!(reqs[3].label("path"), Some(r"C:\dir\file"));
    assert_eq!(reqs[3].label("brace"), Some("}{"));
    assert_eq!(reqs[3].label("hash"), Some("# not a comment"));
    assert_eq!(reqs[3].timestamp_ms, Some(1_700_000_000_000));
    let spaced = page.named("hls_test_spaced").next().unwrap();
    assert_eq!((spaced.labels.clone(), spaced.value), (labels(&[("a", "1"), ("b", "2")]), 4.5e-3));
    let utf8 = page.named("hls_test_utf8").next().unwrap();
    assert_eq!((utf8.label("city"), utf8.label("clip")), (Some("Zürich"), Some("🎬")));
    assert_eq!(page.type_of("hls_test_gauge"), Some(MetricType::Gauge));
}

#[test]
fn special_values_and_exponents() {
    let page = parse(TRICKY);
    assert!(page.value("hls_test_nan").unwrap().is_nan());
    let inf: Vec<f64> = page.named("hls_test_inf").map(|s| s.value).collect();
    assert_eq!(inf, [f64::INFINITY, f64::NEG_INFINITY]);
    assert_eq!(page.value("hls_test_exp"), Some(1.5e10));
    let neg = page.named("hls_test_neg").next().unwrap();
    assert_eq!((neg.value, neg.timestamp_ms), (-0.25, Some(-5)));
}

#[test]
fn bad_lines_are_skipped_and_counted() {
    let page = parse(TRICKY);
    assert_eq!(page.samples.len(), 12, "{:#?}", page.samples.iter().map(|s| &s.name).collect::<Vec<_>>());
    assert_eq!(page.bad_lines, 8);
    let first = TRICKY.lines().position(|l| l.starts_with("bad line")).unwrap() + 1;
    assert_eq!(page.first_bad_line, Some(first));
    assert!(!page.types.contains_key("hls_test_bad_type"));
}

#[test]
fn crlf_pages_read_like_lf_pages() {
    let crlf = TRICKY.replace('\n', "\r\n");
    let (a, b) = (parse(TRICKY), parse(&crlf));
    assert_eq!(a.bad_lines, b.bad_lines);
    assert_eq!(format!("{:?}", a.samples), format!("{:?}", b.samples));
    assert_eq!(parse(&NODE_EXPORTER.replace('\n', "\r\n")).samples.len(), parse(NODE_EXPORTER).samples.len());
}

#[test]
fn eof_ends_the_page_and_later_lines_are_bad() {
    let page = parse("a 1\n# EOF\nb 2\n\n");
    assert!(page.eof);
    assert_eq!(page.samples.len(), 1);
    assert_eq!((page.bad_lines, page.first_bad_line), (1, Some(3)));
}

#[test]
fn exemplars_after_the_value_are_ignored() {
    let page = parse("a_total 1 # {trace_id=\"x\"} 0.5\nb_total 2 1700 # {id=\"y\"} 1\n");
    assert_eq!(page.bad_lines, 0);
    assert_eq!(page.samples[1].timestamp_ms, Some(1700));
}

#[test]
fn whitespace_rules() {
    for good in ["a 1", "a\t1", "  a 1  ", "a{} 1", "a {} 1", "a{b=\"c\"}1", "a{ b = \"c\" , } 1", "a 1 2 "] {
        let page = parse(good);
        assert_eq!((page.samples.len(), page.bad_lines), (1, 0), "{good:?}");
    }
    for bad in ["a", "a{", "a{}", "a b", "a 1 2 3", "a{b=c} 1", "a{b=\"c\" d=\"e\"} 1", "a{,} 1", "{b=\"c\"} 1"] {
        let page = parse(bad);
        assert_eq!((page.samples.len(), page.bad_lines), (0, 1), "{bad:?}");
    }
}

#[test]
fn invalid_utf8_is_replaced_not_fatal() {
    let page = parse_bytes(b"a{b=\"\xff\xfe\"} 1\nc 2\n\xc3\n");
    assert_eq!(page.samples.len(), 2);
    assert_eq!(page.samples[0].label("b"), Some("\u{fffd}\u{fffd}"));
    assert_eq!(page.bad_lines, 1);
}

#[test]
fn display_escapes_what_needs_escaping() {
    let s = Sample {
        name: "x".into(),
        labels: labels(&[("p", "a\\b\"c\nd")]),
        value: f64::NEG_INFINITY,
        timestamp_ms: Some(3),
    };
    assert_eq!(s.to_string(), r#"x{p="a\\b\"c\nd"} -Inf 3"#);
}
