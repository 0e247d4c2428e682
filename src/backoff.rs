//! The wait before trying again after failures (pure): exponential, capped,
//! with deterministic jitter.

use chrono::Duration;

/// Deterministic jitter in [-20 %, +20 %] from a seed (the row's id and its
/// attempt), so that things failing together do not retry in lockstep.
fn jitter(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ((z % 10_000) as f64 / 10_000.0) * 0.4 - 0.2
}

/// `base` doubled for each failure after the first, capped at `max`, with
/// ±20 % jitter: the poller's, the email outbox's and the webhook
/// deliveries' wait after a failure.
pub fn exponential(base: Duration, max: Duration, failures: i32, seed: u64) -> Duration {
    let exp = (failures.max(1) - 1).min(30);
    let base = base.num_milliseconds().max(1) as f64;
    let raw = (base * 2f64.powi(exp)).min(max.num_milliseconds() as f64);
    let ms = raw * (1.0 + jitter(seed ^ (failures as u64).rotate_left(32)));
    Duration::milliseconds(ms as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_its_cap_within_the_jitter() {
        let base = Duration::minutes(1);
        let max = Duration::hours(6);
        for failures in 1..40 {
            let want =
                (60_000f64 * 2f64.powi((failures - 1).min(30))).min(max.num_milliseconds() as f64);
            let got = exponential(base, max, failures, 7).num_milliseconds() as f64;
            assert!(
                got >= want * 0.8 - 1.0 && got <= want * 1.2 + 1.0,
                "{failures}: {got} vs {want}"
            );
        }
        // the same seed and count, the same wait; another seed, another
        assert_eq!(exponential(base, max, 3, 1), exponential(base, max, 3, 1));
        assert_ne!(exponential(base, max, 3, 1), exponential(base, max, 3, 2));
    }
}
