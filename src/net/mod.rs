//! HTTP client with phase timings. One [`Loader`] is one keep-alive connection slot, as a player's
//! playlist loader or segment loader holds one; every request returns a [`Fetch`] with what was measured,
//! whatever happened.

mod client;
mod tls;

pub use client::{BodyMode, Fetch, Loader, NetConfig, NetError, Timings};
pub use tls::client_config;
