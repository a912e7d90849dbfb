//! The JSON listings (`/files/json/`, `/<track>/files/json/`): the media files present now, as nginx's
//! `autoindex_format json` lists a packager's folder, for tools written against such an origin.

use std::time::Instant;

use super::playlist;
use super::server::{OriginState, first_of_resource};

/// The media files present now (segments, or byte-range resources), as nginx `autoindex_format json`
/// lists them.
pub(super) fn listing(state: &OriginState, track: usize) -> String {
    #[derive(serde::Serialize)]
    struct Entry {
        name: String,
        #[serde(rename = "type")]
        kind: &'static str,
        mtime: String,
        size: u64,
    }
    let now = Instant::now();
    let produced = state.clock.produced(now);
    let oldest = state.clock.oldest_servable(now);
    let cache = &state.tracks[track].cache;
    let container = state.params.container;
    let file = |name: String, last: u64, size: u64| Entry {
        name,
        kind: "file",
        mtime: httpdate::fmt_http_date(state.clock.completed_at(last)),
        size,
    };
    let entries: Vec<Entry> = match state.params.byterange {
        None => (oldest..produced)
            .map(|i| file(playlist::segment_name(state.params.start_sequence + i, container), i, cache.len(i, oldest)))
            .collect(),
        Some(n) => {
            let keep = first_of_resource(state, oldest);
            (oldest / n..produced.div_ceil(n))
                .map(|r| {
                    let end = (r * n + n).min(produced);
                    let size = (r * n..end).map(|i| cache.len(i, keep)).sum();
                    file(playlist::resource_name(r, container), end - 1, size)
                })
                .collect()
        }
    };
    serde_json::to_string(&entries).unwrap_or_else(|_| "[]".into())
}
