//! One run of the viewer: Start → fetch → read chunks → decode into the [`RowStore`] →
//! done / cancelled / failed. [`Runner`] owns the run's state and the few signals the page
//! renders from.
//!
//! Reactive updates are rationed: the reader loop only touches plain data (the store and
//! `Live` counters); a frame loop copies them into the `stats` and `rows` signals on
//! animation frames, at most every `REFRESH_INTERVAL_MS`. The one exception is the first
//! rows, published the moment they are stored, and decoding pauses until the frame that
//! paints them.
//!
//! Decoding is sliced: about a millisecond of work, then a yield, and a wait for a frame
//! whenever the page has gone `MAX_FRAME_GAP_MS` without one. The page stays responsive
//! even when the whole body is already buffered (Standard mode).
//!
//! Standard mode (`mode=buffered`) is the baseline a non-streaming client gives: rows are
//! decoded as the body arrives, but shown (and counted) only when the whole answer is in.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{Column, Mode};
use web_sys::AbortController;

use crate::chart::{Comparison, RunResult};
use crate::decode::{DecodeError, NdjsonDecoder};
use crate::stats::{Stats, Status};
use crate::store::RowStore;
use crate::stream::{self, clear_mark, mark, next_frame, next_task, now, yield_to_browser, FetchError, Pending};

/// Longest stretch of decoding (ms) before yielding to the browser. Short: a yield costs
/// tens of µs, and everything else on the page's thread (input, the network, a test
/// driver's commands) waits for the current stretch. With 5 ms, clicks during a 500,000-row
/// stream took 2-3 times longer to land.
const SLICE_MS: f64 = 1.0;

/// While decoding is behind (a buffered body, a slow machine), plain yields let Chromium
/// put rendering off for up to ~100 ms. Past this gap since the last frame, decoding waits
/// for one: the page keeps at least ~20 frames/s and decoding keeps most of the CPU.
const MAX_FRAME_GAP_MS: f64 = 50.0;

/// While the first rows are awaited, the figures do not tick for this long: every tick is
/// a frame to render, and the frame with the first rows should not queue behind one.
const QUIET_START_MS: f64 = 100.0;

/// While streaming, the page (figures and table) is refreshed at most this often (ms):
/// every refresh is a frame to style, lay out, paint and raster (following the tail changes
/// every visible row), and at 60 per second those frames take the CPU that the decoder,
/// the network, the server and input handling need. 20 refreshes a second still read as
/// live.
const REFRESH_INTERVAL_MS: f64 = 50.0;

/// Rows decoded before the first paint: a screenful, so it shows with minimal delay.
const FIRST_STEP_ROWS: usize = 100;

/// Rows per decoding step after that (about a millisecond), between checks of the time
/// slice.
const STEP_ROWS: usize = 2048;

/// Marks on the Performance timeline, one set per run.
pub const MARK_START: &str = "rowstream:start";
pub const MARK_FIRST_BYTE: &str = "rowstream:first-byte";
pub const MARK_FIRST_CHUNK: &str = "rowstream:first-chunk";
pub const MARK_FIRST_ROW: &str = "rowstream:first-row";
pub const MARK_END: &str = "rowstream:end";

/// What the user asked for: the NDJSON request ([`crate::view_state::ViewState::api_url`])
/// and the columns its rows have, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    pub url: String,
    pub mode: Mode,
    pub columns: Vec<Column>,
}

/// How a complete stream ended.
struct Ended {
    /// `limit` or the server's row cap stopped it with rows still to come.
    cut: bool,
}

#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("superseded by a newer run")]
    Superseded,
}

/// The running (or last) run's counters: plain data, written per chunk.
struct Live {
    id: u64,
    mode: Mode,
    /// Stream mode shows rows as they arrive; Standard mode, like a client that waits for
    /// the whole response, only when the run ends.
    incremental: bool,
    controller: AbortController,
    started: f64,
    ended: Option<f64>,
    /// When the frame loop last ran: how long the page has gone without rendering.
    last_frame: f64,
    /// When the signals were last refreshed.
    refreshed: f64,
    first_byte: Option<f64>,
    first_row: Option<f64>,
    rows: u64,
    bytes: u64,
}

impl Live {
    fn stats(&self, now: f64) -> Stats {
        let shown = self.incremental || self.ended.is_some();
        Stats {
            rows: if shown { self.rows } else { 0 },
            bytes: self.bytes,
            first_byte_ms: self.first_byte,
            first_row_ms: self.first_row,
            elapsed_ms: self.ended.unwrap_or(now) - self.started,
        }
    }
}

/// Where the reader is in pacing its work against the page's frames.
struct Pace {
    /// Rows show as they arrive (Stream mode); otherwise only once all are in.
    incremental: bool,
    /// The first rows have been painted.
    painted: bool,
    /// When the current stretch of decoding began.
    slice_started: f64,
}

/// Signals are `Copy` handles, so a `Runner` is too; every async task gets its own copy.
#[derive(Clone, Copy)]
pub struct Runner {
    pub status: RwSignal<Status>,
    /// Why the last run failed or stopped, for the notice line.
    pub reason: RwSignal<Option<String>>,
    pub stats: RwSignal<Stats>,
    /// How many rows of [`Runner::store`] the table may show.
    pub rows: RwSignal<usize>,
    /// Bumped by each Start, so views can tell a new run's row 0 from the last one's.
    pub generation: RwSignal<u64>,
    pub comparison: RwSignal<Comparison>,
    /// The columns of [`Runner::store`]'s rows, in order: what the table's header shows.
    pub columns: RwSignal<Vec<Column>>,
    pub store: StoredValue<RowStore, LocalStorage>,
    /// Set to a reason when the server rejects the token: shows the token prompt.
    token_prompt: RwSignal<Option<String>>,
    live: StoredValue<Option<Live>, LocalStorage>,
}

impl Runner {
    pub fn new(token_prompt: RwSignal<Option<String>>) -> Self {
        Runner {
            status: RwSignal::new(Status::Idle),
            reason: RwSignal::new(None),
            stats: RwSignal::new(Stats::default()),
            rows: RwSignal::new(0),
            generation: RwSignal::new(0),
            comparison: RwSignal::new(Comparison::default()),
            columns: RwSignal::new(Vec::new()),
            store: StoredValue::new_local(RowStore::default()),
            token_prompt,
            live: StoredValue::new_local(None),
        }
    }

    pub fn is_running(&self) -> bool {
        self.status.get_untracked() == Status::Streaming
    }

    /// Shows `columns` with no rows (a relation was picked): only between runs.
    pub fn show_columns(self, columns: Vec<Column>) {
        if self.is_running() {
            return;
        }
        let generation = self.generation.get_untracked() + 1;
        self.replace_rows(&columns, generation, Status::Idle);
    }

    /// Empties the store for rows of `columns`, and the signals with it, for run
    /// `generation` (or a picked relation) in `status`.
    fn replace_rows(self, columns: &[Column], generation: u64, status: Status) {
        self.store.set_value(RowStore::new(columns));
        if self.columns.with_untracked(|c| c.as_slice() != columns) {
            self.columns.set(columns.to_vec());
        }
        self.generation.set(generation);
        self.rows.set(0);
        self.stats.set(Stats::default());
        self.reason.set(None);
        self.status.set(status);
    }

    /// Starts a run; a run still going is cancelled first (its rows are replaced).
    pub fn start(self, request: RunRequest, token: &str) {
        self.cancel();
        let id = self.generation.get_untracked() + 1;
        for name in [MARK_FIRST_BYTE, MARK_FIRST_CHUNK, MARK_FIRST_ROW, MARK_END] {
            clear_mark(name);
        }
        mark(MARK_START);
        let started = now();
        let sent = AbortController::new()
            .map_err(|_| FetchError::Network("this browser cannot cancel requests (no AbortController)".into()))
            .and_then(|controller| Ok((stream::send(&request.url, token, &controller.signal())?, controller)));
        let (pending, controller) = match sent {
            Ok(sent) => sent,
            Err(error) => {
                self.reason.set(Some(format!("Failed: {error}")));
                self.status.set(Status::Failed);
                return;
            }
        };
        self.live.set_value(Some(Live {
            id,
            mode: request.mode,
            incremental: request.mode == Mode::Stream,
            controller,
            started,
            ended: None,
            last_frame: started,
            refreshed: started,
            first_byte: None,
            first_row: None,
            rows: 0,
            bytes: 0,
        }));
        self.replace_rows(&request.columns, id, Status::Streaming);
        spawn_local(self.frame_loop(id));
        let names: Vec<String> = request.columns.iter().map(|c| c.name.clone()).collect();
        spawn_local(async move {
            let outcome = self.read(id, pending, names).await;
            self.finish(id, outcome).await;
        });
    }

    /// Aborts the request; the reader then fails with `AbortError` and the run ends as
    /// `cancelled`. Closing the connection is what makes the server stop its query.
    pub fn cancel(self) {
        self.live.with_value(|live| {
            if let Some(live) = live.as_ref().filter(|live| live.ended.is_none()) {
                live.controller.abort();
            }
        });
    }

    async fn read(self, id: u64, pending: Pending, columns: Vec<String>) -> Result<Ended, RunError> {
        let mut body = pending.open().await?;
        mark(MARK_FIRST_BYTE);
        self.with_live(id, |live| live.first_byte = Some(now() - live.started)).ok_or(RunError::Superseded)?;
        let mut decoder = NdjsonDecoder::new(&columns);
        let incremental = self.with_live(id, |live| live.incremental).ok_or(RunError::Superseded)?;
        let mut pace = Pace { incremental, painted: false, slice_started: now() };
        loop {
            let chunk = match body.next_chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                // The connection broke: if the server said why first, that is the reason.
                Err(error) => {
                    return Err(match decoder.server_error() {
                        Some(body) if !matches!(error, FetchError::Aborted) => DecodeError::Server(body.clone()).into(),
                        _ => error.into(),
                    })
                }
            };
            let len = chunk.length() as usize;
            decoder.append_with(len, |dst| chunk.copy_to(dst));
            let first = self.with_live(id, |live| {
                let first = live.bytes == 0;
                live.bytes += len as u64;
                first
            });
            if first.ok_or(RunError::Superseded)? {
                mark(MARK_FIRST_CHUNK);
            }
            // A chunk can hold megabytes (whatever piled up while the page was busy), so
            // it is decoded in steps, with paints and yields in between.
            while self.decode_step(id, &mut decoder, &mut pace).await? {}
        }
        let rows = self.store.try_update_value(|store| decoder.finish(store)).ok_or(RunError::Superseded)??;
        self.with_live(id, |live| live.rows = rows);
        Ok(Ended { cut: decoder.end().is_some_and(|end| end.cut) })
    }

    /// Decodes one step of buffered lines, then paints or yields if it is time to.
    /// Returns whether more buffered lines may be waiting.
    async fn decode_step(self, id: u64, decoder: &mut NdjsonDecoder, pace: &mut Pace) -> Result<bool, RunError> {
        // The first step is a screenful, so the first rows show with minimal delay.
        let step = if pace.incremental && !pace.painted { FIRST_STEP_ROWS } else { STEP_ROWS };
        let decoded = self.store.try_update_value(|store| decoder.decode(store, step)).ok_or(RunError::Superseded)?;
        let rows = decoder.rows();
        self.with_live(id, |live| live.rows = rows).ok_or(RunError::Superseded)?;
        let more = decoded.inspect_err(|_| {
            // Stop the download: nothing after a broken line can be trusted.
            self.cancel();
        })?;
        if pace.incremental && !pace.painted && rows > 0 {
            self.paint_first_rows(id).await;
            pace.painted = true;
            // Continue after that frame is done.
            next_task().await;
            pace.slice_started = now();
        } else if now() - pace.slice_started > SLICE_MS {
            let since_frame = self.live.with_value(|l| l.as_ref().map_or(0.0, |l| now() - l.last_frame));
            if since_frame > MAX_FRAME_GAP_MS {
                yield_to_browser().await;
            } else {
                next_task().await;
            }
            pace.slice_started = now();
        }
        Ok(more)
    }

    /// Publishes the first rows now, not at the next frame tick, and timestamps the start
    /// of the frame that paints them.
    async fn paint_first_rows(self, id: u64) {
        self.publish(id, false);
        next_frame().await;
        mark(MARK_FIRST_ROW);
        self.with_live(id, |live| live.first_row = Some(now() - live.started));
        self.publish(id, false);
    }

    async fn frame_loop(self, id: u64) {
        loop {
            next_frame().await;
            let t = now();
            let (running, quiet) = self
                .with_live(id, |l| {
                    l.last_frame = t;
                    (l.ended.is_none(), l.first_row.is_none() && t - l.started < QUIET_START_MS)
                })
                .unwrap_or((false, false));
            if !running {
                break;
            }
            if !quiet {
                self.publish(id, true);
            }
        }
    }

    async fn finish(self, id: u64, outcome: Result<Ended, RunError>) {
        if matches!(outcome, Err(RunError::Superseded)) {
            return;
        }
        let Some(unpainted) = self.with_live(id, |live| live.rows > 0 && live.first_row.is_none()) else {
            return;
        };
        if unpainted {
            // Rows that show only now (Standard mode; or a stream whose only rows came in an
            // unterminated last line) go into the DOM from this frame's callback, so this
            // frame paints them, together with the final status.
            next_frame().await;
            mark(MARK_FIRST_ROW);
            self.with_live(id, |live| live.first_row = Some(now() - live.started));
        }
        mark(MARK_END);
        self.with_live(id, |live| live.ended = Some(now()));
        self.publish(id, false);
        let Some((mode, stats)) =
            self.live.with_value(|live| live.as_ref().filter(|l| l.id == id).map(|l| (l.mode, l.stats(now()))))
        else {
            return;
        };
        let (status, reason) = match &outcome {
            Ok(Ended { cut: true }) => (
                Status::Done,
                Some(format!("Stopped after {} rows: the limit (or the server's row cap) was reached.", stats.rows)),
            ),
            Ok(Ended { cut: false }) => (Status::Done, None),
            Err(RunError::Fetch(FetchError::Aborted)) => {
                (Status::Cancelled, Some(format!("Cancelled after {} rows.", stats.rows)))
            }
            Err(error) => (Status::Failed, Some(format!("Failed: {error}"))),
        };
        if let Err(RunError::Fetch(error)) = &outcome {
            if error.is_unauthorized() {
                self.token_prompt.set(Some(format!("The server rejected the token ({error}).")));
            }
        }
        if status == Status::Done {
            let result = RunResult {
                rows: stats.rows,
                first_row_ms: stats.first_row_ms.unwrap_or(stats.elapsed_ms),
                total_ms: stats.elapsed_ms,
            };
            self.comparison.update(|c| c.record(mode, result));
        }
        self.reason.set(reason);
        self.status.set(status);
    }

    /// Copies the live counters into the signals; when `throttle`, not within
    /// [`REFRESH_INTERVAL_MS`] of the last time. The table re-renders only if the row count
    /// moved.
    fn publish(self, id: u64, throttle: bool) {
        let t = now();
        let stats = self.with_live(id, |live| {
            let due = !throttle || t - live.refreshed >= REFRESH_INTERVAL_MS;
            if due {
                live.refreshed = t;
            }
            due.then(|| live.stats(t))
        });
        let Some(stats) = stats.flatten() else { return };
        self.stats.set(stats);
        let rows = stats.rows as usize;
        if self.rows.get_untracked() != rows {
            self.rows.set(rows);
        }
    }

    /// Runs `f` on run `id`'s counters; `None` if a newer run replaced it.
    fn with_live<T>(self, id: u64, f: impl FnOnce(&mut Live) -> T) -> Option<T> {
        self.live.try_update_value(|live| live.as_mut().filter(|l| l.id == id).map(f)).flatten()
    }
}
