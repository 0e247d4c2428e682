//! How a dispatch run paces itself: the rate limit and the time it may
//! take.

use super::*;

/// How the run paces itself.
#[derive(Clone, Copy)]
pub(super) struct Pace {
    pub(super) record: Record,
    /// Rows claimed at once.
    pub(super) batch: usize,
    /// The shared rate (0: none).
    pub(super) rate: u32,
    /// Outcomes gathered before a commit (batched).
    pub(super) flush_at: usize,
}

impl Pace {
    pub(super) fn new(config: &Config) -> Pace {
        let pool = config.mail.smtp.pool_size.max(1) as usize;
        let rate = config.mail.rate_per_second;
        // claim ahead only what can be sent soon (250 per connection, or two
        // seconds' worth under a rate cap), and queue at most one more claim
        let batch = match rate {
            0 => pool * 250,
            r => (r as usize * 2).clamp(pool, pool * 250),
        };
        // batched: the recorder commits once half of what may be unrecorded
        // has gathered, so the workers go on sending the other half meanwhile
        let flush_at = (pool * UNRECORDED_PER_CONNECTION / 2).clamp(1, batch);
        Pace {
            record: config.mail.record,
            batch,
            rate,
            flush_at,
        }
    }

    /// Whether a connection asks for its next row's mark while this row is
    /// on the wire: recording each outcome, unpaced (where the commits, not
    /// the rate, set the pace). A crash may then resend two emails per
    /// connection instead of one.
    pub(super) fn pipelined(&self) -> bool {
        self.record == Record::Each && self.rate == 0
    }
}

/// Takes the shared rate's tokens for this run, one per email.
pub(super) struct Pacer {
    pub(super) store: Store,
    pub(super) rate: u32,
    /// Tokens taken from the bucket and not yet spent.
    pub(super) local: Mutex<u32>,
}

impl Pacer {
    pub(super) async fn acquire(&self) -> Result<()> {
        let mut local = self.local.lock().await;
        loop {
            if *local > 0 {
                *local -= 1;
                return Ok(());
            }
            let now_ms = Utc::now().timestamp_millis();
            match rate::take(&self.store, self.rate, rate::burst(self.rate), now_ms).await? {
                Taken::Tokens(n) => *local = n,
                Taken::Wait(d) => tokio::time::sleep(d).await,
            }
        }
    }
}
