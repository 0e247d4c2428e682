//! Polling job boards (SPEC §1 "Polling"): URL recognition ([`url`]), what
//! the boards answer ([`boards`]), the status rules ([`decide`]), the SSRF
//! guard ([`guard`]), the HTTP client ([`http`]) and the poller that ties them
//! together ([`poller`]).

pub mod boards;
pub mod decide;
pub mod guard;
pub mod http;
pub mod poller;
pub mod url;

pub use self::url::{ApiBases, Recognized, Source, recognize};
