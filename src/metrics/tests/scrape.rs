//! The scraper end to end against a scripted exporter on 127.0.0.1:0: figures appear, a failing or
//! hanging exporter makes its source stale while the last good figures stay, a dead port is reported,
//! the built-in origin's counters are read in-process, and `stop` ends the task.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::time::timeout;
use url::Url;

use crate::metrics::origin_view::OriginView;
use crate::metrics::{ScrapeConfig, spawn_scraper};
use crate::net::{BodyMode, Loader, NetConfig};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Serve,
    Status(u16),
    Hang,
}

/// A node_exporter stand-in: 2 CPUs, each busy 0.01 s more per page, memory 25 % used.
struct FakeExporter {
    url: Url,
    mode: Arc<Mutex<Mode>>,
}

impl FakeExporter {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/metrics", listener.local_addr().unwrap())).unwrap();
        let mode = Arc::new(Mutex::new(Mode::Serve));
        let (shared, hits) = (mode.clone(), Arc::new(Mutex::new(0u64)));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (mode, hits) = (shared.clone(), hits.clone());
                let service = service_fn(move |_req| {
                    let (mode, hits) = (mode.clone(), hits.clone());
                    async move { Ok::<_, std::convert::Infallible>(respond(&mode, &hits).await) }
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        Self { url, mode }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }
}

async fn respond(mode: &Mutex<Mode>, hits: &Mutex<u64>) -> http::Response<Full<bytes::Bytes>> {
    let current = *mode.lock().unwrap();
    match current {
        Mode::Hang => std::future::pending().await,
        Mode::Status(code) => http::Response::builder().status(code).body(Full::from("down")).unwrap(),
        Mode::Serve => {
            let n = {
                let mut h = hits.lock().unwrap();
                *h += 1;
                *h as f64
            };
            let mut page = String::from("node_memory_MemAvailable_bytes 6e9\nnode_memory_MemTotal_bytes 8e9\n");
            for cpu in 0..2 {
                page += &format!("node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"idle\"}} {}\n", 1000.0 + n);
                page += &format!("node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"user\"}} {}\n", 500.0 + n / 100.0);
            }
            http::Response::new(Full::from(page))
        }
    }
}

fn config(node: Option<Url>) -> ScrapeConfig {
    ScrapeConfig { node, nginx: None, interval: Duration::from_millis(100), window: Duration::from_secs(1) }
}

/// Waits (10 s at most) for a published view that satisfies `ok`.
async fn wait_for(
    rx: &mut watch::Receiver<Arc<OriginView>>,
    what: &str,
    ok: impl Fn(&OriginView) -> bool,
) -> Arc<OriginView> {
    let wait = async {
        loop {
            let view = rx.borrow_and_update().clone();
            if ok(&view) {
                return view;
            }
            rx.changed().await.expect("the scraper is running");
        }
    };
    timeout(Duration::from_secs(10), wait).await.unwrap_or_else(|_| panic!("no view where {what} within 10 s"))
}

#[tokio::test]
async fn a_failing_or_hanging_exporter_goes_stale_and_keeps_its_figures() {
    let exporter = FakeExporter::start().await;
    let (tx, mut rx) = watch::channel(Arc::new(OriginView::default()));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = spawn_scraper(config(Some(exporter.url.clone())), None, tx, async move {
        let _ = stop_rx.await;
    });
    let good = wait_for(&mut rx, "cpu is known, fresh", |v| {
        v.host.as_ref().is_some_and(|h| h.cpu_percent.is_some() && !h.source.stale)
    })
    .await;
    let host = good.host.as_ref().unwrap();
    assert_eq!(host.source.last_error, None);
    assert_eq!(host.source.url, exporter.url.as_str());
    assert!((0.0..=100.0).contains(&host.cpu_percent.unwrap().now));
    assert_eq!(host.memory_used_percent.map(|s| s.now), Some(25.0));

    exporter.set(Mode::Status(500));
    let stale = wait_for(&mut rx, "stale", |v| v.host.as_ref().is_some_and(|h| h.source.stale)).await;
    let host = stale.host.as_ref().unwrap();
    assert_eq!(host.source.last_error.as_deref(), Some("HTTP 500"));
    assert!(host.source.last_ok_ago.is_some());
    assert!(host.cpu_percent.is_some(), "the last good figures stay");
    assert_eq!(host.memory_used_percent.map(|s| s.now), Some(25.0));

    exporter.set(Mode::Serve);
    wait_for(&mut rx, "fresh again", |v| v.host.as_ref().is_some_and(|h| !h.source.stale)).await;
    exporter.set(Mode::Hang);
    let hung = wait_for(&mut rx, "timed out", |v| {
        v.host.as_ref().is_some_and(|h| h.source.last_error.as_deref().is_some_and(|e| e.contains("no answer")))
    })
    .await;
    assert!(hung.host.as_ref().unwrap().source.stale);
    assert_eq!(hung.host.as_ref().unwrap().memory_used_percent.map(|s| s.now), Some(25.0));

    stop_tx.send(()).unwrap();
    timeout(Duration::from_secs(5), task).await.expect("stop ends the scraper").unwrap();
}

#[tokio::test]
async fn a_dead_port_is_stale_from_the_start() {
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let url = Url::parse(&format!("http://127.0.0.1:{port}/metrics")).unwrap();
    let (tx, mut rx) = watch::channel(Arc::new(OriginView::default()));
    let task = spawn_scraper(config(Some(url)), None, tx, std::future::pending());
    let view = wait_for(&mut rx, "stale", |v| v.host.as_ref().is_some_and(|h| h.source.stale)).await;
    let host = view.host.as_ref().unwrap();
    assert!(host.source.last_error.as_deref().unwrap().contains("connect failed"), "{:?}", host.source);
    assert_eq!((host.source.last_ok_ago, host.cpu_percent, host.memory_used_percent), (None, None, None));
    assert!(view.nginx.is_none() && view.builtin.is_none());
    task.abort();
}

#[tokio::test]
async fn the_builtin_origin_is_read_in_process() {
    let origin = crate::origin::spawn(crate::origin::OriginConfig::local_default()).await.unwrap();
    let (tx, mut rx) = watch::channel(Arc::new(OriginView::default()));
    let task = spawn_scraper(config(None), Some(origin.counters().clone()), tx, std::future::pending());
    let mut loader = Loader::new(Arc::new(NetConfig::with_defaults().unwrap()));
    let url = Url::parse(origin.url()).unwrap().join("master.m3u8").unwrap();
    for _ in 0..3 {
        assert_eq!(loader.get(&url, BodyMode::Collect { limit: 1 << 20 }).await.status, Some(200));
    }
    let view = wait_for(&mut rx, "3 requests and a rate", |v| {
        v.builtin.as_ref().is_some_and(|b| b.requests_total >= 3 && b.requests_per_s.is_some())
    })
    .await;
    let b = view.builtin.as_ref().unwrap();
    assert!(b.body_bytes_total > 0);
    assert_eq!((b.segment_requests_total, b.connections_active), (0, 1));
    assert!(view.host.is_none() && view.nginx.is_none());
    task.abort();
    origin.shutdown().await;
}

#[tokio::test]
async fn nothing_to_scrape_ends_at_once() {
    let (tx, rx) = watch::channel(Arc::new(OriginView::default()));
    let task = spawn_scraper(config(None), None, tx, std::future::pending());
    timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
    assert!(rx.borrow().is_empty());
}
