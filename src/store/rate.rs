//! The sending rate shared by every daemon of the database: a token bucket
//! in one row (`send_rate`: the tokens left as of `updated_ms`). It fills at
//! `[mail] rate_per_second` up to a small burst; a dispatcher takes a few
//! tokens at a time, one per email, so that all the daemons together send
//! no faster than the rate, however many there are and whenever they start
//! or stop. The clock is the wall clock in milliseconds: the daemons of one
//! database are expected to agree on the time (NTP); one that runs ahead
//! only makes the others wait a little.

use super::Store;
use crate::error::Result;
use sea_orm::{ConnectionTrait, DbBackend};
use std::time::Duration;

/// What a take gave.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Taken {
    /// This many tokens (at least one).
    Tokens(u32),
    /// None now; the next one in this long.
    Wait(Duration),
}

/// The bucket's size for `rate` per second: a tenth of a second's worth (at
/// least one), so that over any stretch of time the daemons send at most
/// that many more than the rate allows.
pub fn burst(rate: u32) -> u32 {
    (rate / 10).max(1)
}

/// Takes up to `want` tokens at `now_ms` from the bucket filled at `rate`
/// per second (not 0).
pub async fn take(store: &Store, rate: u32, want: u32, now_ms: i64) -> Result<Taken> {
    let txn = store.begin_write().await?;
    let lock = if store.backend() == DbBackend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let row = txn
        .query_one_raw(super::sql(
            store.backend(),
            &format!("SELECT tokens, updated_ms FROM send_rate WHERE id = 1{lock}"),
            vec![],
        ))
        .await?;
    let (tokens, updated): (f64, i64) = match row {
        Some(r) => (r.try_get("", "tokens")?, r.try_get("", "updated_ms")?),
        None => (0.0, now_ms),
    };
    let available = fill(tokens, updated, now_ms, rate);
    let granted = (available.floor() as u32).min(want);
    txn.execute_raw(super::sql(
        store.backend(),
        "UPDATE send_rate SET tokens = ?, updated_ms = ? WHERE id = 1",
        vec![
            (available - f64::from(granted)).into(),
            now_ms.max(updated).into(),
        ],
    ))
    .await?;
    txn.commit().await?;
    Ok(if granted > 0 {
        Taken::Tokens(granted)
    } else {
        Taken::Wait(Duration::from_secs_f64(
            ((1.0 - available) / f64::from(rate)).max(0.001),
        ))
    })
}

/// The tokens of a bucket that held `tokens` at `updated` ms, filled at
/// `rate` per second until `now` ms, at most [`burst`].
fn fill(tokens: f64, updated: i64, now: i64, rate: u32) -> f64 {
    let elapsed = (now - updated).max(0) as f64 / 1000.0;
    (tokens + elapsed * f64::from(rate)).min(f64::from(burst(rate)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_fills_at_the_rate_up_to_a_tenth_of_a_second() {
        assert_eq!(burst(20), 2);
        assert_eq!(burst(5), 1);
        assert_eq!(fill(0.0, 0, 100, 20), 2.0);
        assert_eq!(fill(0.0, 0, 50, 20), 1.0);
        assert_eq!(fill(0.0, 0, 10_000, 20), 2.0, "never more than the burst");
        assert_eq!(fill(1.5, 1000, 900, 20), 1.5, "a clock behind adds nothing");
    }
}
