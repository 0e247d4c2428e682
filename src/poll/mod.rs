//! Polling job boards. For now: recognising posting URLs. The poller itself
//! (HTTP, board grouping, confirmed closing, SSRF guard) joins in the poller issue.

pub mod url;

pub use self::url::{ApiBases, Recognized, Source, recognize};
