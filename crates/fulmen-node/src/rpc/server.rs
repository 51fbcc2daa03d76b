//! The HTTP/1.1 JSON-RPC server (hyper), with cookie authentication, a
//! body size limit, a connection limit and graceful shutdown (a `stop`
//! request still gets its answer).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use super::{methods, RpcError};
use crate::error::NodeError;
use crate::node::Node;

/// Largest request body.
pub const MAX_BODY: usize = 1 << 20;
/// Most RPC connections at once.
pub const MAX_CONNECTIONS: usize = 32;
/// Time allowed to send the request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time the server waits for open requests at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

struct Ctx {
    node: Node,
    /// The expected `Authorization` header value.
    auth: Zeroizing<String>,
}

/// Writes a fresh cookie and the address file, and serves the node's RPC on
/// `listener` until the node stops.
pub(crate) fn start(listener: TcpListener, node: Node) -> Result<(), NodeError> {
    let addr = listener.local_addr().map_err(NodeError::Io)?;
    let datadir = node.datadir().clone();
    let cookie = datadir.write_new_cookie(node.inner.entropy.as_ref())?;
    datadir.write_rpc_address(addr)?;
    let ctx = Arc::new(Ctx {
        auth: cookie.authorization_header(),
        node: node.clone(),
    });
    let mut shutdown = node.inner.shutdown.subscribe();
    node.inner.tasks.spawn(async move {
        let graceful = GracefulShutdown::new();
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            tokio::select! {
                () = crate::tasks::stopped(&mut shutdown) => break,
                accepted = listener.accept() => {
                    let stream = match accepted {
                        Ok((stream, _)) => stream,
                        Err(e) => {
                            tracing::warn!(error = %e, "rpc accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        tracing::debug!("rpc connection refused: too many");
                        continue;
                    };
                    let ctx = ctx.clone();
                    let service = service_fn(move |req| {
                        let ctx = ctx.clone();
                        async move { Ok::<_, Infallible>(handle(req, &ctx).await) }
                    });
                    let conn = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        let _ = conn.await;
                        drop(permit);
                    });
                }
            }
        }
        drop(listener);
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    });
    Ok(())
}

fn response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn error_response(status: StatusCode, id: &Value, error: &RpcError) -> Response<Full<Bytes>> {
    response(
        status,
        &json!({ "jsonrpc": "2.0", "id": id, "error": error.to_json() }),
    )
}

/// Constant-time comparison of the `Authorization` header.
fn authorized(given: Option<&HeaderValue>, expected: &str) -> bool {
    let Some(given) = given else {
        return false;
    };
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn handle(req: Request<Incoming>, ctx: &Ctx) -> Response<Full<Bytes>> {
    let null = Value::Null;
    if !authorized(req.headers().get(AUTHORIZATION), &ctx.auth) {
        let mut resp = error_response(
            StatusCode::UNAUTHORIZED,
            &null,
            &RpcError::new(RpcError::INVALID_REQUEST, "authorization required"),
        );
        resp.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"fulmen\""),
        );
        return resp;
    }
    if req.method() != Method::POST {
        return error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &null,
            &RpcError::new(RpcError::INVALID_REQUEST, "use POST"),
        );
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &null,
                &RpcError::new(RpcError::INVALID_REQUEST, "request too large or broken"),
            )
        }
    };
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &null,
                &RpcError::new(RpcError::PARSE_ERROR, format!("invalid json: {e}")),
            )
        }
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            &id,
            &RpcError::new(
                RpcError::INVALID_REQUEST,
                "expected a request object with a method",
            ),
        );
    };
    let params = request.get("params").cloned().unwrap_or(Value::Null);
    tracing::debug!(method, "rpc request");
    match methods::dispatch(&ctx.node, method, &params).await {
        Ok(result) => response(
            StatusCode::OK,
            &json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        ),
        Err(e) => error_response(StatusCode::OK, &id, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_must_match_exactly() {
        let expected = "Basic abc";
        assert!(authorized(
            Some(&HeaderValue::from_static("Basic abc")),
            expected
        ));
        assert!(!authorized(
            Some(&HeaderValue::from_static("Basic abd")),
            expected
        ));
        assert!(!authorized(
            Some(&HeaderValue::from_static("Basic ab")),
            expected
        ));
        assert!(!authorized(
            Some(&HeaderValue::from_static("Basic abcd")),
            expected
        ));
        assert!(!authorized(None, expected));
    }
}
