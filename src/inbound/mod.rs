//! Mail that comes back: bounces, candidates' replies, auto-replies.
//!
//! - [`crate::mail::tags`]: the VERP addresses of outgoing mail (`bounces+…`, `reply+…`), which this module reads back;
//! - [`dsn`]: reading a delivery report (RFC 3464) and the common
//!   non-standard ones;
//! - [`receive`]: one message in — classified, stored once, acted on in one
//!   transaction;
//! - [`quarantine`]: what acts on nothing, kept within bounds; its release
//!   and drop;
//! - [`lmtp`]: the LMTP listener `atsd run` serves on loopback.

pub mod bounce_text;
pub mod dsn;
pub mod itip;
pub mod lmtp;
pub mod quarantine;
pub mod read;
pub mod receive;
