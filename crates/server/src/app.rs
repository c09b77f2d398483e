//! The HTTP application: shared state, the router built from the route table, the gate every
//! request passes (authentication, role check, metrics), and the small public handlers.

use crate::auth::{KeyStore, Principal};
use crate::envelope::HealthResponse;
use crate::error::{ApiError, ErrorCode};
use crate::metrics::{Gauges, Metrics};
use crate::routes::{self, Access, Endpoint, Method, ROUTES};
use crate::writer::{Message, Shared};
use crate::{commands, dashboard, events, keys, views};
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{self, MethodRouter};
use backstop_ledger::{Batch, Ledger, LedgerError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;
use tokio::sync::{broadcast, mpsc, watch};

/// Request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most commands in one batch request.
    pub max_batch_commands: usize,
}

/// Everything handlers share.
pub struct App {
    /// Engine and durable head (written only by the writer).
    pub shared: Arc<RwLock<Shared>>,
    /// The writer's bounded queue.
    pub queue: mpsc::Sender<Message>,
    /// A second ledger on the same database, for reads (None once shut down). Only used from
    /// `spawn_blocking`.
    pub reader: Arc<Mutex<Option<Ledger>>>,
    /// Accepted API keys.
    pub keys: Arc<RwLock<KeyStore>>,
    /// Durable batches as the writer publishes them.
    pub live: broadcast::Sender<Arc<Batch>>,
    /// Counters and histograms.
    pub metrics: Arc<Metrics>,
    /// Cleared when the writer is out of service.
    pub healthy: Arc<AtomicBool>,
    /// Request limits.
    pub limits: Limits,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The OpenAPI document, rendered once.
    pub openapi: String,
    /// Becomes true when the server shuts down (ends live streams).
    pub shutdown: watch::Receiver<bool>,
}

/// Handlers' state.
pub type AppState = Arc<App>;

impl App {
    /// Read access to the engine and head.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Shared> {
        self.shared.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the writer is in service.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    /// Runs `work` on the reader ledger in a blocking thread (the PostgreSQL client must not
    /// run inside an async task).
    ///
    /// # Errors
    /// `journal_unavailable` when the ledger fails, `unhealthy` once shut down.
    pub async fn with_reader<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ledger) -> Result<T, LedgerError> + Send + 'static,
    {
        let reader = Arc::clone(&self.reader);
        let joined = tokio::task::spawn_blocking(move || {
            let mut guard = reader.lock().unwrap_or_else(PoisonError::into_inner);
            match guard.as_mut() {
                Some(ledger) => work(ledger).map_err(|error| {
                    ApiError::new(
                        ErrorCode::JournalUnavailable,
                        format!("the journal could not be read: {error}"),
                    )
                }),
                None => Err(ApiError::new(ErrorCode::Unhealthy, "the server is shutting down")),
            }
        })
        .await;
        joined.unwrap_or_else(|error| {
            Err(ApiError::new(ErrorCode::InternalError, format!("a reader task failed: {error}")))
        })
    }
}

/// The method router of an endpoint.
fn handler(method: Method, endpoint: Endpoint) -> MethodRouter<AppState> {
    let filter = match method {
        Method::Get => routing::MethodFilter::GET,
        Method::Post => routing::MethodFilter::POST,
        Method::Delete => routing::MethodFilter::DELETE,
    };
    match endpoint {
        Endpoint::Health => routing::on(filter, health),
        Endpoint::OpenApi => routing::on(filter, openapi),
        Endpoint::Metrics => routing::on(filter, metrics),
        Endpoint::SubmitCommand => routing::on(filter, commands::submit_command),
        Endpoint::SubmitBatch => routing::on(filter, commands::submit_batch),
        Endpoint::State => routing::on(filter, views::state),
        Endpoint::Account => routing::on(filter, views::account),
        Endpoint::Markets => routing::on(filter, views::markets),
        Endpoint::Funds => routing::on(filter, views::funds),
        Endpoint::Pools => routing::on(filter, views::pools),
        Endpoint::Cover => routing::on(filter, views::cover),
        Endpoint::Deficits => routing::on(filter, views::deficits),
        Endpoint::Proposals => routing::on(filter, views::proposals),
        Endpoint::Claims => routing::on(filter, views::claims),
        Endpoint::Events => routing::on(filter, events::events),
        Endpoint::EventStream => routing::on(filter, events::stream),
        Endpoint::CreateKey => routing::on(filter, keys::create),
        Endpoint::ListKeys => routing::on(filter, keys::list),
        Endpoint::RevokeKey => routing::on(filter, keys::revoke),
        Endpoint::Risk => routing::on(filter, crate::risk_view::risk),
        Endpoint::Stress => routing::on(filter, crate::risk_view::stress),
        Endpoint::Session => routing::on(filter, dashboard::session),
        Endpoint::Dashboard => routing::on(filter, dashboard::index),
        Endpoint::Asset => routing::on(filter, dashboard::asset),
    }
}

/// The router: one route per row of [`ROUTES`], behind the gate.
pub fn router(app: AppState) -> Router {
    let mut router: Router<AppState> = Router::new();
    for route in ROUTES {
        router = router.route(route.path, handler(route.method, route.endpoint));
    }
    router
        .route_layer(axum::middleware::from_fn_with_state(Arc::clone(&app), gate))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
}

/// Authenticates and authorizes a request against its route's row, and counts it.
async fn gate(
    State(app): State<AppState>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = static_method(request.method());
    let pattern = matched.as_ref().map_or("unmatched", MatchedPath::as_str).to_owned();
    // axum answers HEAD with the GET handler: it needs the GET route's access, not none.
    let route = routes::find(if method == "HEAD" { "GET" } else { method }, &pattern);
    let response = match route.map(|route| route.access) {
        // Fail closed: a request the table does not describe runs no handler.
        None => ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!("{method} is not allowed on {}", request.uri().path()),
        )
        .into_response(),
        Some(Access::Public) => next.run(request).await,
        Some(access) => {
            let header = request.headers().get(header::AUTHORIZATION).map(|value| value.to_str());
            let principal = match header {
                Some(Err(_)) => Err(ApiError::new(
                    ErrorCode::InvalidApiKey,
                    "the Authorization header is not readable text",
                )),
                Some(Ok(value)) => authenticate(&app, Some(value)),
                None => authenticate(&app, None),
            };
            match principal {
                Err(error) => error.into_response(),
                Ok(principal) if !access.allows(principal.role) => ApiError::new(
                    ErrorCode::Forbidden,
                    format!("role {} may not use {method} {pattern}", principal.role),
                )
                .into_response(),
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                    next.run(request).await
                }
            }
        }
    };
    app.metrics.record_request(method, &pattern, response.status().as_u16(), started.elapsed());
    response
}

/// The principal of an `Authorization` header.
fn authenticate(app: &App, header: Option<&str>) -> Result<Principal, ApiError> {
    app.keys.read().unwrap_or_else(PoisonError::into_inner).authenticate(header)
}

/// A method as a static label.
fn static_method(method: &axum::http::Method) -> &'static str {
    match *method {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::PATCH => "PATCH",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// 404 for paths outside the table.
async fn not_found(request: Request) -> Response {
    ApiError::new(
        ErrorCode::NotFound,
        format!("no route {} {}", request.method(), request.uri().path()),
    )
    .into_response()
}

/// 405 for a known path with another method.
async fn method_not_allowed(request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let allowed: Vec<&str> = ROUTES
        .iter()
        .filter(|route| path_matches(route.path, &path))
        .map(|route| route.method.as_str())
        .collect();
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{} is not allowed on {path}; allowed: {}", request.method(), allowed.join(", ")),
    )
    .into_response()
}

/// Whether a concrete path matches a route pattern with `{param}` segments.
fn path_matches(pattern: &str, path: &str) -> bool {
    let (mut left, mut right) = (pattern.split('/'), path.split('/'));
    loop {
        match (left.next(), right.next()) {
            (None, None) => return true,
            (Some(expected), Some(got)) => {
                if !(expected.starts_with('{') || expected == got) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// `GET /healthz`.
async fn health(State(app): State<AppState>) -> Response {
    let (seq, halted) = {
        let shared = app.read();
        (shared.head.seq, shared.halted.is_some())
    };
    let healthy = app.is_healthy() && !halted;
    let status = match (halted, healthy) {
        (true, _) => "invariant_broken",
        (false, true) => "ok",
        (false, false) => "unhealthy",
    };
    let body = HealthResponse { status: status.to_owned(), seq, backend: app.backend.to_owned() };
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body)).into_response()
}

/// `GET /openapi.json`.
async fn openapi(State(app): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], app.openapi.clone()).into_response()
}

/// `GET /metrics`.
async fn metrics(State(app): State<AppState>) -> Response {
    let (journal_seq, accounts) = {
        let shared = app.read();
        (shared.head.seq, u64::try_from(shared.engine.state().accounts.len()).unwrap_or(u64::MAX))
    };
    let capacity = app.queue.max_capacity();
    let gauges = Gauges {
        journal_seq,
        queue_depth: u64::try_from(capacity.saturating_sub(app.queue.capacity())).unwrap_or(0),
        queue_capacity: u64::try_from(capacity).unwrap_or(u64::MAX),
        accounts,
        healthy: app.is_healthy(),
    };
    let mut body = app.metrics.render(gauges);
    crate::risk_view::render_gauges(&app, &mut body).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_concrete_paths() {
        assert!(path_matches("/v1/keys/{hash}", "/v1/keys/abc"));
        assert!(path_matches("/v1/keys", "/v1/keys"));
        assert!(!path_matches("/v1/keys/{hash}", "/v1/keys"));
        assert!(!path_matches("/v1/keys", "/v1/keys/abc"));
        assert!(!path_matches("/v1/state", "/v1/stats"));
    }
}
