//! Backstop as a service: one writer owns the engine behind an authenticated HTTP JSON API.
//!
//! [`start`] (for tests and embedding) and [`run`] (for `backstop serve`) open the journal
//! ([`backstop_ledger::Ledger`]), refuse to start if it began with another venue or if any
//! hash differs on recovery, and serve:
//!
//! - [`routes`]: the route table (method, path, roles) everything else is built from;
//! - [`auth`] and [`roles`]: API keys (stored hashed) and the role matrix for routes and commands;
//! - [`writer`]: the one thread that applies commands, journals them durably in group commits and
//!   answers the handlers waiting on it;
//! - [`commands`], [`views`], [`events`], [`keys`]: the handlers;
//! - [`payload`] and [`error`]: body parsing and the error envelope with stable codes;
//! - [`metrics`] and [`openapi`]: `/metrics` and `/openapi.json`;
//! - [`dashboard`]: the web dashboard at `/`, its embedded assets and `/v1/session`.
//!
//! docs/api.md describes the API for clients.

pub mod app;
pub mod auth;
pub mod commands;
pub mod dashboard;
pub mod envelope;
pub mod error;
pub mod events;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod payload;
pub mod risk;
pub mod risk_view;
pub mod roles;
pub mod routes;
pub mod stress;
pub mod views;
pub mod writer;

pub use auth::{KEY_PREFIX, NewKey, generate_key, hash_key};
pub use error::{ApiError, ErrorCode};
pub use roles::Role;

use crate::app::{App, Limits};
use crate::auth::KeyStore;
use crate::metrics::Metrics;
use crate::writer::{Message, Shared, Writer, WriterSettings};
use backstop_core::VenueConfig;
use backstop_ledger::{Ledger, LedgerError, Recovered};
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// How the server runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Journal location: a SQLite path (or `sqlite://PATH`), or `postgres://…`.
    pub db: String,
    /// The venue configuration (TOML text); must equal the journal's genesis if it has one.
    pub venue_toml: String,
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Requests the writer's queue holds before answering 503 `queue_full`.
    pub queue_capacity: usize,
    /// Most commands in one group commit.
    pub max_group_commands: usize,
    /// A snapshot every this many journal entries (0: never).
    pub snapshot_every: u64,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most commands in one batch request.
    pub max_batch_commands: usize,
    /// Pause before each group commit: zero in service; tests use it to fill the queue.
    pub commit_delay: Duration,
    /// On start, re-apply and verify every entry from genesis (as `backstop replay` does),
    /// checking each snapshot on the way; when false, start from the newest snapshot (every
    /// entry's hash and link still checked, but entries before it are not re-applied).
    pub verify_from_genesis: bool,
}

impl ServerConfig {
    /// A configuration with the default limits: queue 1024 requests, groups of up to 20,000
    /// commands, a snapshot every 1000 entries, 8 MiB bodies, 10,000 commands per batch, the
    /// whole journal verified from genesis on start.
    #[must_use]
    pub fn new(
        db: impl Into<String>,
        venue_toml: impl Into<String>,
        listen: SocketAddr,
    ) -> ServerConfig {
        ServerConfig {
            db: db.into(),
            venue_toml: venue_toml.into(),
            listen,
            queue_capacity: 1024,
            max_group_commands: 20_000,
            snapshot_every: 1000,
            max_body_bytes: 8 * 1024 * 1024,
            max_batch_commands: 10_000,
            commit_delay: Duration::ZERO,
            verify_from_genesis: true,
        }
    }
}

/// Why the server did not start (or stopped with an error).
#[derive(Debug)]
pub enum StartError {
    /// The venue configuration is invalid.
    Config(String),
    /// The journal could not be opened, initialized or verified (the message names the seq).
    Ledger(LedgerError),
    /// The listening socket could not be bound.
    Bind(SocketAddr, std::io::Error),
    /// The async runtime or a thread could not be started, or failed.
    Runtime(String),
}

impl core::fmt::Display for StartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StartError::Config(message) => write!(f, "invalid venue configuration: {message}"),
            StartError::Ledger(error) => write!(f, "journal: {error}"),
            StartError::Bind(addr, error) => write!(f, "cannot listen on {addr}: {error}"),
            StartError::Runtime(message) => write!(f, "runtime: {message}"),
        }
    }
}

impl std::error::Error for StartError {}

impl From<LedgerError> for StartError {
    fn from(error: LedgerError) -> StartError {
        StartError::Ledger(error)
    }
}

/// What startup found in the journal, ready to serve.
struct Prepared {
    /// The writer's ledger.
    ledger: Ledger,
    /// The readers' ledger.
    reader: Ledger,
    /// The engine rebuilt from the journal.
    recovered: Recovered,
    /// The accepted keys.
    keys: KeyStore,
}

/// How long a starting server waits for the journal's writer lock.
const WRITER_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Prepared {
    /// Opens and verifies the journal (blocking; call outside any async runtime).
    fn open(config: &ServerConfig) -> Result<Prepared, StartError> {
        VenueConfig::from_toml_str(&config.venue_toml)
            .map_err(|error| StartError::Config(error.to_string()))?;
        let mut ledger = Ledger::open(&config.db)?;
        // One writer per journal: a second server on the same journal refuses to start. The
        // wait covers a killed predecessor whose lock the OS or PostgreSQL is still releasing.
        ledger.lock_writer(WRITER_LOCK_WAIT)?;
        ledger.initialize(&config.venue_toml)?;
        // The head record is checked either way: a journal that lost acknowledged entries or
        // is another history than the one acknowledged refuses to start.
        let recovered = if config.verify_from_genesis {
            ledger.replay_from_genesis()?
        } else {
            ledger.recover()?
        };
        let mut reader = Ledger::open(&config.db)?;
        let (keys, skipped) = KeyStore::new(&reader.api_keys()?);
        for hash in skipped {
            eprintln!("backstop-server: ignoring key {hash}: unknown role");
        }
        Ok(Prepared { ledger, reader, recovered, keys })
    }
}

/// A server running in the background (see [`start`]).
pub struct RunningServer {
    /// The bound address.
    addr: SocketAddr,
    /// Journal head and backend at startup.
    recovered_seq: u64,
    /// Number of journal entries replayed after the snapshot at startup.
    replayed: u64,
    /// Whether the key table was empty at startup.
    no_keys: bool,
    /// Stops the server.
    stop: Option<oneshot::Sender<()>>,
    /// The thread running it.
    thread: Option<std::thread::JoinHandle<Result<(), StartError>>>,
}

impl RunningServer {
    /// The address the server listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The journal head the server started at.
    #[must_use]
    pub fn recovered_seq(&self) -> u64 {
        self.recovered_seq
    }

    /// Journal entries re-applied at startup (from genesis, or after the snapshot started from).
    #[must_use]
    pub fn replayed(&self) -> u64 {
        self.replayed
    }

    /// Whether the key table was empty at startup.
    #[must_use]
    pub fn has_no_keys(&self) -> bool {
        self.no_keys
    }

    /// Stops accepting, drains the writer's queue, and waits for everything to end.
    ///
    /// # Errors
    /// An error the server stopped with.
    pub fn shutdown(mut self) -> Result<(), StartError> {
        self.stop_and_join()
    }

    /// Signals the server and joins its thread.
    fn stop_and_join(&mut self) -> Result<(), StartError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(StartError::Runtime("the server thread panicked".into()))),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// Starts a server in background threads: returns once it listens (or failed to start).
///
/// # Errors
/// A bad venue configuration, a journal that cannot be opened or verified (another venue's,
/// or a hash mismatch at some seq), an address that cannot be bound.
pub fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    let prepared = Prepared::open(&config)?;
    let recovered_seq = prepared.recovered.head.seq;
    let replayed = prepared.recovered.batches_replayed;
    let no_keys = prepared.keys.is_empty();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<SocketAddr, StartError>>();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("backstop-server".into())
        .spawn(move || {
            let runtime = runtime()?;
            let ready = ready_tx.clone();
            let result = runtime.block_on(serve(
                prepared,
                config,
                move |addr| {
                    let _ = ready.send(Ok(addr));
                },
                async {
                    let _ = stop_rx.await;
                },
            ));
            match result {
                Ok(()) => Ok(()),
                Err(error) => {
                    // Before `ready`, this is how start() learns why; after, nobody listens.
                    let message = error.to_string();
                    if ready_tx.send(Err(error)).is_err() {
                        return Err(StartError::Runtime(message));
                    }
                    Err(StartError::Runtime(message))
                }
            }
        })
        .map_err(|error| StartError::Runtime(format!("cannot start the server thread: {error}")))?;
    match ready_rx.recv() {
        Ok(Ok(addr)) => Ok(RunningServer {
            addr,
            recovered_seq,
            replayed,
            no_keys,
            stop: Some(stop_tx),
            thread: Some(thread),
        }),
        Ok(Err(error)) => {
            let _ = thread.join();
            Err(error)
        }
        Err(_) => match thread.join() {
            Ok(Err(error)) => Err(error),
            _ => Err(StartError::Runtime("the server thread ended before listening".into())),
        },
    }
}

/// What [`run`] reports once listening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    /// The bound address.
    pub addr: SocketAddr,
    /// Journal head recovered at startup.
    pub seq: u64,
    /// Entries re-applied (from genesis, or after the snapshot started from).
    pub replayed: u64,
    /// Seq of the snapshot recovery started from, if any.
    pub snapshot_seq: Option<u64>,
    /// Whether the key table is empty (nobody can call a protected route yet).
    pub no_keys: bool,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
}

/// Runs a server in the current thread until SIGINT or SIGTERM, then shuts down gracefully
/// (stops accepting, answers what is queued, exits). `on_ready` is called once listening.
///
/// # Errors
/// As [`start`], and runtime failures.
pub fn run(config: ServerConfig, on_ready: impl FnOnce(Ready)) -> Result<(), StartError> {
    let prepared = Prepared::open(&config)?;
    let mut ready = Ready {
        addr: config.listen,
        seq: prepared.recovered.head.seq,
        replayed: prepared.recovered.batches_replayed,
        snapshot_seq: prepared.recovered.snapshot_seq,
        no_keys: prepared.keys.is_empty(),
        backend: prepared.ledger.backend(),
    };
    let runtime = runtime()?;
    let stop = {
        let _context = runtime.enter();
        termination()?
    };
    runtime.block_on(serve(
        prepared,
        config,
        move |addr| {
            ready.addr = addr;
            on_ready(ready);
        },
        stop,
    ))
}

/// The multi-threaded runtime the server runs on.
fn runtime() -> Result<tokio::runtime::Runtime, StartError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("backstop-http")
        .build()
        .map_err(|error| StartError::Runtime(format!("cannot start the async runtime: {error}")))
}

/// A future resolving on SIGINT or SIGTERM. The handlers are installed now (inside the
/// runtime), before the server says it is ready, so an early signal still stops it gracefully.
fn termination()
-> Result<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>, StartError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind: SignalKind| {
            signal(kind).map_err(|error| {
                StartError::Runtime(format!("cannot install a signal handler: {error}"))
            })
        };
        let mut interrupt = install(SignalKind::interrupt())?;
        let mut terminate = install(SignalKind::terminate())?;
        Ok(Box::pin(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }))
    }
    #[cfg(not(unix))]
    {
        Ok(Box::pin(async {
            let _ = tokio::signal::ctrl_c().await;
        }))
    }
}

/// Serves until `stop` resolves, then drains and ends.
async fn serve(
    prepared: Prepared,
    config: ServerConfig,
    on_ready: impl FnOnce(SocketAddr),
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let Prepared { ledger, reader, mut recovered, keys } = prepared;
    let backend = ledger.backend();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|error| StartError::Bind(config.listen, error));
    let listener = match listener {
        Ok(listener) => listener,
        Err(error) => {
            drop_blocking(ledger, reader).await;
            return Err(error);
        }
    };
    let addr = listener.local_addr().map_err(|error| StartError::Bind(config.listen, error))?;
    let state_hash = recovered.engine.state_hash();
    // The writer checks the invariants once per submission (writer.rs `plan`).
    recovered.engine.set_invariant_checks(backstop_core::InvariantChecks::Deferred);
    let shared = Arc::new(RwLock::new(Shared {
        engine: recovered.engine,
        head: recovered.head,
        state_hash,
        halted: None,
    }));
    let metrics = Arc::new(Metrics::default());
    let healthy = Arc::new(AtomicBool::new(true));
    let (live, _) = broadcast::channel(4096);
    let (queue, queue_rx) = mpsc::channel::<Message>(config.queue_capacity.max(1));
    let writer = Writer {
        ledger,
        shared: Arc::clone(&shared),
        keys: recovered.keys.into_iter().collect(),
        live: live.clone(),
        metrics: Arc::clone(&metrics),
        healthy: Arc::clone(&healthy),
        settings: WriterSettings {
            max_group_commands: config.max_group_commands,
            snapshot_every: config.snapshot_every,
            commit_delay: config.commit_delay,
        },
    };
    let writer_thread = std::thread::Builder::new()
        .name("backstop-writer".into())
        .spawn(move || writer.run(queue_rx))
        .map_err(|error| StartError::Runtime(format!("cannot start the writer: {error}")))?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let document = openapi::document()
        .to_json()
        .map_err(|error| StartError::Runtime(format!("OpenAPI document: {error}")))?;
    let reader = Arc::new(Mutex::new(Some(reader)));
    let key_store = Arc::new(RwLock::new(keys));
    let app = Arc::new(App {
        shared,
        queue: queue.clone(),
        reader: Arc::clone(&reader),
        keys: Arc::clone(&key_store),
        live,
        metrics,
        healthy,
        limits: Limits {
            max_body_bytes: config.max_body_bytes,
            max_batch_commands: config.max_batch_commands,
        },
        backend,
        openapi: document,
        shutdown: shutdown_rx.clone(),
    });
    let refresher = tokio::spawn(refresh_keys(Arc::clone(&app), shutdown_rx.clone()));
    let router = app::router(Arc::clone(&app));
    drop(app);
    on_ready(addr);
    let signal_tx = shutdown_tx.clone();
    let graceful = async move {
        stop.await;
        // End live streams so open connections can finish.
        let _ = signal_tx.send(true);
    };
    let served = axum::serve(listener, router).with_graceful_shutdown(graceful).await;
    let _ = shutdown_tx.send(true);
    let _ = refresher.await;
    // Everything accepted before the stop is still answered: the writer drains its queue.
    let _ = queue.send(Message::Stop).await;
    drop(queue);
    let joined = tokio::task::spawn_blocking(move || writer_thread.join()).await;
    // The reader ledger may hold a PostgreSQL client with its own runtime: drop it off the
    // async threads.
    let _ = tokio::task::spawn_blocking(move || {
        let ledger = reader.lock().unwrap_or_else(PoisonError::into_inner).take();
        drop(ledger);
    })
    .await;
    served.map_err(|error| StartError::Runtime(format!("serving failed: {error}")))?;
    match joined {
        Ok(Ok(())) => Ok(()),
        _ => Err(StartError::Runtime("the writer thread panicked".into())),
    }
}

/// Drops ledgers off the async threads; the writer last, so that on SQLite closing its lock
/// descriptor (which drops this process's POSIX locks on the file) finds no connection open.
async fn drop_blocking(ledger: Ledger, reader: Ledger) {
    let _ = tokio::task::spawn_blocking(move || {
        drop(reader);
        drop(ledger);
    })
    .await;
}

/// Re-reads the key table every [`keys::REFRESH_INTERVAL`], so keys added or revoked with
/// `backstop keys` while the server runs take effect.
async fn refresh_keys(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stopped| *stopped) => return,
            () = tokio::time::sleep(keys::REFRESH_INTERVAL) => {}
        }
        let store = Arc::clone(&app.keys);
        if let Err(error) = app.with_reader(move |ledger| keys::refresh(ledger, &store)).await {
            eprintln!("backstop-server: could not refresh API keys: {error}");
        }
    }
}
