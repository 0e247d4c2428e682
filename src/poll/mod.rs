//! Polling job boards (SPEC §1 "Polling"): what the boards answer
//! ([`boards`]), the status rules ([`decide`]), the SSRF guard ([`guard`]),
//! the HTTP client ([`http`]) and the poller that ties them together
//! ([`poller`]). Which job board and API a posting's URL belongs to is
//! [`crate::posting::url`].

pub mod boards;
pub mod decide;
pub mod guard;
pub mod http;
pub mod poller;
pub mod record;
