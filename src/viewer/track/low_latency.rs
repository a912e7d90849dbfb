//! A low-latency track (draft-pantos-hls-rfc8216bis 6.2.5, 6.3), as hls.js plays one: join at
//! `PART-HOLD-BACK` from the live edge at an independent part, fetch each part once and in order (a
//! segment whose parts were fetched is never fetched whole), and when the parts listed are all in, ask
//! for the part the server hints at (`EXT-X-PRELOAD-HINT`), which it holds until the part exists.
//!
//! The playlist is reloaded with the delivery directives (`_HLS_msn`, `_HLS_part`, and `_HLS_skip` when
//! the server offers delta updates) as soon as the previous reload is in, when the server can block
//! (`CAN-BLOCK-RELOAD=YES`); the server holds the request until the next part exists. A held reload
//! is on a connection of its own (the side loader), as it must be over HTTP/1.1: the part downloads
//! and the hinted part go on the main one meanwhile. A reload that comes back without what it asked for
//! (a server that ignores the directives) is `unblocked`, and the next one waits half a part target: a
//! viewer never spins. Without blocking, the playlist is reloaded on the part target's cadence.
//! A blocking reload answered 400 or 503 is counted, and the viewer rejoins at the live edge.
//!
//! Where the server can block, the viewer joins on the playlist its first blocking reload brings, not on
//! the plain first load: that one's last part may be up to a part target old, and joining on it would
//! play that much further behind real time than `PART-HOLD-BACK` (hls.js joins on the first load; the
//! requests are the same, the start waits for the next part).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::time::sleep_until;
use url::Url;

use super::{EMERGENCY_EVERY, InFlight, Track, abandoned, landed, rearm, send, send_plan};
use crate::engine::SessionEnd;
use crate::hls::{
    self, LowLatencyFetch, MediaPlaylist, PartPosition, PartTracker, Segment, apply_delta, blocking_query, check_delta,
    lists_part, next_part_after, parent_of, part_as_segment, part_hint, reported_part, skip_directive,
};
use crate::net::{BodyMode, Fetch, Loader, Progress};
use crate::stats::{ErrorClass, Hold, Kind, PlaybackEvent};
use crate::viewer::request::{Asker, Halt, SessionError, media_only, parse, parse_reload, record_with};

/// What a low-latency track knows between steps.
struct LowLatency {
    url: Url,
    tracker: PartTracker,
    /// Parts and segments to fetch, in order, each with its kind and place.
    queue: VecDeque<(Segment, Kind, PartPosition)>,
    /// The last playlist, whole: delta updates are completed from it, and parts find their segment in it.
    held: MediaPlaylist,
    /// When `held` was asked for (a delta update needs a playlist younger than half the skip boundary).
    held_at: Instant,
    /// The last part asked for from a preload hint (URI, range start, place): when the playlist lists
    /// it, it is not fetched again.
    hinted: Option<(Url, u64, PartPosition)>,
    /// The next reload: not before this instant.
    reload_at: Instant,
    /// The next reload is a plain one, and the tracker joins anew (after a 400 or 503 to a blocking one).
    rejoin: bool,
    /// Not joined yet: the first blocking reload asks for this part, and the viewer joins on the playlist
    /// it brings, whose end is the live edge of that moment (a plain first load's end may be up to a part
    /// old, and the viewer would play that much further behind real time).
    join_at: Option<PartPosition>,
    /// A switch of renditions under way (`--variant abr`): its reload is the next one.
    switch: Option<Switch>,
    ended: bool,
}

/// An adaptive viewer's switch to another rendition: the part it goes on from, and the part the
/// rendition report says the new rendition has (asked for with a blocking reload the server answers at
/// once; without a report, a plain load).
#[derive(Clone, Copy)]
struct Switch {
    from: Option<PartPosition>,
    ask: Option<PartPosition>,
}

/// A reload in flight: plain, or blocking for a part (and when it was sent).
#[derive(Clone, Copy)]
enum Reload {
    Plain,
    Blocking { asked: PartPosition, sent: Instant },
}

impl Reload {
    /// The kind it is counted under.
    fn kind(self) -> Kind {
        match self {
            Reload::Plain => Kind::MediaPlaylist,
            Reload::Blocking { .. } => Kind::BlockingPlaylist,
        }
    }

    /// How it was held, by the playlist it brought (`None`: none could be read): a blocking one whose
    /// playlist lacks the part it asked for came back unblocked.
    fn hold(self, playlist: Option<&MediaPlaylist>) -> Option<Hold> {
        match (self, playlist) {
            (Reload::Plain, _) => None,
            (Reload::Blocking { asked, .. }, Some(m)) if !lists_part(m, asked) => Some(Hold::Unblocked),
            (Reload::Blocking { .. }, _) => Some(Hold::Held),
        }
    }
}

impl LowLatency {
    fn part_target(&self) -> Duration {
        self.held.part_target.unwrap_or(self.held.target_duration).max(Duration::from_millis(50))
    }

    fn can_block(&self) -> bool {
        self.held.server_control.as_ref().is_some_and(|c| c.can_block_reload)
    }

    /// Queues what the tracker yields of `update`, each part as a segment of its own (dated, with its
    /// segment's map and key), less the part already asked for from a hint.
    fn enqueue(&mut self, fetch: Vec<LowLatencyFetch>) {
        for item in fetch {
            match item {
                LowLatencyFetch::Segment(segment) => {
                    let at = PartPosition { msn: segment.sequence, part: 0 };
                    self.queue.push_back((*segment, Kind::Segment, at));
                }
                LowLatencyFetch::Part { at, part } => {
                    let start = part.byte_range.map_or(0, |r| r.offset);
                    if self.hinted.as_ref().is_some_and(|(uri, s, _)| *uri == part.uri && *s == start) {
                        continue;
                    }
                    let Some(parent) = parent_of(&self.held, at.msn) else { continue };
                    let offset = parts_of(&self.held, at.msn).iter().take(at.part as usize).map(|p| p.duration).sum();
                    self.queue.push_back((part_as_segment(&parent, &part, offset), Kind::Part, at));
                }
            }
        }
    }

    /// The hinted part as a segment, when the playlist hints one not yet asked for.
    fn hint(&self) -> Option<(Segment, Option<String>)> {
        let (uri, range) = part_hint(&self.held)?;
        let start = range_start(range.as_deref());
        if self.hinted.as_ref().is_some_and(|(u, s, _)| *u == uri && *s == start) {
            return None;
        }
        let msn = self.held.end_sequence();
        let parent = parent_of(&self.held, msn)?;
        let offset: Duration = self.held.pending_parts.iter().map(|p| p.duration).sum();
        let mut segment = Segment { uri, duration: self.part_target(), byte_range: None, ..parent };
        segment.program_date_time = segment.program_date_time.map(|t| t + offset);
        Some((segment, range))
    }

    /// Switches to the rendition at `url` (an adaptive viewer's, with nothing of the old one in flight):
    /// what was queued of the old one is dropped, and the viewer goes on from the first part it had not
    /// fetched, asking for the part the rendition report names.
    fn switch_to(&mut self, url: Url) {
        let after_hint = self.hinted.as_ref().map(|(_, _, at)| PartPosition { msn: at.msn, part: at.part + 1 });
        let next = self.queue.front().map(|q| q.2).or(self.tracker.next_position());
        // The later of the two (`None` orders first).
        let from = next.max(after_hint);
        let ask = reported_part(&self.held, &url);
        self.queue.clear();
        self.hinted = None;
        // Not joined yet: the join waits for the new rendition's playlist instead.
        self.join_at = None;
        self.url = url;
        self.switch = Some(Switch { from, ask });
        self.reload_at = Instant::now();
    }

    /// Parts between the playhead's and the live edge, as of the last reload: those not fetched yet and
    /// those buffered.
    fn edge_parts(&self, buffered: Duration) -> u32 {
        let target = self.part_target().as_secs_f64();
        let queued = self.queue.iter().filter(|(_, k, _)| *k == Kind::Part).count() as f64;
        (queued + (buffered.as_secs_f64() / target).round()).min(f64::from(u32::MAX)) as u32
    }
}

/// The parts of segment `msn` as `playlist` lists them (the pending ones for the segment being written).
fn parts_of(playlist: &MediaPlaylist, msn: u64) -> &[hls::Part] {
    match playlist.segments.iter().find(|s| s.sequence == msn) {
        Some(s) => &s.parts,
        None => &playlist.pending_parts,
    }
}

/// The playlist URL with the delivery directives added to its own query.
fn with_directives(url: &Url, query: &str) -> Url {
    let mut url = url.clone();
    let joined = match url.query() {
        Some(q) if !q.is_empty() => format!("{q}&{query}"),
        _ => query.to_owned(),
    };
    url.set_query(Some(&joined));
    url
}

impl Track<'_> {
    /// Plays a low-latency playlist, `first` loaded at `loaded_at`, until stop, its end or an error.
    pub(super) async fn play_low_latency(
        &mut self,
        url: Url,
        first: MediaPlaylist,
        loaded_at: Instant,
    ) -> Result<SessionEnd, Halt> {
        let mut ll = LowLatency {
            url,
            tracker: PartTracker::new(),
            queue: VecDeque::new(),
            held: first,
            held_at: loaded_at,
            hinted: None,
            reload_at: loaded_at,
            rejoin: false,
            join_at: None,
            switch: None,
            ended: false,
        };
        ll.ended = !ll.held.is_live();
        if ll.can_block() && !ll.ended {
            ll.join_at = Some(next_part_after(&ll.held));
        } else {
            let start = ll.tracker.start(&ll.held);
            ll.enqueue(start.fetch);
            ll.reload_at = loaded_at + ll.part_target();
        }
        self.play_low_latency_loop(ll).await
    }

    async fn play_low_latency_loop(&mut self, mut ll: LowLatency) -> Result<SessionEnd, Halt> {
        let mut download: Option<((Segment, Kind, PartPosition), InFlight<super::Done>)> = None;
        // An adaptive viewer's part in flight, watched for the emergency rule (from its response head: a
        // hinted part's hold is the server's, not the network's): its progress, its media duration, and
        // the next look at it.
        let mut watched: Option<(Arc<Progress>, Duration, Instant)> = None;
        let mut reload: Option<(Reload, InFlight)> = None;
        // The old rendition's reload still held when the viewer switched: counted when it lands, under
        // the variant it asked, and otherwise let go (as hls.js aborts it).
        let mut stale: Option<((Asker<'_>, Reload), InFlight)> = None;
        let mut stop = self.stop.clone();
        let stopped = stop.stopped();
        let (reload_timer, empty_timer) = (sleep_until(Instant::now().into()), sleep_until(Instant::now().into()));
        let check_timer = sleep_until(Instant::now().into());
        tokio::pin!(stopped, reload_timer, empty_timer, check_timer);
        let (mut reload_armed, mut empty_at, mut check_armed) = (None, None, None);
        loop {
            let stopping = self.stop.is_set();
            let before = self.asker;
            if !stopping
                && download.is_none()
                && stale.is_none()
                && let Some(url) = self.switch_rendition()
            {
                // No download of the old rendition in flight: the new one's playlist next, at once, on a
                // connection of its own if the old one's held reload still has the side one.
                if let Some((kind, held)) = reload.take() {
                    stale = Some(((before, kind), held));
                }
                ll.switch_to(url);
            }
            // A switch waits for the request in flight, then for the new rendition's playlist; meanwhile
            // nothing more of the old rendition starts (a part, or the hinted one).
            let switching = ll.switch.is_some() || self.adaptive.as_ref().is_some_and(super::Adaptive::switch_due);
            if !stopping && download.is_none() && !switching {
                let next = ll.queue.pop_front().map(|(s, k, at)| (s, k, None, at)).or_else(|| {
                    let (segment, range) = ll.join_at.is_none().then(|| ll.hint()).flatten()?;
                    let at = next_part_after(&ll.held);
                    ll.hinted = Some((segment.uri.clone(), range_start(range.as_deref()), at));
                    Some((segment, Kind::PreloadHint, range, at))
                });
                if let Some((segment, kind, hint_range, at)) = next {
                    if let Some(mut plan) = self.plan_for(&segment) {
                        if let (Some(range), Some(hls::Planned::Segment { range: asked, .. })) =
                            (hint_range, plan.last_mut())
                        {
                            *asked = Some(range);
                        }
                        let progress =
                            self.adaptive.as_ref().and(self.playback.as_ref()).map(|_| Arc::new(Progress::default()));
                        let now = Instant::now();
                        watched = progress.clone().map(|p| (p, segment.duration, now + EMERGENCY_EVERY));
                        let check = self.asker.config.decrypt_check;
                        let sent = send_plan(self.main_loader(), plan, check, progress);
                        download = Some(((segment, kind, at), sent));
                    }
                    continue;
                }
            }
            if download.is_none() && reload.is_none() && stale.is_none() {
                if stopping {
                    return Ok(SessionEnd::Stopped);
                }
                if ll.ended && ll.queue.is_empty() {
                    self.wait_until_played().await?;
                    return Ok(SessionEnd::Finished { pace: ll.held.target_duration });
                }
            }
            // A decided switch sends no reload of the old rendition; a switch under way sends the new one's.
            let waits = self.adaptive.as_ref().is_some_and(super::Adaptive::switch_due);
            let due = (!stopping && !ll.ended && reload.is_none() && !waits).then_some(ll.reload_at);
            rearm(reload_timer.as_mut(), &mut reload_armed, due);
            rearm(empty_timer.as_mut(), &mut empty_at, self.playback.as_ref().and_then(|p| p.empty_at()));
            rearm(check_timer.as_mut(), &mut check_armed, watched.as_ref().map(|w| w.2));
            self.sample_latency();
            tokio::select! {
                (loader, done) = landed(&mut download) => {
                    self.main = Some(loader);
                    watched = None;
                    let ((segment, kind, at), _) = download.take().expect("a download landed");
                    let abandoned = abandoned(&done);
                    self.segment_done(&segment, &done, kind)?;
                    if abandoned {
                        // Fetched again from the lower rendition: the switch goes on from the queue's front
                        // (the hinted part is a part by now, or will be).
                        let kind = if kind == Kind::PreloadHint {
                            ll.hinted = None;
                            Kind::Part
                        } else {
                            kind
                        };
                        ll.queue.push_front((segment, kind, at));
                    }
                }
                _ = &mut check_timer, if check_armed.is_some() => {
                    check_armed = None;
                    self.check_watched(&mut watched);
                }
                (loader, fetch) = landed(&mut stale) => {
                    let ((asker, kind), _) = stale.take().expect("a stale reload landed");
                    self.stale_reload_landed(asker, kind, &fetch, loader);
                }
                (mut loader, fetch) = landed(&mut reload) => {
                    let (kind, _) = reload.take().expect("a reload landed");
                    let result = self.reloaded_low_latency(&mut ll, &mut loader, &fetch, kind);
                    self.side = Some(loader);
                    result?;
                }
                _ = &mut reload_timer, if reload_armed.is_some() => {
                    reload_armed = None;
                    reload = Some(self.send_low_latency_reload(&mut ll));
                }
                _ = &mut empty_timer, if empty_at.is_some() => {
                    empty_at = None;
                    self.buffer_ran_out();
                }
                _ = &mut stopped, if !stopping => {}
            }
        }
    }

    /// The old rendition's reload, in flight when the viewer switched, landed: recorded under that
    /// rendition as any reload is, its playlist not used.
    fn stale_reload_landed(&mut self, asker: Asker<'_>, reload: Reload, fetch: &Fetch, loader: Loader) {
        let parsed = parse(asker, fetch, media_only);
        let hold = reload.hold(parsed.as_ref().ok());
        record_with(asker, reload.kind(), fetch, parsed.as_ref().err().map(|f| f.0), hold);
        if parsed.is_ok() && self.side.is_none() {
            self.side = Some(loader);
        }
    }

    /// The next reload, always on the side loader: a blocking one is held by the server while parts
    /// download on the main one.
    fn send_low_latency_reload(&mut self, ll: &mut LowLatency) -> (Reload, InFlight) {
        let loader = self.side.take().unwrap_or_else(|| self.asker.loader());
        let now = Instant::now();
        let mode = BodyMode::Collect { limit: crate::viewer::PLAYLIST_LIMIT };
        if let Some(switch) = ll.switch {
            // The new rendition's playlist: at once, without a delta (the playlist held is the old one's).
            ll.held_at = now;
            return match switch.ask.filter(|_| ll.can_block()) {
                Some(asked) => {
                    let url = with_directives(&ll.url, &blocking_query(asked, None));
                    (Reload::Blocking { asked, sent: now }, send(loader, url, mode))
                }
                None => (Reload::Plain, send(loader, ll.url.clone(), mode)),
            };
        }
        let next = ll.tracker.next_position().or(ll.join_at);
        match next.filter(|_| ll.can_block() && !ll.rejoin) {
            Some(asked) => {
                let control = ll.held.server_control.as_ref();
                let skip = skip_directive(control, now.saturating_duration_since(ll.held_at));
                let url = with_directives(&ll.url, &blocking_query(asked, skip));
                ll.held_at = now;
                (Reload::Blocking { asked, sent: now }, send(loader, url, mode))
            }
            None => {
                ll.held_at = now;
                (Reload::Plain, send(loader, ll.url.clone(), mode))
            }
        }
    }

    /// A reload landed: recorded (a blocking one as held, or unblocked when it lacks the part it asked
    /// for), completed from the playlist held when it is a delta update, and what is new queued.
    fn reloaded_low_latency(
        &mut self,
        ll: &mut LowLatency,
        loader: &mut Loader,
        fetch: &Fetch,
        reload: Reload,
    ) -> Result<(), Halt> {
        let kind = reload.kind();
        let now = Instant::now();
        let part_target = ll.part_target();
        if let (Reload::Blocking { .. }, Some(400 | 503)) = (reload, fetch.status) {
            // The server will not hold this one (too far ahead, or it gave up): rejoin at the live edge.
            let class = if fetch.status == Some(400) { ErrorClass::Http4xx } else { ErrorClass::Http5xx };
            record_with(self.asker, kind, fetch, Some(class), Some(Hold::Held));
            ll.rejoin = true;
            ll.reload_at = now + part_target / 2;
            return Ok(());
        }
        let held = &ll.held;
        // Before the join, the viewer needs no more than what the playlist it joins on lists.
        let needed = ll.tracker.next_position().or(ll.join_at).map(|p| p.msn);
        let mut unapplied = false;
        let parsed = parse_reload(self.asker, fetch, Some(held), |p| {
            let media = media_only(p)?;
            if media.skipped_segments == 0 {
                return Ok(media);
            }
            let listed_from = media.media_sequence + media.skipped_segments;
            match check_delta(Some(held), &media) {
                Ok(()) => {
                    let mut whole = apply_delta(Some(held), media).map_err(|e| e.to_string())?;
                    hls::fill_program_date_times(&mut whole);
                    Ok(whole)
                }
                // The playlist held lacks the segments skipped (it was a delta itself), but the viewer
                // needs none of them: it goes on with what is listed, as hls.js does, and it is counted.
                Err(_) if needed.is_some_and(|msn| msn >= listed_from) => {
                    unapplied = true;
                    Ok(media)
                }
                Err(e) => Err(e.to_string()),
            }
        });
        if unapplied {
            self.events.push(PlaybackEvent::PlaylistWarnings { count: 1 });
        }
        let hold = reload.hold(parsed.as_ref().ok());
        record_with(self.asker, kind, fetch, parsed.as_ref().err().map(|f| f.0), hold);
        let playlist = match parsed {
            Ok(p) => p,
            Err((class, detail)) => {
                if class != ErrorClass::Http4xx && class != ErrorClass::Http5xx {
                    loader.reset();
                }
                return Err(SessionError { url: fetch.url.to_string(), class, detail }.into());
            }
        };
        let before = (ll.held.end_sequence(), ll.held.pending_parts.len());
        let changed = before != (playlist.end_sequence(), playlist.pending_parts.len());
        ll.held = playlist;
        ll.ended = !ll.held.is_live();
        let joining = ll.join_at.take().is_some();
        let update = if let Some(switch) = ll.switch.take() {
            // The new rendition from the part the viewer was to fetch next (or its join point when it had
            // none yet): the same place, the same buffer.
            ll.rejoin = false;
            ll.tracker = PartTracker::new();
            if let Some(from) = switch.from {
                ll.tracker.resume_from(from);
            }
            ll.tracker.update(&ll.held)
        } else if std::mem::take(&mut ll.rejoin) || joining {
            // Join (anew) at the hold-back point, but never fetch again a part already had (or queued).
            let had = ll.tracker.next_position();
            ll.tracker = PartTracker::new();
            let mut update = ll.tracker.start(&ll.held);
            let position = |f: &LowLatencyFetch| match f {
                LowLatencyFetch::Part { at, .. } => *at,
                LowLatencyFetch::Segment(s) => PartPosition { msn: s.sequence, part: 0 },
            };
            update.fetch.retain(|f| had.is_none_or(|had| position(f) >= had));
            if let Some(had) = had {
                ll.tracker.resume_from(had);
            }
            update
        } else {
            ll.tracker.update(&ll.held)
        };
        if update.skipped > 0 {
            self.events.push(PlaybackEvent::SegmentSkipped { count: update.skipped });
        }
        ll.enqueue(update.fetch);
        let level = self.playback.as_ref().and_then(|p| p.playhead_level(now)).unwrap_or_default();
        self.edge_parts = Some(ll.edge_parts(level));
        // Blocking: the next one at once (the server holds it), unless this one was not held; else the
        // part target's cadence (half of it when nothing changed, as 6.3.4 does with target durations).
        ll.reload_at = match reload {
            Reload::Blocking { sent, .. } if hold == Some(Hold::Unblocked) => sent + part_target / 2,
            _ if ll.can_block() => now,
            _ if changed => now + part_target,
            _ => now + part_target / 2,
        };
        self.flush_events();
        Ok(())
    }
}

/// The first byte a `Range` header asks for; 0 without one.
fn range_start(range: Option<&str>) -> u64 {
    range.and_then(|r| r.strip_prefix("bytes=")?.split('-').next()?.parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_join_the_playlists_own_query() {
        let plain = Url::parse("http://o/live/stream.m3u8").unwrap();
        assert_eq!(
            with_directives(&plain, "_HLS_msn=5&_HLS_part=2").as_str(),
            "http://o/live/stream.m3u8?_HLS_msn=5&_HLS_part=2"
        );
        let signed = Url::parse("http://o/live/stream.m3u8?token=abc").unwrap();
        assert_eq!(with_directives(&signed, "_HLS_msn=5").query(), Some("token=abc&_HLS_msn=5"));
        assert_eq!(range_start(Some("bytes=400-")), 400);
        assert_eq!(range_start(None), 0);
    }
}
