//! The proxy's side towards the origin: TCP connections timed as the native client times them (DNS,
//! connect), and HTTP/1.1 connections on top, one per FFmpeg connection.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::ProxyConfig;
use crate::stats::ErrorClass;

/// Why the origin could not be reached: its class and a message for the log.
pub type Failure = (ErrorClass, String);

/// A TCP connection to the origin and what opening it took.
pub struct Opened<S> {
    pub stream: S,
    pub dns: Option<Duration>,
    pub connect: Duration,
}

/// Resolves `host` (unless `--resolve` or an IP literal) and connects, within the timeout for each.
pub async fn connect(config: &ProxyConfig, host: &str, port: u16) -> Result<Opened<TcpStream>, Failure> {
    let limit = config.timeout;
    let bare = host.trim_matches(['[', ']']);
    let mut dns = None;
    let addr = match (config.resolve, bare.parse::<IpAddr>()) {
        (Some(ip), _) | (None, Ok(ip)) => SocketAddr::new(ip, port),
        (None, Err(_)) => {
            let t = Instant::now();
            let found = timeout(limit, tokio::net::lookup_host((bare, port))).await;
            dns = Some(t.elapsed());
            match found {
                Err(_) => return Err((ErrorClass::Timeout, format!("DNS lookup of {host} timed out"))),
                Ok(Err(e)) => return Err((ErrorClass::Dns, format!("{host}: {e}"))),
                Ok(Ok(mut addrs)) => addrs.next().ok_or_else(|| (ErrorClass::Dns, format!("{host}: no address")))?,
            }
        }
    };
    let t = Instant::now();
    let stream = match timeout(limit, TcpStream::connect(addr)).await {
        Err(_) => return Err((ErrorClass::Timeout, format!("connect to {addr} timed out"))),
        Ok(Err(e)) => return Err((ErrorClass::Connect, format!("{addr}: {e}"))),
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    Ok(Opened { stream, dns, connect: t.elapsed() })
}

/// An HTTP/1.1 connection to one origin (host, port). Its driver runs in a task of its own on the
/// viewer's runtime and ends when the connection closes or the sender is dropped.
pub struct UpConn {
    pub origin: (String, u16),
    pub sender: SendRequest<Full<Bytes>>,
}

impl UpConn {
    pub fn usable_for(&self, origin: &(String, u16)) -> bool {
        &self.origin == origin && !self.sender.is_closed()
    }
}

/// Opens an HTTP/1.1 connection to `origin`.
pub async fn open(config: &ProxyConfig, origin: &(String, u16)) -> Result<Opened<UpConn>, Failure> {
    let tcp = connect(config, &origin.0, origin.1).await?;
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(tcp.stream))
        .await
        .map_err(|e| (ErrorClass::Other, format!("HTTP handshake: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(Opened { stream: UpConn { origin: origin.clone(), sender }, dns: tcp.dns, connect: tcp.connect })
}
