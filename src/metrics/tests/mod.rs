//! Tests of the origin-metrics side: the text-format parser on recorded exporter pages and hand-written
//! tricky lines, its properties (round trip, no panic on any input), and the derived figures.

mod derive;
mod scrape;
mod text_parser;
mod text_parser_props;

const NODE_EXPORTER: &str = include_str!("../../../tests/data/node_exporter.prom");
const NGINX_EXPORTER: &str = include_str!("../../../tests/data/nginx_exporter.prom");
const TRICKY: &str = include_str!("../../../tests/data/tricky_labels.prom");
