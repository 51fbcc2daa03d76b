//! The RPC client against a backend that answers garbage, never answers, hangs up or is not
//! there: bounded retries with backoff and a log line per retry, then a typed error; and when the
//! backend comes back, the client (and the follower's state) carries on.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod rpc_common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fulmen_chain::rpc::client::BACKEND_OP;
use fulmen_chain::rpc::http::HttpError;
use fulmen_chain::rpc::{
    Credentials, RpcChainClient, RpcClientConfig, RpcClientError, RpcServer, ServerConfig,
};
use fulmen_chain::{ChainError, ChainEvent, ChainSource, EmbeddedChain, EmbeddedConfig};
use rpc_common::{core_address, follow, mine, KeyWallet};

fn creds() -> Credentials {
    Credentials::new("u", "p")
}

fn fast_client(addr: SocketAddr) -> RpcChainClient {
    let mut config = RpcClientConfig::new(addr, creds());
    config.timeout = Duration::from_millis(300);
    config.max_attempts = 3;
    config.initial_backoff = Duration::from_millis(20);
    config.max_backoff = Duration::from_millis(40);
    RpcChainClient::new(config)
}

/// A fake backend: for each request, `answer` decides what to write (None: hang up).
fn fake_backend(
    answer: impl Fn(usize) -> Option<Vec<u8>> + Send + 'static,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream);
            loop {
                let mut len = 0usize;
                let mut got_any = false;
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => got_any = true,
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                if !got_any {
                    break;
                }
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_err() {
                    break;
                }
                let n = seen.fetch_add(1, Ordering::SeqCst);
                match answer(n) {
                    Some(bytes) => {
                        if reader.get_mut().write_all(&bytes).is_err() {
                            break;
                        }
                    }
                    None => break,
                }
            }
        }
    });
    (addr, count)
}

fn io_kind(e: &ChainError) -> std::io::ErrorKind {
    match e {
        ChainError::Io { op, source } => {
            assert_eq!(*op, BACKEND_OP);
            assert!(source
                .get_ref()
                .unwrap()
                .downcast_ref::<RpcClientError>()
                .is_some());
            source.kind()
        }
        other => panic!("not a backend error: {other:?}"),
    }
}

#[test]
fn garbage_is_retried_then_reported() {
    let (addr, count) =
        fake_backend(|_| Some(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n<garbage>".to_vec()));
    let c = fast_client(addr);
    let e = c.tip().unwrap_err();
    assert_eq!(io_kind(&e), std::io::ErrorKind::InvalidData);
    assert_eq!(count.load(Ordering::SeqCst), 3, "bounded retries");
    let e = c.call("getblockcount", serde_json::json!([])).unwrap_err();
    assert!(
        matches!(e, RpcClientError::InvalidResponse { attempts: 3, .. }),
        "{e}"
    );
    // A JSON reply of the wrong shape is garbage too, as is a block that does not hash right.
    let (addr, _) = fake_backend(|_| {
        let body = r#"{"result":"00","error":null,"id":1}"#;
        Some(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    });
    let c = fast_client(addr);
    assert_eq!(
        io_kind(&c.tip().unwrap_err()),
        std::io::ErrorKind::InvalidData
    );
    let hash = bitcoin::blockdata::constants::genesis_block(bitcoin::Network::Regtest).block_hash();
    assert_eq!(
        io_kind(&c.block(&hash).unwrap_err()),
        std::io::ErrorKind::InvalidData
    );
}

#[test]
fn silence_times_out_and_hangups_are_reported() {
    let (addr, count) = fake_backend(|_| {
        std::thread::sleep(Duration::from_secs(2));
        None
    });
    let c = fast_client(addr);
    let started = Instant::now();
    let e = c.tip().unwrap_err();
    assert_eq!(io_kind(&e), std::io::ErrorKind::TimedOut);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "timeouts not bounded"
    );
    assert!(count.load(Ordering::SeqCst) >= 1);

    let (addr, count) = fake_backend(|_| None);
    let c = fast_client(addr);
    let e = c
        .call("getbestblockhash", serde_json::json!([]))
        .unwrap_err();
    assert!(
        matches!(
            e,
            RpcClientError::Unavailable {
                attempts: 3,
                last: HttpError::Closed,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 3);

    // Nothing listening at all.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = fast_client(SocketAddr::from(([127, 0, 0, 1], port)));
    let e = c.tip().unwrap_err();
    assert_eq!(io_kind(&e), std::io::ErrorKind::ConnectionRefused);
    // Broadcasts fail as chain errors (retry later), not as rejections.
    let tx =
        bitcoin::blockdata::constants::genesis_block(bitcoin::Network::Regtest).txdata[0].clone();
    assert!(matches!(
        c.broadcast(&tx),
        Err(fulmen_chain::BroadcastError::Chain(_))
    ));
}

#[test]
fn warmup_is_retried_and_rpc_errors_are_not() {
    let (addr, count) = fake_backend(|n| {
        let body = if n == 0 {
            r#"{"result":null,"error":{"code":-28,"message":"Loading block index..."},"id":1}"#
        } else {
            r#"{"result":7,"error":null,"id":1}"#
        };
        Some(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    });
    let c = fast_client(addr);
    assert_eq!(c.call("getblockcount", serde_json::json!([])).unwrap(), 7);
    assert_eq!(count.load(Ordering::SeqCst), 2);
    let (addr, count) = fake_backend(|_| {
        let body = r#"{"result":null,"error":{"code":-8,"message":"nope"},"id":1}"#;
        Some(
            format!(
                "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    });
    let c = fast_client(addr);
    let e = c.call("getblockcount", serde_json::json!([])).unwrap_err();
    assert!(matches!(&e, RpcClientError::Rpc(r) if r.code == -8), "{e}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

/// Collects formatted log output.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn each_retry_logs_a_clear_line() {
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let (addr, _) = fake_backend(|_| None);
    tracing::subscriber::with_default(subscriber, || {
        let c = fast_client(addr);
        assert!(c.tip().is_err());
    });
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text.matches("chain backend call failed; retrying").count(),
        2,
        "{text}"
    );
    assert_eq!(
        text.matches("chain backend call failed; giving up").count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("method=\"getbestblockhash\"") || text.contains("method=getbestblockhash"),
        "{text}"
    );
    assert!(text.contains("WARN") && text.contains("ERROR"), "{text}");
}

#[test]
fn follower_resumes_when_the_backend_returns() {
    let dir = tempfile::tempdir().unwrap();
    let chain = EmbeddedChain::open(dir.path(), EmbeddedConfig::default()).unwrap();
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = RpcServer::start(chain, listen, ServerConfig::new(creds())).unwrap();
    let addr = server.local_addr();
    let c = fast_client(addr);
    let wallet = KeyWallet::new(0x41);
    let address = core_address(&wallet.spk);
    let genesis = c.tip().unwrap();
    mine(&c, 5, &address);
    let (tip, events) = follow(&c, genesis);
    assert_eq!((tip.height, events.len()), (5, 5));

    // The backend goes away: typed errors, the follower keeps its tip.
    server.shutdown();
    let e = c.events_since(&tip).unwrap_err();
    assert!(matches!(
        io_kind(&e),
        std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionAborted
    ));

    // It comes back (same datadir, same port) with more blocks: the follower carries on.
    let chain = EmbeddedChain::open(dir.path(), EmbeddedConfig::default()).unwrap();
    let server = RpcServer::start(chain, addr, ServerConfig::new(creds())).unwrap();
    mine(&c, 2, &address);
    let events = c.events_since(&tip).unwrap();
    assert_eq!(events.len(), 2);
    assert!(
        matches!(&events[0], ChainEvent::BlockConnected(6, b) if b.header.prev_blockhash == tip.hash)
    );
    server.shutdown();
}

/// A backend without a fee estimate answers `estimatesmartfee` as Core does then
/// (`errors`, no `feerate`); the client says it has none (the caller keeps its last
/// estimate), and follows the backend again once it has one.
#[test]
fn a_missing_fee_estimate_is_reported_as_such() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = RpcServer::start(chain.clone(), listen, ServerConfig::new(creds())).unwrap();
    let c = fast_client(server.local_addr());
    chain.set_fee_estimates(false).unwrap();
    assert!(matches!(
        c.estimate_feerate(6),
        Err(ChainError::NoFeeEstimate)
    ));
    chain.set_fee_estimates(true).unwrap();
    chain
        .set_fee_rate(bitcoin::FeeRate::from_sat_per_kwu(2_500))
        .unwrap();
    assert_eq!(c.estimate_feerate(6).unwrap().to_sat_per_kwu(), 2_500);
    server.shutdown();
}
