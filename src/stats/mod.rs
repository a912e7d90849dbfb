//! The measurement core: records, the recorder viewers write to, and the aggregator that owns
//! time windows and publishes immutable snapshots.
//!
//! ```text
//! viewer tasks / measuring proxy
//!     |  RequestRecord, PlaybackEvent
//!     v
//! Recorder        atomic counters + sharded HdrHistograms; never waits on a consumer
//!     |  Aggregator::tick(now), once a second: the only place intervals rotate
//!     v
//! Arc<Snapshot>   windows 1 s / 30 s / 60 s / 300 s / run, timeline, whole-run histograms
//!     |  watch channel: every consumer reads, none drains
//!     v
//! TUI, Prometheus, progress lines, final report
//! ```
//!
//! Files: [`record`] (input types), [`counts`] (raw counters), [`histograms`] (metrics, dense
//! sets, percentiles), `packed` (occupied buckets, for the ring and the windows), [`recorder`],
//! [`window`] (window stats and accumulators), [`timeline`], [`run_histograms`] (lossless
//! serialization and merging), [`variants`] (whole-run figures per rendition), [`snapshot`],
//! [`aggregator`].

pub mod aggregator;
mod base64;
pub mod counts;
pub mod generator;
pub mod histograms;
mod packed;
pub mod record;
pub mod recorder;
pub mod run_histograms;
pub mod snapshot;
pub mod timeline;
pub mod variants;
pub mod window;

#[cfg(test)]
mod tests;

pub use aggregator::{Aggregator, Footprint};
pub use counts::{Counts, ErrorCounts, KindCounts, PerKind, PlaybackCounts, StatusCounts};
pub use generator::GeneratorStats;
pub use histograms::{Metric, Percentiles};
pub use record::{ErrorClass, Hold, Kind, PlaybackEvent, RequestRecord, StatusClass, Timings};
pub use recorder::{Gauges, Recorder};
pub use run_histograms::{RunHistograms, StatsError};
pub use snapshot::{Snapshot, Windows};
pub use timeline::{ClassCount, KindTimes, OriginSecond, Timeline, TimelinePoint};
pub use variants::{MAX_RENDITIONS, NO_VARIANT, VariantStats};
pub use window::{ConnectionStats, KindStats, PlaybackStats, Window, WindowStats};
