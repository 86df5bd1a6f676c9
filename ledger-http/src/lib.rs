//! The HTTP plumbing that the ledger's servers (`ledger serve`'s read API,
//! the witness) and clients (`ledger verify`, the witness client, the log's
//! submitter) share, so that each hardening exists once:
//!
//! - [`server`]: the accept loop. At most a set number of connections, a
//!   request head read under a timeout (and bounded in bytes), HTTP/1.1
//!   keep-alive, and a shutdown that closes every connection before it
//!   returns.
//! - [`client`]: one request over a fresh connection (or a kept one), the
//!   response body bounded in bytes, errors typed.
//!
//! What a route accepts (bodies, their limits) stays with the crate that
//! owns the route.

pub mod client;
pub mod server;

pub use client::{collect_body, collect_bounded, connect, send, send_once, ExchangeError, Reply};
pub use server::{serve_router, serve_router_then, ConnectionLimits, RunningServer};
