//! HTTP client with phase timings (HTTP/1.1; HTTP/2 by ALPN when asked). One [`Loader`] is one
//! keep-alive connection slot, as a player's playlist loader or segment loader holds one; every request
//! returns a [`Fetch`] with what was measured, whatever happened. [`range`] judges the answer to a
//! byte-range request.

mod client;
mod clock;
pub mod link;
pub mod range;
pub mod server;
mod shape;
mod tls;

pub use client::{BodyMode, Fetch, H2Pool, Loader, NetConfig, NetError, Progress, SourceAddrs, Timings};
pub(crate) use client::{classify, never_sent};
pub use clock::{ClockOffset, TargetClock};
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
            NetError::LocalLimit(_) => ErrorClass::LocalLimit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_files_or_ports_is_the_generators_own_limit() {
        let addr: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let class = |errno| client::connect_error(addr, &std::io::Error::from_raw_os_error(errno)).class();
        assert_eq!(class(libc::EMFILE), ErrorClass::LocalLimit);
        assert_eq!(class(libc::ENFILE), ErrorClass::LocalLimit);
        assert_eq!(class(libc::EADDRNOTAVAIL), ErrorClass::LocalLimit);
        assert_eq!(class(libc::ECONNREFUSED), ErrorClass::Connect);
        let text = client::connect_error(addr, &std::io::Error::from_raw_os_error(libc::EMFILE)).to_string();
        assert!(text.contains("ulimit -n"), "{text}");
    }
}
