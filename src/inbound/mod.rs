//! Mail that comes back: bounces, candidates' replies, auto-replies.
//!
//! - [`tags`]: the VERP addresses of outgoing mail (`bounces+…`, `reply+…`);
//! - [`dsn`]: reading a delivery report (RFC 3464) and the common
//!   non-standard ones;
//! - [`receive`]: one message in — classified, stored once, acted on in one
//!   transaction.

pub mod dsn;
pub mod receive;
pub mod tags;
