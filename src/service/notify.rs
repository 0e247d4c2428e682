//! systemd's notify protocol (`sd_notify(3)`) through the `sd-notify` crate:
//! `READY=1`, `WATCHDOG=1`, `RELOADING=1` with `MONOTONIC_USEC`,
//! `STOPPING=1` and `STATUS=` lines. `NOTIFY_SOCKET` is never unset, so a
//! reload can say `READY=1` again. Without `NOTIFY_SOCKET` nothing is sent.

use sd_notify::NotifyState;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub struct Notifier {
    enabled: bool,
    watchdog: Option<Duration>,
    warned: AtomicBool,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`.
    pub fn from_env() -> Notifier {
        Notifier {
            enabled: std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty()),
            watchdog: sd_notify::watchdog_enabled(),
            warned: AtomicBool::new(false),
        }
    }

    /// The watchdog interval systemd asked for (`WatchdogSec=`), if any.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    /// How often the loop must ping: a quarter of the watchdog interval, so
    /// that a busy machine still keeps it well fed.
    pub fn ping_every(&self) -> Option<Duration> {
        self.watchdog
            .map(|w| (w / 4).max(Duration::from_millis(10)))
    }

    fn send(&self, states: &[NotifyState<'_>]) {
        if !self.enabled {
            return;
        }
        if let Err(e) = sd_notify::notify(states)
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(error = %e, "cannot notify the service manager (NOTIFY_SOCKET)");
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    pub fn watchdog_ping(&self) {
        if self.watchdog.is_some() {
            self.send(&[NotifyState::Watchdog]);
        }
    }

    pub fn status(&self, line: &str) {
        self.send(&[NotifyState::Status(line)]);
    }

    pub fn reloading(&self) {
        match NotifyState::monotonic_usec_now() {
            Ok(t) => self.send(&[
                NotifyState::Reloading,
                t,
                NotifyState::Status("reloading the configuration"),
            ]),
            Err(_) => self.send(&[NotifyState::Reloading]),
        }
    }

    pub fn stopping(&self) {
        self.send(&[
            NotifyState::Stopping,
            NotifyState::Status("stopping: finishing or handing back the work in hand"),
        ]);
    }
}
