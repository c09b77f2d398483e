//! The journal as a feed: `GET /v1/events` pages and the `GET /v1/events/stream` server-sent
//! events.
//!
//! The stream subscribes to live batches first, then sends the backlog from the ledger, then the
//! live batches after the last one sent; a gap (a slow client the broadcast left behind) is
//! filled from the ledger. Every batch goes out once, in order: `id: <seq>`, `event: batch`,
//! `data: <batch JSON>`.

use crate::app::AppState;
use crate::envelope::EventsResponse;
use crate::error::{ApiError, ErrorCode};
use crate::payload;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use backstop_ledger::Batch;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// Batches per page when `limit` is not given.
pub const DEFAULT_LIMIT: u64 = 100;
/// Most batches per page.
pub const MAX_LIMIT: u64 = 1_000;
/// Batches read from the ledger at a time while a stream catches up.
const CATCH_UP_PAGE: usize = 256;

/// `GET /v1/events?since=N&limit=M`: durable batches with seq > N, oldest first.
pub async fn events(State(app): State<AppState>, RawQuery(query): RawQuery) -> Response {
    match page(&app, query.as_deref()).await {
        Ok(body) => axum::Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

/// Reads one page of the journal.
async fn page(app: &AppState, query: Option<&str>) -> Result<EventsResponse, ApiError> {
    let pairs = payload::parse_query(query, &["since", "limit"])?;
    let since = payload::query_value(&pairs, "since").unwrap_or(0);
    let limit = payload::query_value(&pairs, "limit").unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::new(
            ErrorCode::InvalidValue,
            format!("limit must be between 1 and {MAX_LIMIT}, got {limit}"),
        ));
    }
    let head = app.read().head.seq;
    let count = usize::try_from(limit).unwrap_or(usize::MAX);
    let batches = app.with_reader(move |ledger| ledger.batches_since(since, count)).await?;
    // Entries the writer made durable after `head` was read may be in the page: never claim a
    // head older than what is shown.
    let head = batches.last().map_or(head, |batch| batch.seq.max(head));
    Ok(EventsResponse { head, batches })
}

/// `GET /v1/events/stream?since=N` (or `Last-Event-ID: N`): batches with seq > N, then live.
pub async fn stream(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let since = match stream_start(query.as_deref(), &headers) {
        Ok(since) => since,
        Err(error) => return error.into_response(),
    };
    // Subscribe before reading the backlog, so nothing published meanwhile is missed.
    let live = app.live.subscribe();
    let (sender, receiver) = mpsc::channel::<Result<Event, Infallible>>(64);
    tokio::spawn(feed(app, since, live, sender));
    Sse::new(ReceiverStream::new(receiver))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// Where a stream starts: `Last-Event-ID` (a reconnecting client) wins over `since`.
fn stream_start(query: Option<&str>, headers: &HeaderMap) -> Result<u64, ApiError> {
    let pairs = payload::parse_query(query, &["since"])?;
    if let Some(value) = headers.get("last-event-id") {
        let text = value.to_str().unwrap_or_default().trim();
        return text.parse::<u64>().map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidValue,
                format!("Last-Event-ID must be a journal seq (unsigned integer), got {text:?}"),
            )
        });
    }
    Ok(payload::query_value(&pairs, "since").unwrap_or(0))
}

/// The SSE event of a batch.
fn event_of(batch: &Batch) -> Event {
    match serde_json::to_string(batch) {
        Ok(json) => Event::default().id(batch.seq.to_string()).event("batch").data(json),
        Err(error) => Event::default().event("error").data(error.to_string()),
    }
}

/// Feeds one stream until the client goes away, the server shuts down, or the journal fails.
async fn feed(
    app: AppState,
    since: u64,
    mut live: tokio::sync::broadcast::Receiver<Arc<Batch>>,
    sender: mpsc::Sender<Result<Event, Infallible>>,
) {
    let mut shutdown = app.shutdown.clone();
    let mut last = since;
    if !catch_up(&app, &mut last, u64::MAX, &sender).await {
        return;
    }
    loop {
        let received = tokio::select! {
            _ = shutdown.wait_for(|stopped| *stopped) => return,
            () = sender.closed() => return,
            received = live.recv() => received,
        };
        match received {
            Ok(batch) => {
                if batch.seq <= last {
                    continue;
                }
                if batch.seq > last.saturating_add(1)
                    && !catch_up(&app, &mut last, batch.seq.saturating_sub(1), &sender).await
                {
                    return;
                }
                if batch.seq == last.saturating_add(1) {
                    if sender.send(Ok(event_of(&batch))).await.is_err() {
                        return;
                    }
                    last = batch.seq;
                }
            }
            Err(RecvError::Lagged(_)) => {
                if !catch_up(&app, &mut last, u64::MAX, &sender).await {
                    return;
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Sends every durable batch after `last` up to `until` from the ledger; false when the stream
/// should end (client gone or journal unreadable, which is reported as an `error` event).
async fn catch_up(
    app: &AppState,
    last: &mut u64,
    until: u64,
    sender: &mpsc::Sender<Result<Event, Infallible>>,
) -> bool {
    while *last < until {
        let after = *last;
        let page = app.with_reader(move |ledger| ledger.batches_since(after, CATCH_UP_PAGE)).await;
        let batches = match page {
            Ok(batches) => batches,
            Err(error) => {
                let event = Event::default().event("error").data(error.to_string());
                let _ = sender.send(Ok(event)).await;
                return false;
            }
        };
        if batches.is_empty() {
            return true;
        }
        for batch in batches.iter().take_while(|batch| batch.seq <= until) {
            if batch.seq != last.saturating_add(1) {
                let event = Event::default()
                    .event("error")
                    .data(format!("journal gap after seq {last}: next entry is {}", batch.seq));
                let _ = sender.send(Ok(event)).await;
                return false;
            }
            if sender.send(Ok(event_of(batch))).await.is_err() {
                return false;
            }
            *last = batch.seq;
        }
        if batches.len() < CATCH_UP_PAGE {
            return true;
        }
    }
    true
}
