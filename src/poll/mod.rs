//! Polling job boards (SPEC §1 "Polling"): what the job boards answer
//! ([`job_boards`]), the status rules ([`decide`]), the SSRF guard ([`guard`]),
//! the HTTP client ([`http`]) and the poller that ties them together
//! ([`poller`]), and what one poll changes ([`record`]). Which job board and
//! API a posting's URL belongs to is [`crate::posting::url`].

pub mod decide;
pub mod guard;
pub mod http;
pub mod job_boards;
pub mod poller;
pub mod record;
