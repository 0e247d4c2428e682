//! atsd as a service (SPEC §4): what `atsd run` tells systemd ([`notify`]),
//! the health and metrics it serves ([`http`], [`metrics`]), and the signals
//! it answers (SIGTERM/SIGINT stop, SIGHUP reload). [`Service`] is the
//! daemon's [`Lifecycle`]: the scheduler loop calls it, and it feeds the
//! watchdog, the `STATUS=` line, `/healthz` and `/metrics`.

pub mod exposition;
pub mod http;
pub mod memory;
pub mod metrics;
pub mod notify;

use crate::daemon::{JobEnd, Lifecycle};
use crate::store::Store;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// `/healthz` calls the scheduler stuck when its loop has not turned for this
/// long (it turns at least every 2 s; a database that stops answering can
/// hold it up to 10 s).
pub const SCHEDULER_STALE: Duration = Duration::from_secs(15);

/// How long `/healthz` waits for the database.
pub const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// What `/healthz` looks at: the database and the scheduler loop's last turn.
pub struct Health {
    pub store: Store,
    pub instance: String,
    started: Instant,
    /// Milliseconds from `started` to the loop's last turn, plus one (0: none yet).
    last_tick: AtomicU64,
}

#[derive(Debug, Serialize)]
pub struct HealthReport {
    #[serde(skip)]
    pub ok: bool,
    /// `ok` or `unavailable`.
    pub status: &'static str,
    pub database: String,
    pub scheduler: String,
    pub instance: String,
    pub version: &'static str,
}

impl Health {
    pub fn new(store: Store, instance: String) -> Health {
        Health {
            store,
            instance,
            started: Instant::now(),
            last_tick: AtomicU64::new(0),
        }
    }

    fn mark_tick(&self) {
        let ms = self.started.elapsed().as_millis() as u64 + 1;
        self.last_tick.store(ms, Ordering::Relaxed);
    }

    /// Since the loop's last turn (None: it has not turned yet).
    pub fn since_tick(&self) -> Option<Duration> {
        match self.last_tick.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(
                self.started
                    .elapsed()
                    .saturating_sub(Duration::from_millis(ms - 1)),
            ),
        }
    }

    async fn database(&self) -> std::result::Result<(), String> {
        // a SQLite file moved or deleted under a running daemon still answers
        // through the connections already open: look at the file itself
        if let Some(path) = crate::store::sqlite_file(self.store.url())
            && let Err(e) = std::fs::File::open(&path)
        {
            return Err(format!("cannot open {}: {e}", path.display()));
        }
        match tokio::time::timeout(DATABASE_TIMEOUT, self.store.ping()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {DATABASE_TIMEOUT:?}")),
        }
    }

    pub async fn check(&self) -> HealthReport {
        let database = self.database().await;
        let scheduler = match self.since_tick() {
            None => Err("not started yet".to_string()),
            Some(d) if d > SCHEDULER_STALE => Err(format!(
                "the scheduler loop last turned {:.0} s ago",
                d.as_secs_f64()
            )),
            Some(_) => Ok(()),
        };
        let ok = database.is_ok() && scheduler.is_ok();
        let says = |r: std::result::Result<(), String>| match r {
            Ok(()) => "ok".to_string(),
            Err(e) => e,
        };
        HealthReport {
            ok,
            status: if ok { "ok" } else { "unavailable" },
            database: says(database),
            scheduler: says(scheduler),
            instance: self.instance.clone(),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// The daemon's [`Lifecycle`] under a service manager.
pub struct Service {
    pub notifier: notify::Notifier,
    /// The configuration the API works with.
    pub current: Arc<crate::jobs::Current>,
    pub health: Arc<Health>,
    pub metrics: Arc<metrics::Metrics>,
    status: Mutex<String>,
    /// When start-up's pages go back ([`memory::give_back_start_up`]): a
    /// while after READY=1, once the jobs caught up at start have run.
    give_back_at: Mutex<Option<Instant>>,
}

/// How long after READY=1 start-up's pages go back.
const GIVE_BACK_AFTER: Duration = Duration::from_secs(10);

impl Service {
    pub fn new(
        health: Arc<Health>,
        metrics: Arc<metrics::Metrics>,
        current: Arc<crate::jobs::Current>,
    ) -> Service {
        Service {
            notifier: notify::Notifier::from_env(),
            current,
            health,
            metrics,
            status: Mutex::new("scheduling".into()),
            give_back_at: Mutex::new(None),
        }
    }
}

impl Lifecycle for Service {
    fn ready(&self) {
        // the loop is about to turn: healthy from the first READY=1 on
        self.health.mark_tick();
        // what only start-up used goes back soon (again after a reload)
        if let Ok(mut at) = self.give_back_at.lock() {
            *at = Some(Instant::now() + GIVE_BACK_AFTER);
        }
        let status = self
            .status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|_| "scheduling".into());
        self.notifier.ready(&status);
    }

    fn tick(&self, _now: DateTime<Utc>) {
        self.health.mark_tick();
        self.notifier.watchdog_ping();
        let due = self
            .give_back_at
            .lock()
            .is_ok_and(|mut at| at.take_if(|at| *at <= Instant::now()).is_some());
        if due {
            let (before, after) = memory::give_back_start_up();
            tracing::debug!(
                before_kib = before,
                after_kib = after,
                "start-up's pages given back"
            );
        }
    }

    fn tick_every(&self) -> Option<Duration> {
        self.notifier.ping_every()
    }

    fn configured(&self, runner: &Arc<crate::jobs::Runner>) {
        self.current.set(runner.clone());
    }

    fn job_done(&self, end: &JobEnd<'_>) {
        self.metrics.record(end);
    }

    fn status(&self, line: &str) {
        let changed = match self.status.lock() {
            Ok(mut s) if *s != line => {
                *s = line.to_string();
                true
            }
            Ok(_) => false,
            Err(_) => true,
        };
        if changed {
            self.notifier.status(line);
        }
    }

    fn reloading(&self) {
        self.notifier.reloading();
    }

    fn stopping(&self) {
        self.notifier.stopping();
    }
}

/// SIGTERM and SIGINT cancel `cancel`; each SIGHUP sends on `reload`.
pub fn handle_signals(cancel: CancellationToken, reload: tokio::sync::mpsc::Sender<()>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot listen for SIGTERM, SIGINT and SIGHUP");
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => {
                    tracing::info!("SIGTERM: shutting down");
                    break;
                }
                _ = int.recv() => {
                    tracing::info!("SIGINT: shutting down");
                    break;
                }
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the configuration");
                    // a reload already waiting covers this one too
                    let _ = reload.try_send(());
                }
            }
        }
        cancel.cancel();
    });
}
