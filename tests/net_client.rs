//! The client's keep-alive: a loader keeps one connection across requests (plain and TLS), and opens a
//! new one exactly when the server ends the old one (`Connection: close`, HTTP/1.0, a close while idle,
//! bytes nobody asked for, a cut body), without counting an error where a player would see none.
//!
//! The server is scripted on raw TCP so that each of those behaviours is exact.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hls_swarm::net::{BodyMode, Fetch, Loader, NetConfig, NetError, Progress};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use url::Url;

/// What the server saw, and a hand on when it closes a held connection.
#[derive(Clone)]
struct Log {
    connections: Arc<AtomicUsize>,
    paths: Arc<std::sync::Mutex<Vec<String>>>,
    /// Lets the connection that answered `/hold` close.
    release: Arc<tokio::sync::Notify>,
    closed: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<()>>>,
}

impl Log {
    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn requests_for(&self, path: &str) -> usize {
        self.paths.lock().unwrap().iter().filter(|p| *p == path).count()
    }

    /// Closes the connection held after `/hold` and waits until it is closed.
    async fn close_held(&self) {
        self.release.notify_one();
        self.closed.lock().await.recv().await.expect("server running");
    }
}

/// The server side of [`Log`].
#[derive(Clone)]
struct Script {
    paths: Arc<std::sync::Mutex<Vec<String>>>,
    release: Arc<tokio::sync::Notify>,
    closed: mpsc::UnboundedSender<()>,
}

/// Reads one request head; `None` at EOF.
async fn read_head<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            return Some(head);
        }
        let mut chunk = [0u8; 1024];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Answers requests on one connection by path until the script or the client ends it.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, script: Script) {
    let mut buf = Vec::new();
    while let Some(head) = read_head(&mut s, &mut buf).await {
        let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
        script.paths.lock().unwrap().push(path.clone());
        let (reply, then_close): (&[u8], bool) = match path.as_str() {
            "/ok" | "/hold" => (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", path == "/hold"),
            "/chunked" => (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false),
            "/close" => (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello", true),
            "/http10" => (b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", true),
            "/http10-keep" => (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 5\r\n\r\nhello", false),
            "/to-eof" => (b"HTTP/1.1 200 OK\r\n\r\nhello", true),
            "/extra" => (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloXYZ", false),
            "/short" => (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", true),
            "/redirect" => (b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\n\r\n", false),
            // Half a body, then nothing more (the connection stays open).
            "/stalled" => (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", false),
            "/to-stalled" => (b"HTTP/1.1 302 Found\r\nLocation: /stalled\r\nContent-Length: 3\r\n\r\nabc", false),
            // A 304 has no body, whatever its Content-Length says (RFC 9110 8.6).
            "/not-modified" => (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", false),
            // No answer: the client times out.
            "/silent" => continue,
            // Read, then gone without a word: the server got the request.
            "/vanish" => return,
            _ => (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false),
        };
        if s.write_all(reply).await.is_err() || s.flush().await.is_err() {
            break;
        }
        if then_close {
            if path == "/hold" {
                script.release.notified().await;
            }
            let _ = s.shutdown().await;
            drop(s);
            let _ = script.closed.send(());
            return;
        }
    }
}

fn self_signed(alpn: &[&[u8]]) -> tokio_rustls::TlsAcceptor {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// A scripted server on 127.0.0.1:0; with `tls`, behind a self-signed certificate (no ALPN: it speaks
/// HTTP/1.1 only).
async fn server(tls: bool) -> (Url, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let log = Log {
        connections: Arc::default(),
        paths: Arc::default(),
        release: Arc::default(),
        closed: Arc::new(tokio::sync::Mutex::new(rx)),
    };
    let script = Script { paths: log.paths.clone(), release: log.release.clone(), closed: tx };
    let acceptor = tls.then(|| self_signed(&[]));
    let connections = log.connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            connections.fetch_add(1, Ordering::SeqCst);
            let script = script.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                match acceptor {
                    Some(a) => {
                        if let Ok(s) = a.accept(stream).await {
                            serve(s, script).await
                        }
                    }
                    None => serve(stream, script).await,
                }
            });
        }
    });
    let scheme = if tls { "https" } else { "http" };
    let host = if tls { "localhost" } else { "127.0.0.1" };
    (Url::parse(&format!("{scheme}://{host}:{}/", addr.port())).unwrap(), log)
}

fn loader(insecure: bool) -> Loader {
    tls_loader(insecure, false)
}

/// With `insecure`, accepts the test's self-signed certificate; with `http2`, offers h2 by ALPN.
fn tls_loader(insecure: bool, http2: bool) -> Loader {
    let mut config = NetConfig::with_defaults().unwrap();
    config.tls = hls_swarm::net::client_config(insecure, http2).unwrap();
    if insecure {
        config.resolve = Some("127.0.0.1".parse().unwrap());
    }
    Loader::new(Arc::new(config))
}

async fn get(loader: &mut Loader, base: &Url, path: &str) -> Fetch {
    loader.get(&base.join(path).unwrap(), BodyMode::Collect { limit: 1024 }).await
}

fn assert_ok(f: &Fetch) {
    assert_eq!(f.error, None, "{}", f.url);
    assert_eq!(f.status, Some(200), "{}", f.url);
    assert_eq!(f.body.as_deref(), Some(&b"hello"[..]), "{}", f.url);
}

#[tokio::test]
async fn one_connection_carries_every_request() {
    let (base, log) = server(false).await;
    let mut l = loader(false);
    for i in 0..40 {
        // More than 32 requests: past the point where hyper's request channel would grow.
        let f = get(&mut l, &base, if i % 2 == 0 { "/ok" } else { "/chunked" }).await;
        assert_ok(&f);
        assert_eq!(f.timings.connect.is_some(), i == 0, "request {i} connected anew");
    }
    assert_eq!(log.connections(), 1);
}

#[tokio::test]
async fn tls_connection_is_kept_alive() {
    let (base, log) = server(true).await;
    let mut l = loader(true);
    for i in 0..5 {
        let f = get(&mut l, &base, "/ok").await;
        assert_ok(&f);
        assert_eq!(f.timings.tls.is_some(), i == 0, "request {i} shook hands anew");
    }
    assert_eq!(log.connections(), 1);
}

#[tokio::test]
async fn a_connection_the_server_ends_is_replaced_without_an_error() {
    for path in ["/close", "/http10", "/to-eof"] {
        let (base, log) = server(false).await;
        let mut l = loader(false);
        for _ in 0..3 {
            let f = get(&mut l, &base, path).await;
            assert_ok(&f);
            assert!(f.timings.connect.is_some(), "{path}: no new connection");
            assert!(!f.reconnected, "{path}: a connection the server ended was kept and tried again");
        }
        assert_eq!(log.connections(), 3, "{path}");
    }
}

#[tokio::test]
async fn http10_with_keep_alive_is_reused() {
    let (base, log) = server(false).await;
    let mut l = loader(false);
    for _ in 0..3 {
        assert_ok(&get(&mut l, &base, "/http10-keep").await);
    }
    assert_eq!(log.connections(), 1);
}

#[tokio::test]
async fn a_kept_connection_closed_while_idle_is_retried_once() {
    let (base, log) = server(false).await;
    let mut l = loader(false);
    let f = get(&mut l, &base, "/hold").await;
    assert_ok(&f);
    assert!(!f.reconnected);
    log.close_held().await;
    let f = get(&mut l, &base, "/ok").await;
    assert_ok(&f);
    assert!(f.reconnected, "the kept connection was tried, found closed, and replaced");
    assert!(f.timings.connect.is_some(), "the retry opened a connection");
    assert_eq!(log.connections(), 2);
    assert_eq!(log.requests_for("/ok"), 1, "the request reached the server once");
}

#[tokio::test]
async fn a_timeout_on_a_kept_connection_is_not_sent_again() {
    let (base, log) = server(false).await;
    let mut config = NetConfig::with_defaults().unwrap();
    config.timeout = std::time::Duration::from_secs(1);
    let mut l = Loader::new(Arc::new(config));
    assert_ok(&get(&mut l, &base, "/ok").await);
    let f = get(&mut l, &base, "/silent").await;
    assert_eq!(f.error, Some(NetError::Timeout));
    assert!(!f.reconnected);
    assert_eq!(log.requests_for("/silent"), 1, "a timed-out request was sent again");
    assert_eq!(log.connections(), 1);
}

#[tokio::test]
async fn a_request_the_server_received_is_not_sent_again() {
    let (base, log) = server(false).await;
    let mut l = loader(false);
    assert_ok(&get(&mut l, &base, "/ok").await);
    // On the kept connection the server reads the request and closes: it may have acted on it, so
    // the request is a failure, not retried unseen.
    let f = get(&mut l, &base, "/vanish").await;
    assert!(matches!(f.error, Some(NetError::Reset(_))), "{:?}", f.error);
    assert!(!f.reconnected);
    assert_eq!(log.requests_for("/vanish"), 1, "a request the server received was sent again");
    assert_eq!(log.connections(), 1);
}

#[tokio::test]
async fn a_304_has_no_body_whatever_its_content_length() {
    let (base, log) = server(false).await;
    let mut l = loader(false);
    let f = get(&mut l, &base, "/not-modified").await;
    assert_eq!((f.status, f.error, f.body_bytes), (Some(304), None, 0));
    assert_ok(&get(&mut l, &base, "/ok").await);
    assert_eq!(log.connections(), 1);
}

#[tokio::test]
async fn bytes_after_a_response_end_its_connection() {
    let (base, log) = server(false).await;
    let mut l = loader(false);
    assert_ok(&get(&mut l, &base, "/extra").await);
    let f = get(&mut l, &base, "/ok").await;
    assert_ok(&f);
    assert!(f.timings.connect.is_some());
    assert_eq!(log.connections(), 2);
}

#[tokio::test]
async fn a_cut_body_is_truncated_and_its_connection_dropped() {
    let (base, log) = server(false).await;
    let mut l = loader(false);
    let f = get(&mut l, &base, "/short").await;
    assert_eq!(f.error, Some(NetError::Truncated { got: 5, expected: 10 }));
    assert_ok(&get(&mut l, &base, "/ok").await);
    assert_eq!(log.connections(), 2);
}

#[tokio::test]
async fn a_redirect_to_the_same_origin_reuses_the_connection() {
    let (base, log) = server(false).await;
    let mut l = loader(false);
    let f = get(&mut l, &base, "/redirect").await;
    assert_ok(&f);
    assert_eq!(f.url.path(), "/ok");
    assert_eq!(log.connections(), 1);
}

/// A hyper server behind TLS that offers h2 and http/1.1 by ALPN. `/ok` answers "hello"; `/bye` answers
/// too, then shuts its connection down gracefully (HTTP/2 GOAWAY, or close after the response).
async fn h2_server() -> (Url, Arc<AtomicUsize>) {
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = self_signed(&[b"h2", b"http/1.1"]);
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else { return };
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                let bye = Arc::new(tokio::sync::Notify::new());
                let said_bye = bye.clone();
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let said_bye = said_bye.clone();
                    async move {
                        if req.uri().path() == "/bye" {
                            said_bye.notify_one();
                        }
                        let version = format!("{:?}", req.version());
                        Ok::<_, std::convert::Infallible>(
                            http::Response::builder()
                                .header("x-version", version)
                                .body(http_body_util::Full::new(bytes::Bytes::from_static(b"hello")))
                                .unwrap(),
                        )
                    }
                });
                let io = TokioIo::new(tls);
                if h2 {
                    let conn =
                        hyper::server::conn::http2::Builder::new(TokioExecutor::new()).serve_connection(io, service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => return,
                        _ = bye.notified() => conn.as_mut().graceful_shutdown(),
                    }
                    let _ = conn.await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                }
            });
        }
    });
    (Url::parse(&format!("https://localhost:{port}/")).unwrap(), connections)
}

#[tokio::test]
async fn http2_by_alpn_keeps_one_connection() {
    let (base, connections) = h2_server().await;
    let mut l = tls_loader(true, true);
    for i in 0..40 {
        let f = get(&mut l, &base, "/ok").await;
        assert_ok(&f);
        assert_eq!(f.version, Some(http::Version::HTTP_2), "request {i}");
        assert_eq!(f.timings.tls.is_some(), i == 0, "request {i} shook hands anew");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn without_http2_the_same_server_is_spoken_to_in_http1() {
    let (base, connections) = h2_server().await;
    let mut l = tls_loader(true, false);
    for _ in 0..3 {
        let f = get(&mut l, &base, "/ok").await;
        assert_ok(&f);
        assert_eq!(f.version, Some(http::Version::HTTP_11));
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn http2_offered_to_an_http1_server_falls_back() {
    let (base, log) = server(true).await;
    let mut l = tls_loader(true, true);
    for _ in 0..3 {
        let f = get(&mut l, &base, "/ok").await;
        assert_ok(&f);
        assert_eq!(f.version, Some(http::Version::HTTP_11));
    }
    assert_eq!(log.connections(), 1);
}

#[tokio::test]
async fn an_http2_connection_the_server_ends_is_replaced_without_an_error() {
    let (base, connections) = h2_server().await;
    let mut l = tls_loader(true, true);
    assert_ok(&get(&mut l, &base, "/bye").await);
    // The GOAWAY may reach the client before or after its next request: either way no error.
    for _ in 0..3 {
        let f = get(&mut l, &base, "/ok").await;
        assert_ok(&f);
        assert_eq!(f.version, Some(http::Version::HTTP_2));
    }
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

/// A watched download (`Loader::watched`) whose body stalls: given up at once when its viewer abandons
/// it, not at the idle timeout, with the bytes it got; the progress counts the last hop of a redirect
/// only (the redirect's own body is not the segment's).
#[tokio::test]
async fn an_abandoned_download_ends_at_once_wherever_it_waits() {
    let (base, log) = server(false).await;
    for path in ["/stalled", "/to-stalled"] {
        let mut l = loader(false);
        let progress = Arc::new(Progress::default());
        l.watched(Some(progress.clone()));
        let watcher = async {
            while progress.loaded() < 5 {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            assert_eq!((progress.loaded(), progress.expected()), (5, Some(10)), "{path}: the segment's hop");
            progress.abandon();
        };
        let url = base.join(path).unwrap();
        let both = async { tokio::join!(l.get(&url, BodyMode::Discard), watcher) };
        let (f, ()) = tokio::time::timeout(std::time::Duration::from_secs(5), both).await.expect("abandoned in time");
        assert_eq!(f.error, Some(NetError::Abandoned), "{path}");
        // The fetch's bytes are every hop's, as ever: what came over the wire for the request.
        let hops_bytes = if path == "/to-stalled" { 8 } else { 5 };
        assert_eq!((f.url.path(), f.body_bytes), ("/stalled", hops_bytes), "{path}");
    }
    // Before the head: a request the server never answers.
    let mut l = loader(false);
    let progress = Arc::new(Progress::default());
    l.watched(Some(progress.clone()));
    progress.abandon();
    let f = get(&mut l, &base, "/silent").await;
    assert_eq!((f.error, f.status), (Some(NetError::Abandoned), None));
    assert_eq!(log.requests_for("/stalled"), 2);
    // The next request is not watched: it is not abandoned.
    assert_ok(&get(&mut l, &base, "/ok").await);
}

/// `--source-addrs`: each new connection comes from the next local address, as the server sees it.
#[tokio::test]
async fn connections_come_from_the_source_addresses_in_turn() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/x", listener.local_addr().unwrap())).unwrap();
    let peers = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = peers.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, peer) = listener.accept().await.unwrap();
            seen.lock().unwrap().push(peer.ip().to_string());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                if read_head(&mut s, &mut buf).await.is_some() {
                    let _ =
                        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello").await;
                }
            });
        }
    });
    let sources = ["127.0.0.2", "127.0.0.3"].map(|a| a.parse().unwrap()).to_vec();
    let config =
        NetConfig { sources: hls_swarm::net::SourceAddrs::new(sources), ..NetConfig::with_defaults().unwrap() };
    let mut loader = Loader::new(Arc::new(config));
    for _ in 0..4 {
        assert_ok(&loader.get(&url, BodyMode::Collect { limit: 1024 }).await);
    }
    assert_eq!(*peers.lock().unwrap(), ["127.0.0.2", "127.0.0.3", "127.0.0.2", "127.0.0.3"]);
}
