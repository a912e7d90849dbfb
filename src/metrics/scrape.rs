//! The origin-metrics scraper: every interval it GETs node_exporter's and the nginx exporter's pages
//! (concurrently, each on its own keep-alive [`Loader`]), reads the built-in origin's counters when it
//! is the target, derives the figures (`derive`) and publishes one [`OriginView`] on a `watch`
//! channel. Consumers never wait for it; a slow or dead exporter only makes its source stale.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{MissedTickBehavior, timeout};
use url::Url;

use super::derive::{BuiltinReading, BuiltinState, HostState, NginxState, Tracker};
use super::origin_view::OriginView;
use super::text_parser::{Exposition, parse_bytes};
use crate::net::{BodyMode, Loader, NetConfig};
use crate::origin::Counters;

/// Largest exporter page read: node_exporter on a host with many disks, interfaces and cgroups sends
/// a few MB at most.
const PAGE_LIMIT: usize = 16 << 20;

/// What to scrape and how often.
#[derive(Clone, Debug)]
pub struct ScrapeConfig {
    /// node_exporter's `/metrics`.
    pub node: Option<Url>,
    /// The nginx exporter's `/metrics`.
    pub nginx: Option<Url>,
    /// Time between scrapes; also each scrape's timeout, so a round never overlaps the next.
    pub interval: Duration,
    /// Span of each figure's p50 and max.
    pub window: Duration,
}

impl ScrapeConfig {
    /// node_exporter's and the nginx exporter's default ports on `host`.
    pub fn host_defaults(host: &str) -> Result<(Url, Url), url::ParseError> {
        Ok((Url::parse(&format!("http://{host}:9100/metrics"))?, Url::parse(&format!("http://{host}:9113/metrics"))?))
    }
}

/// Starts the scraper on the current runtime. It publishes a view after every round until `stop`
/// completes; with no URL and no built-in origin it ends at once and the view stays empty.
pub fn spawn_scraper(
    config: ScrapeConfig,
    builtin: Option<Arc<Counters>>,
    tx: watch::Sender<Arc<OriginView>>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if config.node.is_none() && config.nginx.is_none() && builtin.is_none() {
            return;
        }
        let mut scraper = match Scraper::new(&config, builtin) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("origin metrics: cannot set up the HTTP client: {e}");
                return;
            }
        };
        let mut ticks = tokio::time::interval(config.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = ticks.tick() => {}
            }
            tokio::select! {
                _ = &mut stop => return,
                view = scraper.round() => { tx.send_replace(Arc::new(view)); }
            }
        }
    })
}

/// One scraped exporter: its connection, its health and what it derives.
struct Source<S> {
    url: Url,
    loader: Loader,
    tracker: Tracker,
    state: S,
}

impl<S> Source<S> {
    fn new(url: Url, net: &Arc<NetConfig>, state: S) -> Self {
        let tracker = Tracker::new(url.as_str());
        Self { url, loader: Loader::new(net.clone()), tracker, state }
    }

    /// Fetches the page and hands it to `read`; a failure of either marks the source stale.
    async fn scrape(&mut self, limit: Duration, read: fn(&mut S, Instant, &Exposition) -> Result<(), String>) {
        let (at, page) = fetch(&mut self.loader, &self.url, limit).await;
        match page.and_then(|p| read(&mut self.state, at, &p)) {
            Ok(()) => self.tracker.ok(at),
            Err(e) => {
                if self.tracker.failed(e.clone()) {
                    tracing::warn!("origin metrics: {}: {e}; keeping the last good figures", self.url);
                }
            }
        }
    }
}

struct Scraper {
    interval: Duration,
    host: Option<Source<HostState>>,
    nginx: Option<Source<NginxState>>,
    builtin: Option<(Arc<Counters>, BuiltinState)>,
}

impl Scraper {
    fn new(config: &ScrapeConfig, builtin: Option<Arc<Counters>>) -> Result<Self, rustls::Error> {
        // The run's own headers and --resolve are for the stream, not for the exporters.
        let net = Arc::new(NetConfig { timeout: config.interval, ..NetConfig::with_defaults()? });
        Ok(Self {
            interval: config.interval,
            host: config.node.clone().map(|u| Source::new(u, &net, HostState::new(config.window))),
            nginx: config.nginx.clone().map(|u| Source::new(u, &net, NginxState::new(config.window))),
            builtin: builtin.map(|c| (c, BuiltinState::new(config.window))),
        })
    }

    async fn round(&mut self) -> OriginView {
        let Self { interval, host, nginx, .. } = self;
        let limit = *interval;
        let host = async {
            if let Some(s) = host.as_mut() {
                s.scrape(limit, HostState::read).await;
            }
        };
        let nginx = async {
            if let Some(s) = nginx.as_mut() {
                s.scrape(limit, NginxState::read).await;
            }
        };
        tokio::join!(host, nginx);
        let now = Instant::now();
        if let Some((counters, state)) = self.builtin.as_mut() {
            state.read(now, BuiltinReading::from_counters(counters));
        }
        OriginView {
            host: self.host.as_ref().map(|s| s.state.figures(s.tracker.state(now))),
            nginx: self.nginx.as_ref().map(|s| s.state.figures(s.tracker.state(now))),
            builtin: self.builtin.as_ref().map(|(_, s)| s.figures()),
        }
    }
}

/// One GET of an exporter page, and the instant its response head arrived (when the exporter had
/// just read its counters: the time rates are computed against).
async fn fetch(loader: &mut Loader, url: &Url, limit: Duration) -> (Instant, Result<Exposition, String>) {
    let fetch = match timeout(limit, loader.get(url, BodyMode::Collect { limit: PAGE_LIMIT })).await {
        Ok(f) => f,
        Err(_) => {
            loader.reset();
            return (Instant::now(), Err(format!("no answer within {:.1} s", limit.as_secs_f64())));
        }
    };
    let at = fetch.timings.headers.map_or_else(Instant::now, |h| fetch.started + h);
    let page = match (&fetch.error, fetch.status, &fetch.body) {
        (Some(e), _, _) => Err(e.to_string()),
        (None, Some(200), Some(body)) => Ok(parse_bytes(body)),
        (None, Some(status), _) => Err(format!("HTTP {status}")),
        (None, None, _) => Err("no response".to_owned()),
    };
    if let Ok(p) = &page
        && p.bad_lines > 0
    {
        tracing::debug!("origin metrics: {url}: skipped {} bad line(s), first {:?}", p.bad_lines, p.first_bad_line);
    }
    (at, page)
}
