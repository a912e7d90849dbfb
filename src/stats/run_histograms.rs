//! The whole-run histograms, in a form a report can carry and merge without loss.
//!
//! Serialized as a map from metric name (e.g. `ttfb_us.segment`) to HdrHistogram's V2 deflate
//! encoding in base64, the format of HdrHistogram interval logs, so other HdrHistogram tools read
//! them too. Merging reports from several machines is adding these histograms and the [`Counts`].
//!
//! [`Counts`]: super::counts::Counts

use super::base64;
use super::histograms::{HistSet, Metric, Percentiles};
use hdrhistogram::serialization::{
    DeserializeError, Deserializer as HdrDeserializer, Serializer as _, V2DeflateSerializeError, V2DeflateSerializer,
};
use hdrhistogram::{AdditionError, Histogram};
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// Errors of encoding, decoding and merging run histograms; each names the histogram.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("unknown histogram `{0}` (expected names like `ttfb_us.segment`)")]
    UnknownMetric(String),
    #[error("histogram `{metric}` is not valid base64")]
    Base64 { metric: String },
    #[error("histogram `{metric}` is not a valid HdrHistogram V2 encoding")]
    Decode {
        metric: String,
        #[source]
        source: DeserializeError,
    },
    #[error("histogram `{metric}` could not be encoded")]
    Encode {
        metric: String,
        #[source]
        source: V2DeflateSerializeError,
    },
    #[error("histogram `{metric}` holds values outside this build's range")]
    Merge {
        metric: String,
        #[source]
        source: AdditionError,
    },
}

/// Whole-run histograms: dense HdrHistograms in recorded units.
#[derive(Clone, Debug, Default)]
pub struct RunHistograms {
    set: HistSet,
}

impl RunHistograms {
    pub(crate) fn new(set: HistSet) -> RunHistograms {
        RunHistograms { set }
    }

    /// The histogram of `metric` in recorded units (microseconds, bytes/s), if it has samples.
    pub fn get(&self, metric: Metric) -> Option<&Histogram<u64>> {
        self.set.get(metric).filter(|h| !h.is_empty())
    }

    /// Percentiles of `metric` in reported units (milliseconds, bytes/s).
    pub fn percentiles(&self, metric: Metric) -> Option<Percentiles> {
        self.get(metric).and_then(|h| Percentiles::of(h, metric))
    }

    /// Metrics that have samples.
    pub fn metrics(&self) -> impl Iterator<Item = Metric> + '_ {
        self.set.iter().map(|(m, _)| m)
    }

    /// Adds `other` (another machine's run, or another process's).
    pub fn merge(&mut self, other: &RunHistograms) -> Result<(), StatsError> {
        let set = &mut self.set;
        for (metric, h) in other.set.iter() {
            set.get_or_insert(metric).add(h).map_err(|source| StatsError::Merge { metric: metric.name(), source })?;
        }
        Ok(())
    }

    /// Metric name to base64 of the V2 deflate encoding, for histograms with samples.
    pub fn encode(&self) -> Result<BTreeMap<String, String>, StatsError> {
        let mut serializer = V2DeflateSerializer::new();
        let mut out = BTreeMap::new();
        for (metric, h) in self.set.iter() {
            let mut bytes = Vec::new();
            serializer
                .serialize(h, &mut bytes)
                .map_err(|source| StatsError::Encode { metric: metric.name(), source })?;
            out.insert(metric.name(), base64::encode(&bytes));
        }
        Ok(out)
    }

    /// The inverse of [`RunHistograms::encode`]. Each histogram is added into one of this build's
    /// range, so decoded histograms merge with local ones.
    pub fn decode(encoded: &BTreeMap<String, String>) -> Result<RunHistograms, StatsError> {
        let mut deserializer = HdrDeserializer::new();
        let mut set = HistSet::default();
        for (name, text) in encoded {
            let metric = Metric::from_name(name).ok_or_else(|| StatsError::UnknownMetric(name.clone()))?;
            let bytes = base64::decode(text).ok_or_else(|| StatsError::Base64 { metric: name.clone() })?;
            let h: Histogram<u64> = deserializer
                .deserialize(&mut &bytes[..])
                .map_err(|source| StatsError::Decode { metric: name.clone(), source })?;
            set.get_or_insert(metric).add(&h).map_err(|source| StatsError::Merge { metric: name.clone(), source })?;
        }
        Ok(RunHistograms { set })
    }
}

impl PartialEq for RunHistograms {
    /// Same samples in every metric (bucket by bucket).
    fn eq(&self, other: &Self) -> bool {
        Metric::all().all(|m| match (self.get(m), other.get(m)) {
            (None, None) => true,
            (Some(a), Some(b)) => a == b,
            _ => false,
        })
    }
}

impl Serialize for RunHistograms {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.encode().map_err(S::Error::custom)?.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RunHistograms {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let encoded = BTreeMap::<String, String>::deserialize(d)?;
        RunHistograms::decode(&encoded).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::record::Kind;

    fn sample(values: impl IntoIterator<Item = u64>) -> RunHistograms {
        let mut set = HistSet::default();
        for v in values {
            set.record(Metric::Ttfb(Kind::Segment), v);
            set.record(Metric::SegmentThroughput, v * 1000);
        }
        RunHistograms::new(set)
    }

    #[test]
    fn json_round_trip_is_lossless() {
        let run = sample((1..=5000).map(|v| v * 37));
        let json = serde_json::to_string(&run).unwrap();
        assert!(json.contains("\"ttfb_us.segment\":\"HISTF"), "{json:.80}");
        let back: RunHistograms = serde_json::from_str(&json).unwrap();
        assert_eq!(back, run);
        assert_eq!(back.metrics().count(), 2);
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let mut a = sample(1..=1000);
        a.merge(&sample(1001..=3000)).unwrap();
        assert_eq!(a, sample(1..=3000));
        let p = a.percentiles(Metric::Ttfb(Kind::Segment)).unwrap();
        assert_eq!(p.count, 3000);
    }

    #[test]
    fn bad_input_names_the_histogram() {
        let mut map = BTreeMap::new();
        map.insert("ttfb_us.segment".to_owned(), "not base64!".to_owned());
        let err = RunHistograms::decode(&map).unwrap_err();
        assert!(err.to_string().contains("ttfb_us.segment"));
        map.clear();
        map.insert("bogus".to_owned(), String::new());
        assert!(matches!(RunHistograms::decode(&map), Err(StatsError::UnknownMetric(_))));
        map.clear();
        map.insert("startup_us".to_owned(), "AAAA".to_owned());
        assert!(matches!(RunHistograms::decode(&map), Err(StatsError::Decode { .. })));
    }
}
