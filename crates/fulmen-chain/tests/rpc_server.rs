//! The chain server over real TCP: the funding-and-spend flow through `RpcChainClient`, Core's
//! field names and types, and hostile input (malformed JSON, wrong auth, unknown methods, bad
//! hex, oversize bodies, non-HTTP bytes) — answered with Core-style errors, never a crash.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod rpc_common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Amount, OutPoint, TxOut};
use fulmen_chain::rpc::http::HttpConnection;
use fulmen_chain::rpc::{Credentials, RpcServer, ServerConfig};
use fulmen_chain::{ChainSource, EmbeddedChain, EmbeddedConfig};
use rpc_common::{client, core_address, funding_and_spend, mine, Backend, KeyWallet, Rejections};
use serde_json::{json, Value};

fn creds() -> Credentials {
    Credentials::new("fulmen", "hunter2")
}

fn start(config: ServerConfig) -> (RpcServer, EmbeddedChain) {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let server = RpcServer::start(chain.clone(), "127.0.0.1:0".parse().unwrap(), config).unwrap();
    (server, chain)
}

fn default_server() -> (RpcServer, EmbeddedChain) {
    start(ServerConfig::new(creds()))
}

/// One raw POST; returns status and parsed JSON body (Null when empty).
fn post(addr: SocketAddr, auth: &str, body: &str) -> (u16, Value) {
    let mut c = HttpConnection::connect(&addr, Duration::from_secs(10)).unwrap();
    let r = c
        .post("localhost", "/", auth, body.as_bytes(), 1 << 26)
        .unwrap();
    let v = if r.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&r.body)
            .unwrap_or(Value::String(String::from_utf8_lossy(&r.body).into_owned()))
    };
    (r.status, v)
}

fn rpc(addr: SocketAddr, method: &str, params: Value) -> (u16, Value) {
    post(
        addr,
        &creds().basic_header(),
        &json!({"method": method, "params": params, "id": 1}).to_string(),
    )
}

fn ok(addr: SocketAddr, method: &str, params: Value) -> Value {
    let (status, v) = rpc(addr, method, params);
    assert_eq!(status, 200, "{method}: {v}");
    assert!(v["error"].is_null());
    v["result"].clone()
}

fn err(addr: SocketAddr, method: &str, params: Value) -> (u16, i64, String) {
    let (status, v) = rpc(addr, method, params);
    let e = &v["error"];
    (
        status,
        e["code"].as_i64().unwrap(),
        e["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn funding_and_spend_flow_against_the_chain_server() {
    let (server, _chain) = default_server();
    let c = client(server.local_addr(), creds());
    let wallet = KeyWallet::new(0x11);
    funding_and_spend(
        &Backend {
            client: &c,
            address: core_address(&wallet.spk),
            pre_mine: 101,
            rejections: Rejections::Typed,
            reorg: true,
        },
        &wallet,
    );
}

#[test]
fn cookie_auth_and_wrong_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let (path, cookie) = fulmen_chain::rpc::auth::write_cookie(dir.path(), &[7; 32]).unwrap();
    let (server, _) = start(ServerConfig::new(Credentials::read_cookie(&path).unwrap()));
    let addr = server.local_addr();
    let body = r#"{"method":"getblockcount","params":[]}"#;
    assert_eq!(
        post(addr, &cookie.basic_header(), body),
        (200, json!({"result": 0, "error": null, "id": null}))
    );
    for bad in [
        Credentials::new("__cookie__", "00".repeat(32)).basic_header(),
        "Basic".to_string(),
        "Basic !!!!".to_string(),
        "Bearer abc".to_string(),
        String::new(),
    ] {
        let started = std::time::Instant::now();
        let (status, v) = post(addr, &bad, body);
        assert_eq!(status, 401, "{bad}");
        assert!(v.is_null());
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "no brake on bad auth"
        );
    }
    // The RPC client reports bad credentials as such, without retrying.
    let c = client(addr, Credentials::new("x", "y"));
    let e = c.call("getblockcount", json!([])).unwrap_err();
    assert!(
        matches!(e, fulmen_chain::rpc::RpcClientError::Unauthorized),
        "{e}"
    );
}

#[test]
fn hostile_requests_get_core_errors_and_the_server_survives() {
    let (server, _) = default_server();
    let addr = server.local_addr();
    let auth = creds().basic_header();

    // Malformed JSON.
    for body in [
        "{",
        "",
        "not json",
        "{\"method\": \"getblockcount\"",
        "\u{0}\u{1}",
    ] {
        let (status, v) = post(addr, &auth, body);
        assert_eq!(status, 500, "{body:?}");
        assert_eq!(v["error"]["code"], -32700);
        assert!(v["id"].is_null());
    }
    // Not an object or array.
    let (status, v) = post(addr, &auth, "42");
    assert_eq!((status, v["error"]["code"].as_i64()), (500, Some(-32700)));
    // Unknown method, missing method, non-string method, bad params container.
    assert_eq!(err(addr, "getwalletinfo", json!([])).0, 404);
    assert_eq!(err(addr, "getwalletinfo", json!([])).1, -32601);
    let (status, v) = post(addr, &auth, r#"{"id": 3}"#);
    assert_eq!(
        (status, v["error"]["code"].as_i64(), v["id"].as_i64()),
        (400, Some(-32600), Some(3))
    );
    let (status, v) = post(addr, &auth, r#"{"method": 5}"#);
    assert_eq!((status, v["error"]["code"].as_i64()), (400, Some(-32600)));
    let (_, v) = post(addr, &auth, r#"{"method": "getblockcount", "params": "x"}"#);
    assert_eq!(v["error"]["code"], -32600);
    // Bad hex and bad hashes.
    assert_eq!(err(addr, "sendrawtransaction", json!(["zz"])).1, -22);
    assert_eq!(err(addr, "sendrawtransaction", json!(["00"])).1, -22);
    assert_eq!(err(addr, "sendrawtransaction", json!([5])).1, -3);
    assert_eq!(err(addr, "testmempoolaccept", json!([["0g"]])).1, -22);
    assert_eq!(err(addr, "submitblock", json!(["abcd"])).1, -22);
    let (_, code, msg) = err(addr, "getblock", json!(["xyz"]));
    assert_eq!(
        (code, msg.as_str()),
        (-8, "blockhash must be of length 64 (not 3, for 'xyz')")
    );
    assert_eq!(err(addr, "getblock", json!(["zz".repeat(32)])).1, -8);
    assert_eq!(err(addr, "getblock", json!(["00".repeat(32)])).1, -5);
    assert_eq!(err(addr, "getblockheader", json!(["00".repeat(32)])).1, -5);
    assert_eq!(
        err(addr, "getrawtransaction", json!(["00".repeat(32)])).1,
        -5
    );
    assert_eq!(err(addr, "getmempoolentry", json!(["00".repeat(32)])).1, -5);
    assert_eq!(err(addr, "gettxout", json!(["x", 0])).1, -8);
    assert_eq!(err(addr, "gettxout", json!(["00".repeat(32), -1])).1, -8);
    assert_eq!(err(addr, "getblockhash", json!([-1])).1, -8);
    assert_eq!(err(addr, "getblockhash", json!([1])).1, -8);
    assert_eq!(err(addr, "getblockhash", json!(["1"])).1, -3);
    assert_eq!(err(addr, "getblockhash", json!([])).1, -1);
    assert_eq!(err(addr, "getblockcount", json!([1])).1, -1);
    assert_eq!(
        err(addr, "getblock", json!({"blockhash": "00", "bogus": 1})).1,
        -8
    );
    assert_eq!(
        err(
            addr,
            "generatetoaddress",
            json!([1, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"])
        )
        .1,
        -5
    );
    assert_eq!(
        err(addr, "generatetoaddress", json!([1_000_000, "x"])).1,
        -8
    );
    assert_eq!(err(addr, "estimatesmartfee", json!([0])).1, -8);
    assert_eq!(err(addr, "estimatesmartfee", json!([6, "FAST"])).1, -8);
    assert_eq!(err(addr, "getblock", json!(["00".repeat(32), 9])).1, -8);
    assert_eq!(err(addr, "invalidateblock", json!(["00".repeat(32)])).1, -5);
    assert_eq!(err(addr, "testmempoolaccept", json!([[]])).1, -8);

    // Not a POST.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 405");
    // Bytes that are not HTTP at all: the connection is answered 400 or closed.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&[0xff; 300]).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(
        out.is_empty() || out.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );

    // The server still answers.
    assert_eq!(ok(addr, "getblockcount", json!([])), 0);
}

#[test]
fn oversize_bodies_and_connection_limits() {
    let mut config = ServerConfig::new(creds());
    config.max_body_bytes = 1024;
    config.max_connections = 2;
    config.idle_timeout = Duration::from_millis(500);
    let (server, _) = start(config);
    let addr = server.local_addr();
    let big = format!(
        r#"{{"method":"getblockcount","params":["{}"]}}"#,
        "a".repeat(2048)
    );
    let mut c = HttpConnection::connect(&addr, Duration::from_secs(10)).unwrap();
    // 413, or the connection closed with the unread rest of the body.
    match c.post("h", "/", &creds().basic_header(), big.as_bytes(), 1 << 20) {
        Ok(r) => assert_eq!(r.status, 413),
        Err(e) => assert!(
            matches!(e, fulmen_chain::rpc::http::HttpError::Closed),
            "{e}"
        ),
    }
    drop(c);
    std::thread::sleep(Duration::from_millis(200));

    // Two connections are served; a third is closed at once.
    let mut a = HttpConnection::connect(&addr, Duration::from_secs(10)).unwrap();
    let mut b = HttpConnection::connect(&addr, Duration::from_secs(10)).unwrap();
    let body = br#"{"method":"getblockcount"}"#;
    let auth = creds().basic_header();
    assert_eq!(a.post("h", "/", &auth, body, 1 << 20).unwrap().status, 200);
    assert_eq!(b.post("h", "/", &auth, body, 1 << 20).unwrap().status, 200);
    std::thread::sleep(Duration::from_millis(100));
    let mut third = HttpConnection::connect(&addr, Duration::from_secs(10)).unwrap();
    assert!(third.post("h", "/", &auth, body, 1 << 20).is_err());
    // Idle connections are closed after the idle timeout, freeing their slots.
    std::thread::sleep(Duration::from_millis(1_200));
    assert!(a.post("h", "/", &auth, body, 1 << 20).is_err());
    let mut fresh = HttpConnection::connect(&addr, Duration::from_secs(10)).unwrap();
    assert_eq!(
        fresh.post("h", "/", &auth, body, 1 << 20).unwrap().status,
        200
    );
    // The client reconnects transparently when its kept-alive connection was closed.
    let c = client(addr, creds());
    assert_eq!(c.tip().unwrap().height, 0);
    std::thread::sleep(Duration::from_millis(1_200));
    assert_eq!(c.tip().unwrap().height, 0);
}

#[test]
fn keep_alive_batches_and_json_rpc_2() {
    let (server, _) = default_server();
    let addr = server.local_addr();
    let auth = creds().basic_header();
    let mut c = HttpConnection::connect(&addr, Duration::from_secs(10)).unwrap();
    for i in 0..20 {
        let body = json!({"jsonrpc": "2.0", "method": "getblockcount", "id": i}).to_string();
        let r = c.post("h", "/", &auth, body.as_bytes(), 1 << 20).unwrap();
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v, json!({"jsonrpc": "2.0", "result": 0, "id": i}));
    }
    let body = json!([
        {"method": "getblockcount", "id": 1},
        {"jsonrpc": "2.0", "method": "nosuch", "id": 2},
        {"jsonrpc": "2.0", "method": "ping"},
        "junk"
    ])
    .to_string();
    let r = c.post("h", "/", &auth, body.as_bytes(), 1 << 20).unwrap();
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert_eq!(v[1]["error"]["code"], -32601);
    assert_eq!(v[2]["error"]["code"], -32600);
    let body = json!({"jsonrpc": "2.0", "method": "ping"}).to_string();
    let r = c.post("h", "/", &auth, body.as_bytes(), 1 << 20).unwrap();
    assert_eq!((r.status, r.body.len()), (204, 0));
    assert!(c.is_reusable());
}

/// Checks that `v[field]` exists and has the JSON type `ty`.
fn has(v: &Value, field: &str, ty: &str) {
    let f = v
        .get(field)
        .unwrap_or_else(|| panic!("missing {field} in {v}"));
    let ok = match ty {
        "str" => f.is_string(),
        "u64" => f.is_u64(),
        "i64" => f.is_i64(),
        "num" => f.is_number(),
        "bool" => f.is_boolean(),
        "arr" => f.is_array(),
        "obj" => f.is_object(),
        "hex64" => f
            .as_str()
            .is_some_and(|s| s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit())),
        _ => unreachable!(),
    };
    assert!(ok, "{field} is not {ty}: {f}");
}

#[test]
fn core_field_names_and_types() {
    let (server, chain) = default_server();
    let addr = server.local_addr();
    let wallet = KeyWallet::new(0x21);
    let c = client(addr, creds());
    let address = core_address(&wallet.spk);
    mine(&c, 101, &address);

    let info = ok(addr, "getblockchaininfo", json!([]));
    assert_eq!(info["chain"], "regtest");
    assert_eq!(info["blocks"], 101);
    for (f, t) in [
        ("bestblockhash", "hex64"),
        ("chainwork", "hex64"),
        ("verificationprogress", "num"),
        ("mediantime", "u64"),
        ("initialblockdownload", "bool"),
        ("headers", "u64"),
        ("difficulty", "num"),
        ("warnings", "arr"),
        ("pruned", "bool"),
    ] {
        has(&info, f, t);
    }
    assert_eq!(info["chainwork"], format!("{:064x}", 2 * 102));
    assert_eq!(ok(addr, "getblockcount", json!([])), 101);
    let best = ok(addr, "getbestblockhash", json!([]));
    assert_eq!(best, info["bestblockhash"]);

    let genesis_hash = ok(addr, "getblockhash", json!([0]));
    let g = ok(addr, "getblockheader", json!([genesis_hash]));
    assert!(g.get("previousblockhash").is_none());
    assert_eq!(g["confirmations"], 102);
    let h1 = ok(addr, "getblockhash", json!({"height": 1}));
    let h = ok(addr, "getblockheader", json!([h1, true]));
    for (f, t) in [
        ("hash", "hex64"),
        ("confirmations", "i64"),
        ("height", "u64"),
        ("version", "i64"),
        ("versionHex", "str"),
        ("merkleroot", "hex64"),
        ("time", "u64"),
        ("mediantime", "u64"),
        ("nonce", "u64"),
        ("bits", "str"),
        ("difficulty", "num"),
        ("chainwork", "hex64"),
        ("nTx", "u64"),
        ("previousblockhash", "hex64"),
        ("nextblockhash", "hex64"),
    ] {
        has(&h, f, t);
    }
    assert_eq!(h["bits"], "207fffff");
    assert_eq!(h["previousblockhash"], genesis_hash);
    let raw_header = ok(addr, "getblockheader", json!([h1, false]));
    assert_eq!(raw_header.as_str().unwrap().len(), 160);

    // Spend a coinbase so blocks and mempool have a real transaction.
    let block1 = c.block_at(1).unwrap().unwrap();
    let funding = OutPoint {
        txid: block1.txdata[0].compute_txid(),
        vout: 0,
    };
    let value = block1.txdata[0].output[0].value;
    let tx = wallet.spend(
        funding,
        value,
        vec![TxOut {
            value: value - Amount::from_sat(5_000),
            script_pubkey: wallet.spk.clone(),
        }],
    );
    let accept = ok(addr, "testmempoolaccept", json!([[serialize_hex(&tx)]]));
    assert_eq!(accept[0]["allowed"], true);
    has(&accept[0], "vsize", "u64");
    assert_eq!(accept[0]["fees"]["base"], 0.00005);
    let too_expensive = ok(
        addr,
        "testmempoolaccept",
        json!([[serialize_hex(&tx)], 0.00001]),
    );
    assert_eq!(too_expensive[0]["reject-reason"], "max-fee-exceeded");
    let (_, code, _) = err(
        addr,
        "sendrawtransaction",
        json!([serialize_hex(&tx), 0.00001]),
    );
    assert_eq!(code, -25);
    let txid = ok(
        addr,
        "sendrawtransaction",
        json!({"hexstring": serialize_hex(&tx)}),
    );
    assert_eq!(txid, tx.compute_txid().to_string());
    let dup = ok(addr, "testmempoolaccept", json!([[serialize_hex(&tx)]]));
    assert_eq!(dup[0]["reject-reason"], "txn-already-in-mempool");

    let mempool = ok(addr, "getrawmempool", json!([]));
    assert_eq!(mempool, json!([txid]));
    let entry = ok(addr, "getmempoolentry", json!([txid]));
    for (f, t) in [
        ("vsize", "u64"),
        ("weight", "u64"),
        ("time", "u64"),
        ("height", "u64"),
        ("descendantcount", "u64"),
        ("ancestorcount", "u64"),
        ("ancestorsize", "u64"),
        ("wtxid", "hex64"),
        ("fees", "obj"),
        ("depends", "arr"),
        ("spentby", "arr"),
        ("bip125-replaceable", "bool"),
        ("unbroadcast", "bool"),
    ] {
        has(&entry, f, t);
    }
    assert_eq!(entry["height"], 101);
    assert_eq!(entry["fees"]["base"], 0.00005);
    assert_eq!(entry["ancestorcount"], 1);
    let verbose = ok(addr, "getrawmempool", json!([true]));
    assert_eq!(verbose[txid.as_str().unwrap()], entry);
    let mi = ok(addr, "getmempoolinfo", json!([]));
    assert_eq!(mi["size"], 1);
    assert_eq!(mi["mempoolminfee"], 0.00001);
    let fee = ok(addr, "estimatesmartfee", json!([6, "conservative"]));
    assert_eq!(fee, json!({"feerate": 0.00002, "blocks": 6}));
    chain.set_fee_estimates(false).unwrap();
    let fee = ok(addr, "estimatesmartfee", json!([6]));
    assert_eq!(
        fee,
        json!({"errors": ["Insufficient data or no feerate found"], "blocks": 0})
    );
    chain.set_fee_estimates(true).unwrap();

    let mempool_out = ok(addr, "gettxout", json!([txid, 0]));
    assert_eq!(mempool_out["confirmations"], 0);
    assert!(ok(addr, "gettxout", json!([funding.txid.to_string(), 0])).is_null());
    let confirmed_view = ok(
        addr,
        "gettxout",
        json!([funding.txid.to_string(), 0, false]),
    );
    assert_eq!(confirmed_view["coinbase"], true);
    assert_eq!(confirmed_view["scriptPubKey"]["type"], "witness_v0_keyhash");
    assert_eq!(confirmed_view["scriptPubKey"]["address"], address);
    assert!(confirmed_view["scriptPubKey"]["desc"]
        .as_str()
        .unwrap()
        .starts_with(&format!("addr({address})#")));

    let raw = ok(addr, "getrawtransaction", json!([txid]));
    assert_eq!(raw, serialize_hex(&tx));
    let verbose_tx = ok(addr, "getrawtransaction", json!([txid, 1]));
    assert!(verbose_tx.get("blockhash").is_none());
    assert_eq!(
        verbose_tx["vin"][0]["txinwitness"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // generateblock with the mempool transaction by txid.
    let generated = ok(addr, "generateblock", json!([address, [txid]]));
    let bh = generated["hash"].as_str().unwrap().to_string();
    assert!(ok(addr, "getrawmempool", json!([]))
        .as_array()
        .unwrap()
        .is_empty());
    let verbose_tx = ok(addr, "getrawtransaction", json!([txid, 2]));
    assert_eq!(verbose_tx["blockhash"], bh);
    assert_eq!(verbose_tx["confirmations"], 1);
    assert_eq!(verbose_tx["fee"], 0.00005);
    assert_eq!(verbose_tx["vin"][0]["prevout"]["generated"], true);
    let in_block = ok(addr, "getrawtransaction", json!([txid, true, bh]));
    assert_eq!(in_block["in_active_chain"], true);

    let b0 = ok(addr, "getblock", json!([bh, 0]));
    let block: bitcoin::Block =
        bitcoin::consensus::deserialize(&hex::decode(b0.as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(block.block_hash().to_string(), bh);
    let b1 = ok(addr, "getblock", json!([bh]));
    assert_eq!(b1["tx"][1], txid);
    for (f, t) in [
        ("size", "u64"),
        ("strippedsize", "u64"),
        ("weight", "u64"),
        ("height", "u64"),
        ("tx", "arr"),
    ] {
        has(&b1, f, t);
    }
    assert_eq!(b1["weight"], block.weight().to_wu());
    let b2 = ok(addr, "getblock", json!([bh, 2]));
    assert_eq!(b2["tx"][1]["txid"], txid);
    assert_eq!(b2["tx"][1]["fee"], 0.00005);
    assert!(b2["tx"][0].get("fee").is_none());
    assert!(b2["tx"][0]["vin"][0].get("coinbase").is_some());
    let b3 = ok(addr, "getblock", json!([bh, 3]));
    assert_eq!(b3["tx"][1]["vin"][0]["prevout"]["value"], value.to_btc());

    // submitblock: a known block is a duplicate; invalidate/reconsider move the tip.
    assert_eq!(ok(addr, "submitblock", json!([b0])), "duplicate");
    assert!(ok(addr, "invalidateblock", json!([bh])).is_null());
    assert_eq!(chain.tip().unwrap().height, 101);
    assert!(ok(addr, "reconsiderblock", json!([bh])).is_null());
    assert_eq!(chain.tip().unwrap().height, 102);
    let ni = ok(addr, "getnetworkinfo", json!([]));
    has(&ni, "version", "u64");
    has(&ni, "relayfee", "num");
}

#[test]
fn stop_method_ends_the_server() {
    let (server, _) = default_server();
    let addr = server.local_addr();
    assert_eq!(ok(addr, "stop", json!([])), "Fulmen chain server stopping");
    rpc_common::wait_until(|| TcpStream::connect(addr).is_err());
    server.shutdown();
}
