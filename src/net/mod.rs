//! HTTP client with phase timings (HTTP/1.1; HTTP/2 by ALPN when asked). One [`Loader`] is one
//! keep-alive connection slot, as a player's playlist loader or segment loader holds one; every request
//! returns a [`Fetch`] with what was measured, whatever happened. [`range`] judges the answer to a
//! byte-range request.

mod client;
pub mod link;
pub mod range;
pub mod server;
mod shape;
mod tls;

pub use client::{BodyMode, Fetch, H2Pool, Loader, NetConfig, NetError, Progress, Timings};
pub(crate) use client::{classify, never_sent};
pub use link::{Link, NetworkPlan};
pub use shape::{Shaper, Trace};
pub use tls::client_config;

use crate::stats::ErrorClass;

impl NetError {
    /// The error class reports group this failure under.
    pub fn class(&self) -> ErrorClass {
        match self {
            NetError::Dns(_) => ErrorClass::Dns,
            NetError::Connect(_) => ErrorClass::Connect,
            NetError::Tls(_) => ErrorClass::Tls,
            NetError::Timeout => ErrorClass::Timeout,
            NetError::Reset(_) => ErrorClass::Reset,
            NetError::Truncated { .. } => ErrorClass::Truncated,
            NetError::RedirectLoop(_) => ErrorClass::RedirectLoop,
            NetError::TooLarge(_) => ErrorClass::PlaylistParse,
            NetError::Other(_) => ErrorClass::Other,
            NetError::Abandoned => ErrorClass::Abandoned,
        }
    }
}
