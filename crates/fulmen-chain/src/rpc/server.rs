//! The chain server: Bitcoin Core compatible JSON-RPC over HTTP/1.1 (keep-alive) on tokio,
//! serving an [`EmbeddedChain`] through [`Service`].
//!
//! Protocol, as bitcoind's HTTP server behaves:
//! - only `POST` (any path); HTTP basic auth, a wrong or missing `Authorization` gets `401` after
//!   a 250 ms pause (bitcoind's brute-force brake);
//! - a body that is not JSON gets `500` with error `-32700`; bodies above the configured limit get
//!   `413`;
//! - a request object without `"jsonrpc": "2.0"` is JSON-RPC 1.0: the reply always carries
//!   `result`, `error` and `id`, and errors set the HTTP status (`404` for an unknown method, `400`
//!   for an invalid request, `500` otherwise); with `"2.0"` replies carry `result` *or* `error`,
//!   the status is `200`, and notifications (no `id`) get `204`;
//! - an array is a batch: one reply per request object (2.0 notifications omitted), status `200`.
//!
//! Method handlers are synchronous (the chain is behind a mutex) and run on tokio's blocking pool.
//! Idle connections are closed after [`ServerConfig::idle_timeout`]; at most
//! [`ServerConfig::max_connections`] are served at once (more are closed on accept).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
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
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::auth::Credentials;
use super::error::{
    RpcError, RPC_INTERNAL_ERROR, RPC_INVALID_REQUEST, RPC_METHOD_NOT_FOUND, RPC_PARSE_ERROR,
};
use super::service::{Clock, Service};
use crate::embedded::EmbeddedChain;

/// Settings of the chain server.
#[derive(Clone)]
pub struct ServerConfig {
    /// Who may call.
    pub credentials: Credentials,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most connections served at once.
    pub max_connections: usize,
    /// How long a connection may wait for (the headers of) its next request.
    pub idle_timeout: Duration,
    /// Pause before answering a request with wrong credentials.
    pub auth_failure_delay: Duration,
    /// The server's clock (Unix seconds): block timestamps and mempool entry times.
    pub clock: Clock,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("credentials", &self.credentials)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_connections", &self.max_connections)
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// Defaults (32 MiB bodies, 128 connections, 30 s idle timeout, 250 ms auth brake, the system
    /// clock) for these credentials.
    pub fn new(credentials: Credentials) -> Self {
        ServerConfig {
            credentials,
            max_body_bytes: 32 * 1024 * 1024,
            max_connections: 128,
            idle_timeout: Duration::from_secs(30),
            auth_failure_delay: Duration::from_millis(250),
            clock: Arc::new(system_time),
        }
    }
}

/// Seconds since the Unix epoch from the system clock (0 if the clock is before 1970).
pub fn system_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

struct Ctx {
    service: Arc<Service>,
    config: ServerConfig,
}

/// Serves `chain` on `listener` until `shutdown` completes or a client calls `stop`. Open
/// connections are dropped on return.
pub async fn serve(
    listener: TcpListener,
    chain: EmbeddedChain,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let service = Arc::new(Service::new(chain, Arc::clone(&config.clock)));
    service.on_stop(Box::new(move || {
        let _ = stop_tx.send(true);
    }));
    let limit = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let idle = config.idle_timeout;
    let ctx = Arc::new(Ctx { service, config });
    let mut conns = JoinSet::new();
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = stop_rx.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // E.g. out of file descriptors: back off instead of spinning.
                        tracing::warn!(error = %e, "rpc server: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
                    tracing::warn!(%peer, "rpc server: too many connections, closing new one");
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let ctx = Arc::clone(&ctx);
                let watcher = graceful.watcher();
                conns.spawn(async move {
                    let _permit = permit;
                    let svc = service_fn(move |req| handle(req, Arc::clone(&ctx)));
                    let conn = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(idle)
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc);
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(%peer, error = %e, "rpc server: connection ended");
                    }
                });
            }
        }
    }
    // Let requests in flight (a `stop` call among them) finish; close idle connections.
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("rpc server: requests still running at shutdown; dropping them");
    }
    conns.abort_all();
}

/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

fn response(status: StatusCode, body: Bytes, json: bool) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    if json {
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    r
}

fn json_response(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut body = value.to_string().into_bytes();
    body.push(b'\n');
    response(status, Bytes::from(body), true)
}

async fn handle(
    req: Request<Incoming>,
    ctx: Arc<Ctx>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::POST {
        return Ok(response(
            StatusCode::METHOD_NOT_ALLOWED,
            Bytes::from_static(b"JSONRPC server handles only POST requests"),
            false,
        ));
    }
    let authorized = req
        .headers()
        .get(AUTHORIZATION)
        .is_some_and(|h| ctx.config.credentials.matches_header(h.as_bytes()));
    if !authorized {
        tracing::warn!("rpc server: incorrect or missing credentials");
        tokio::time::sleep(ctx.config.auth_failure_delay).await;
        let mut r = response(StatusCode::UNAUTHORIZED, Bytes::new(), false);
        r.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"jsonrpc\""),
        );
        return Ok(r);
    }
    let body = match Limited::new(req.into_body(), ctx.config.max_body_bytes)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let too_large = e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            let status = if too_large {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            return Ok(response(status, Bytes::new(), false));
        }
    };
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return Ok(json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &reply_v1(
                &Value::Null,
                Err(&RpcError::new(RPC_PARSE_ERROR, "Parse error")),
            ),
        ));
    };
    let service = Arc::clone(&ctx.service);
    let outcome = tokio::task::spawn_blocking(move || execute(&service, value)).await;
    Ok(match outcome {
        Ok(Outcome::Reply(status, value)) => json_response(status, &value),
        Ok(Outcome::NoContent) => response(StatusCode::NO_CONTENT, Bytes::new(), false),
        Err(e) => {
            tracing::error!(error = %e, "rpc server: method handler failed");
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &reply_v1(
                    &Value::Null,
                    Err(&RpcError::new(RPC_INTERNAL_ERROR, "Internal error")),
                ),
            )
        }
    })
}

/// What to send back for one HTTP request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// A JSON reply with this status.
    Reply(StatusCode, Value),
    /// `204 No Content` (a JSON-RPC 2.0 notification).
    NoContent,
}

/// Runs a parsed request body: a request object or a batch.
pub(crate) fn execute(service: &Service, value: Value) -> Outcome {
    match value {
        Value::Object(request) => match call_one(service, &request) {
            Reply::Notification => Outcome::NoContent,
            Reply::V2(v) => Outcome::Reply(StatusCode::OK, v),
            Reply::V1(v, code) => Outcome::Reply(status_for(code), v),
        },
        Value::Array(requests) => {
            let replies: Vec<Value> = requests
                .iter()
                .filter_map(|r| match r {
                    Value::Object(request) => match call_one(service, request) {
                        Reply::Notification => None,
                        Reply::V1(v, _) | Reply::V2(v) => Some(v),
                    },
                    _ => Some(reply_v1(
                        &Value::Null,
                        Err(&RpcError::new(
                            RPC_INVALID_REQUEST,
                            "Invalid Request object",
                        )),
                    )),
                })
                .collect();
            Outcome::Reply(StatusCode::OK, Value::Array(replies))
        }
        _ => Outcome::Reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            reply_v1(
                &Value::Null,
                Err(&RpcError::new(
                    RPC_PARSE_ERROR,
                    "Top-level object parse error",
                )),
            ),
        ),
    }
}

/// HTTP status of a JSON-RPC 1.0 reply with this error code (None = success).
fn status_for(code: Option<i32>) -> StatusCode {
    match code {
        None => StatusCode::OK,
        Some(RPC_INVALID_REQUEST) => StatusCode::BAD_REQUEST,
        Some(RPC_METHOD_NOT_FOUND) => StatusCode::NOT_FOUND,
        Some(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

enum Reply {
    /// JSON-RPC 1.0 reply and its error code, if it is an error.
    V1(Value, Option<i32>),
    /// JSON-RPC 2.0 reply.
    V2(Value),
    /// JSON-RPC 2.0 notification: no reply.
    Notification,
}

fn reply_v1(id: &Value, result: Result<&Value, &RpcError>) -> Value {
    match result {
        Ok(r) => json!({ "result": r, "error": null, "id": id }),
        Err(e) => json!({ "result": null, "error": e.to_json(), "id": id }),
    }
}

fn call_one(service: &Service, request: &Map<String, Value>) -> Reply {
    let v2 = request.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let result = match request.get("method") {
        Some(Value::String(method)) => {
            tracing::debug!(%method, "rpc call");
            service.call(method, request.get("params"))
        }
        Some(_) => Err(RpcError::new(
            RPC_INVALID_REQUEST,
            "Method must be a string",
        )),
        None => Err(RpcError::new(RPC_INVALID_REQUEST, "Missing method")),
    };
    if v2 {
        if !request.contains_key("id") {
            return Reply::Notification;
        }
        return Reply::V2(match &result {
            Ok(r) => json!({ "jsonrpc": "2.0", "result": r, "id": id }),
            Err(e) => json!({ "jsonrpc": "2.0", "error": e.to_json(), "id": id }),
        });
    }
    let code = result.as_ref().err().map(|e| e.code);
    Reply::V1(reply_v1(&id, result.as_ref()), code)
}

/// A chain server running on its own thread (with its own tokio runtime): for tests and for
/// synchronous programs. Stops when [`RpcServer::shutdown`] is called or it is dropped.
#[derive(Debug)]
pub struct RpcServer {
    local_addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RpcServer {
    /// Binds `listen` (port 0 picks a free port) and starts serving `chain`.
    pub fn start(
        chain: EmbeddedChain,
        listen: SocketAddr,
        config: ServerConfig,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind(listen))?;
        let local_addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("fulmen-rpc-server".into())
            .spawn(move || {
                runtime.block_on(serve(listener, chain, config, async {
                    let _ = rx.await;
                }));
                runtime.shutdown_background();
            })?;
        Ok(RpcServer {
            local_addr,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops serving and waits for the server thread to end.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RpcServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EmbeddedConfig;

    fn service() -> Service {
        Service::new(
            EmbeddedChain::in_memory(EmbeddedConfig::default()),
            Arc::new(|| 1_700_000_000),
        )
    }

    #[test]
    fn v1_errors_set_http_status() {
        let s = service();
        let out = execute(&s, json!({"method": "nope", "id": 7}));
        let Outcome::Reply(status, v) = out else {
            panic!()
        };
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(v["error"]["code"], -32601);
        assert_eq!(v["id"], 7);
        assert!(v["result"].is_null());
        let Outcome::Reply(status, v) = execute(&s, json!({"id": 1})) else {
            panic!()
        };
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(v["error"]["code"], -32600);
        let Outcome::Reply(status, v) = execute(&s, json!({"method": "getblockcount"})) else {
            panic!()
        };
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v, json!({"result": 0, "error": null, "id": null}));
    }

    #[test]
    fn v2_replies_and_notifications() {
        let s = service();
        let Outcome::Reply(status, v) =
            execute(&s, json!({"jsonrpc": "2.0", "method": "nope", "id": "a"}))
        else {
            panic!()
        };
        assert_eq!(status, StatusCode::OK);
        assert!(v.get("result").is_none());
        assert_eq!(v["error"]["code"], -32601);
        assert_eq!(
            execute(&s, json!({"jsonrpc": "2.0", "method": "ping"})),
            Outcome::NoContent
        );
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1.0e9f64..1.0e9).prop_map(Value::from),
            "[0-9a-f]{0,70}".prop_map(Value::from),
            "[0-9a-f]{64}".prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map(
                    "blockhash|txid|height|verbosity|verbose|n|[a-z]{0,6}",
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(256))]

        /// Any parameters to any method: an answer or a JSON-RPC error, never a panic.
        #[test]
        fn arbitrary_calls_never_panic(
            method in proptest::sample::select(vec![
                "getblockchaininfo", "getbestblockhash", "getblockcount", "getblockhash",
                "getblockheader", "getblock", "gettxout", "getrawtransaction",
                "sendrawtransaction", "testmempoolaccept", "getrawmempool", "getmempoolentry",
                "getmempoolinfo", "estimatesmartfee", "generatetoaddress", "generateblock",
                "submitblock", "invalidateblock", "reconsiderblock", "getnetworkinfo", "nosuch",
            ]),
            params in arb_json(),
            id in arb_json(),
            v2 in proptest::bool::ANY,
        ) {
            let s = service();
            let mut request = json!({"method": method, "params": params, "id": id});
            if v2 {
                request["jsonrpc"] = json!("2.0");
            }
            match execute(&s, request) {
                Outcome::Reply(_, v) => proptest::prop_assert!(v.is_object()),
                Outcome::NoContent => proptest::prop_assert!(false, "request had an id"),
            }
        }

        /// Any JSON document as a whole request body.
        #[test]
        fn arbitrary_bodies_never_panic(body in arb_json()) {
            let _ = execute(&service(), body);
        }
    }

    #[test]
    fn batches_answer_each_element() {
        let s = service();
        let Outcome::Reply(status, v) = execute(
            &s,
            json!([
                {"method": "getblockcount", "id": 1},
                5,
                {"jsonrpc": "2.0", "method": "ping"},
                {"jsonrpc": "2.0", "method": "getbestblockhash", "id": 2}
            ]),
        ) else {
            panic!()
        };
        assert_eq!(status, StatusCode::OK);
        let replies = v.as_array().unwrap();
        assert_eq!(replies.len(), 3);
        assert_eq!(replies[0]["result"], 0);
        assert_eq!(replies[1]["error"]["code"], -32600);
        assert_eq!(replies[2]["id"], 2);
        let Outcome::Reply(status, v) = execute(&s, json!("just a string")) else {
            panic!()
        };
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(v["error"]["code"], -32700);
    }
}
