//! The accept loop and the client against each other on loopback: bodies
//! bounded, head bounds and timeouts enforced, connections bounded, and a
//! shutdown that closes kept connections and runs the `after` work first.
//! Every wait is bounded in time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, Request};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::Full;
use ledger_http::{
    connect, send, send_once, serve_router, serve_router_then, ConnectionLimits, ExchangeError,
    RunningServer,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Longest any step of these tests may take.
const STEP: Duration = Duration::from_secs(10);

/// Awaits `step`, failing the test if it takes longer than [`STEP`].
async fn within<T>(step: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STEP, step)
        .await
        .expect("a step took longer than STEP")
}

fn limits() -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_millis(300),
        max_connections: 4,
        max_head_bytes: Some(16 * 1024),
    }
}

fn routes() -> Router {
    Router::new()
        .route(
            "/small",
            get(|| async { ([(header::CONTENT_TYPE, "text/plain")], "hello") }),
        )
        .route("/big", get(|| async { vec![b'x'; 100_000] }))
}

async fn start(limits: ConnectionLimits) -> RunningServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve_router(listener, routes(), limits).unwrap()
}

fn get_request(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header(header::HOST, "test")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

#[tokio::test]
async fn bodies_are_bounded_by_the_caller() {
    let server = start(limits()).await;
    let at = server.local_addr().to_string();
    let reply = within(send_once(&at, get_request("/small"), 5))
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(&reply.body[..], b"hello");
    assert_eq!(
        reply.header(header::CONTENT_TYPE).as_deref(),
        Some("text/plain")
    );
    let over = within(send_once(&at, get_request("/small"), 4)).await;
    assert!(
        matches!(over, Err(ExchangeError::BodyTooLarge { limit: 4 })),
        "{over:?}"
    );
    let over = within(send_once(&at, get_request("/big"), 99_999)).await;
    assert!(
        matches!(over, Err(ExchangeError::BodyTooLarge { .. })),
        "{over:?}"
    );
    let reply = within(send_once(&at, get_request("/none"), 1024))
        .await
        .unwrap();
    assert_eq!(reply.status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn refused_connections_are_typed() {
    // Bind, note the port, close: nothing listens there any more.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap().to_string();
    drop(listener);
    let error = within(send_once(&at, get_request("/small"), 1024)).await;
    assert!(
        matches!(&error, Err(ExchangeError::Connect { authority, .. }) if *authority == at),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_slow_request_head_is_cut_off() {
    let server = start(limits()).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream
        .write_all(b"GET /small HTTP/1.1\r\nHost: t")
        .await
        .unwrap();
    // The server closes the connection after its header read timeout
    // (300 ms), long before STEP.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(STEP, stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection stayed open");
    assert!(!String::from_utf8_lossy(&rest).contains("hello"));
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversized_request_head_is_refused() {
    let server = start(limits()).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let filler = "a".repeat(64 * 1024);
    let head = format!("GET /small HTTP/1.1\r\nHost: t\r\nX-Filler: {filler}\r\n\r\n");
    // The server may close before it has read all of it.
    let _ = stream.write_all(head.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(STEP, stream.read_to_end(&mut answer))
        .await
        .expect("the connection stayed open");
    let answer = String::from_utf8_lossy(&answer);
    assert!(!answer.contains("hello"), "{answer}");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_bound_wait() {
    let server = start(ConnectionLimits {
        max_connections: 1,
        header_read_timeout: Duration::from_secs(5),
        ..limits()
    })
    .await;
    let at = server.local_addr().to_string();
    // The first connection holds the only permit while it is open.
    let mut first = within(connect(&at)).await.unwrap();
    let reply = send(&mut first, get_request("/small"), 1024).await.unwrap();
    assert_eq!(reply.status, 200);
    // A second one is accepted by the kernel but not served.
    let waiting = tokio::time::timeout(
        Duration::from_millis(300),
        send_once(&at, get_request("/small"), 1024),
    )
    .await;
    assert!(waiting.is_err(), "served beyond the bound: {waiting:?}");
    drop(first);
    let reply = within(send_once(&at, get_request("/small"), 1024))
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_kept_connections_and_runs_after() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ran);
    let server = serve_router_then(listener, routes(), limits(), async move {
        flag.store(true, Ordering::SeqCst);
    })
    .unwrap();
    let at = server.local_addr().to_string();
    let mut kept = within(connect(&at)).await.unwrap();
    assert_eq!(
        send(&mut kept, get_request("/small"), 1024)
            .await
            .unwrap()
            .status,
        200
    );
    within(server.shutdown()).await;
    assert!(ran.load(Ordering::SeqCst), "`after` had not run");
    // The kept connection was closed, and nothing listens any more.
    let again = within(send(&mut kept, get_request("/small"), 1024)).await;
    assert!(matches!(again, Err(ExchangeError::Http(_))), "{again:?}");
    let fresh = within(send_once(&at, get_request("/small"), 1024)).await;
    assert!(
        matches!(fresh, Err(ExchangeError::Connect { .. })),
        "{fresh:?}"
    );
}
