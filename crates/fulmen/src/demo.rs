//! `fulmen demo`: shows, in one process, what the node does.
//!
//! The default scenario, `route`, runs five real nodes (see
//! [`crate::demo_line`]); `breach` and `force-close` run two real nodes
//! through BOLT 5's on-chain cases (see [`crate::demo_breach`] and
//! [`crate::demo_force`]). The `wire` scenario puts the protocol pieces
//! together without running a node on the seeds' five-node line (Alice,
//! Bob, Carol, Diana, Eric): node keys from mnemonics, an embedded regtest
//! chain, a BOLT 8 handshake with `init` and `ping`/`pong`, Eric's BOLT 11
//! invoice for 1 BTC, and the Sphinx onion Alice would send, peeled hop by
//! hop with each hop's amount, fee and expiry. Keys and session keys are
//! derived from fixed labels so that every run prints the same thing; a real
//! node draws them from the OS.

use std::error::Error;
use std::io::Write;

use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Network, ScriptBuf};
use fulmen_chain::{ChainSource, EmbeddedChain, EmbeddedConfig};
use fulmen_noise::{InitiatorHandshake, ResponderHandshake, Transport};
use fulmen_onion::payload::{HopPayload, PaymentData};
use fulmen_onion::{
    build_payment_onion, peel_payment, Invoice, InvoiceDescription, NewInvoice, NextHop,
};
use fulmen_types::{Feature, Features, Msat, PaymentPreimage, PaymentSecret, ShortChannelId};
use fulmen_wallet::keys::{KeyTree, Mnemonic};
use fulmen_wire::{Init, Message, Ping, Pong};
use serde_json::{json, Value};

pub(crate) type DemoResult<T> = Result<T, Box<dyn Error>>;

/// Arguments of `fulmen demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Which scenario to run: `route` (five nodes, a payment routed
    /// through three of them), `breach` (a revoked commitment published,
    /// the whole channel swept by the victim), `force-close` (a
    /// unilateral close with HTLCs in flight resolved on chain) or `wire`
    /// (the protocol pieces alone, no node running).
    #[arg(long, default_value = "route")]
    pub scenario: String,
    /// Print one JSON document instead of the step-by-step text.
    #[arg(long)]
    pub json: bool,
}

/// Runs a scenario's nodes on a two-thread tokio runtime of their own.
pub(crate) fn block_on<T>(fut: impl std::future::Future<Output = DemoResult<T>>) -> DemoResult<T> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(fut)
}

/// Collects the steps; prints them as they happen unless JSON was asked for.
pub(crate) struct Steps {
    json: bool,
    steps: Vec<Value>,
}

impl Steps {
    pub(crate) fn say(&mut self, text: String, data: Value) {
        if !self.json {
            // A closed stdout (e.g. piped into `head`) must not abort the demo.
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
        self.steps.push(json!({ "text": text, "data": data }));
    }
}

/// The seeds' five nodes, in route order.
pub(crate) const NAMES: [&str; 5] = ["Alice", "Bob", "Carol", "Diana", "Eric"];
/// One bitcoin in millisatoshis.
pub(crate) const BTC_MSAT: u64 = 100_000_000_000;
/// The flat forwarding fee of Bob, Carol and Diana: 0.001 BTC.
pub(crate) const FEE_MSAT: u64 = 100_000_000;
/// Each forwarding hop's `cltv_expiry_delta`.
pub(crate) const CLTV_DELTA: u32 = 40;
/// Eric's `min_final_cltv_expiry_delta`.
const FINAL_CLTV_DELTA: u32 = 18;
/// Fixed demo clock (2026-11-21T00:00:00Z); real nodes read the clock.
const DEMO_TIME: u32 = 1_795_219_200;

fn label_hash(label: &str) -> [u8; 32] {
    sha256::Hash::hash(label.as_bytes()).to_byte_array()
}

struct DemoNode {
    name: &'static str,
    secret: SecretKey,
    id: PublicKey,
}

/// Runs the selected scenario.
pub fn run(args: DemoArgs) -> DemoResult<()> {
    // The nodes' logs only when asked for (`RUST_LOG`), on stderr: the
    // demo's own lines are the story.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let mut steps = Steps {
        json: args.json,
        steps: Vec::new(),
    };
    let mut extra = serde_json::Map::new();
    match args.scenario.as_str() {
        "route" => {
            let (payment, channels) = crate::demo_line::route_scenario(&mut steps)?;
            extra.insert("payment".into(), payment);
            extra.insert("channels".into(), channels);
        }
        "breach" => {
            let breach = crate::demo_breach::breach_scenario(&mut steps)?;
            extra.insert("breach".into(), breach);
        }
        "force-close" => {
            let force = crate::demo_force::force_close_scenario(&mut steps)?;
            extra.insert("force_close".into(), force);
        }
        "wire" => wire_scenario(&mut steps)?,
        other => {
            return Err(format!(
                "unknown scenario {other:?}: the scenarios are \"route\", \"breach\", \"force-close\" and \"wire\""
            )
            .into())
        }
    }
    if args.json {
        let mut doc = serde_json::Map::new();
        doc.insert("scenario".into(), json!(args.scenario));
        doc.insert("steps".into(), Value::Array(steps.steps));
        doc.extend(extra);
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::to_string_pretty(&Value::Object(doc))?
        );
    }
    Ok(())
}

fn wire_scenario(steps: &mut Steps) -> DemoResult<()> {
    let secp = Secp256k1::new();
    steps.say(
        format!(
            "fulmen {} — demo scenario \"wire\" (what works so far)",
            env!("CARGO_PKG_VERSION")
        ),
        json!({ "version": env!("CARGO_PKG_VERSION") }),
    );

    // 1. Node keys from each node's own mnemonic (BIP39 -> BIP32 key tree).
    let mut nodes = Vec::new();
    for name in NAMES {
        let mnemonic = Mnemonic::from_entropy(&label_hash(&format!("fulmen demo {name}")))?;
        let tree = KeyTree::new(&secp, &mnemonic.to_seed(""), Network::Regtest)?;
        let keys = tree.node_keys(&secp)?;
        let node = DemoNode {
            name,
            secret: *keys.secret_key(),
            id: keys.public_key(),
        };
        steps.say(
            format!("[keys] {name:<5} node id {}", node.id),
            json!({ "node": name, "node_id": node.id.to_string() }),
        );
        nodes.push(node);
    }

    // 2. The embedded regtest chain.
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let burn = ScriptBuf::new_op_return([]);
    chain.mine(101, &burn, DEMO_TIME)?;
    let tip = chain.tip()?;
    steps.say(
        format!(
            "[chain] embedded regtest chain mined to height {} (tip {})",
            tip.height, tip.hash
        ),
        json!({ "height": tip.height, "tip": tip.hash.to_string() }),
    );

    // 3. Alice connects to Bob: BOLT 8 handshake, then init and ping/pong.
    let (alice, bob) = match (nodes.first(), nodes.get(1)) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err("demo needs five nodes".into()),
    };
    let (mut a_tx, mut b_tx) = handshake(alice, bob)?;
    steps.say(
        format!(
            "[noise] {} -> {}: Noise_XK handshake complete (acts of 50, 50 and 66 bytes)",
            alice.name, bob.name
        ),
        json!({ "from": alice.name, "to": bob.name }),
    );
    let features = Features::empty()
        .with_required(Feature::VarOnionOptin)
        .with_required(Feature::StaticRemoteKey)
        .with_required(Feature::PaymentSecret)
        .with_optional(Feature::BasicMpp)
        .with_optional(Feature::AnchorsZeroFeeHtlcTx);
    let init = Message::Init(Init {
        global_features: Features::empty().into(),
        features: features.clone().into(),
        networks: Some(vec![bitcoin::blockdata::constants::ChainHash::REGTEST]),
        remote_addr: None,
        unknown_tlvs: Vec::new(),
    });
    let got = send(&mut a_tx, &mut b_tx, &init)?;
    steps.say(
        format!(
            "[wire] {} received init from {}: features {features:?}",
            bob.name, alice.name
        ),
        json!({ "message": "init", "features": format!("{features:?}") }),
    );
    if !matches!(got, Message::Init(_)) {
        return Err("init did not arrive as init".into());
    }
    let ping = Message::Ping(Ping {
        num_pong_bytes: 4,
        ignored: vec![0; 8],
        unknown_tlvs: Vec::new(),
    });
    send(&mut a_tx, &mut b_tx, &ping)?;
    let pong = Message::Pong(Pong {
        ignored: vec![0; 4],
        unknown_tlvs: Vec::new(),
    });
    let back = send(&mut b_tx, &mut a_tx, &pong)?;
    steps.say(
        format!(
            "[wire] ping/pong over the encrypted transport: {}",
            if matches!(back, Message::Pong(_)) {
                "ok"
            } else {
                "unexpected reply"
            }
        ),
        json!({ "pong": matches!(back, Message::Pong(_)) }),
    );

    // 4. Eric's invoice for 1 BTC.
    let eric = nodes.get(4).ok_or("demo needs five nodes")?;
    let preimage = PaymentPreimage(label_hash("fulmen demo preimage"));
    let payment_hash = preimage.payment_hash();
    let secret = PaymentSecret(label_hash("fulmen demo payment secret"));
    let mut params = NewInvoice::new(
        Network::Regtest,
        payment_hash,
        secret,
        InvoiceDescription::Direct("1 BTC from Alice to Eric".into()),
        u64::from(DEMO_TIME),
    );
    params.amount = Some(Msat(BTC_MSAT));
    params.min_final_cltv_expiry_delta = u64::from(FINAL_CLTV_DELTA);
    params.include_payee = true;
    let invoice = Invoice::create(&params, &eric.secret)?;
    let bolt11 = invoice.to_string();
    let parsed = Invoice::parse(&bolt11)?;
    steps.say(
        format!(
            "[invoice] Eric: {bolt11}\n          payment hash {payment_hash}, amount {:?}",
            parsed.amount()
        ),
        json!({ "bolt11": bolt11, "payment_hash": payment_hash.to_string() }),
    );

    // 5. Alice's onion along Bob, Carol, Diana, Eric.
    let final_cltv = tip.height + FINAL_CLTV_DELTA;
    let mut hops = Vec::new();
    for (i, node) in nodes.iter().enumerate().skip(1) {
        // Forwarding hops after the one this payload's node sends to (each takes a fee).
        let later_hops = (NAMES.len() - 2).saturating_sub(i) as u64;
        let later = u32::try_from(later_hops)?;
        let mut payload = HopPayload {
            amt_to_forward: Some(Msat(BTC_MSAT + later_hops * FEE_MSAT)),
            outgoing_cltv_value: Some(final_cltv + later * CLTV_DELTA),
            ..HopPayload::default()
        };
        if i + 1 < NAMES.len() {
            payload.short_channel_id = ShortChannelId::new(101, u32::try_from(i)?, 0);
        } else {
            payload.payment_data = Some(PaymentData {
                payment_secret: secret,
                total_msat: Msat(BTC_MSAT),
            });
        }
        hops.push((node.id, payload));
    }
    let session_key = SecretKey::from_slice(&label_hash("fulmen demo session key"))?;
    let onion = build_payment_onion(&session_key, &hops, &payment_hash)?;
    let first_amount = BTC_MSAT + 3 * FEE_MSAT;
    let first_cltv = final_cltv + 3 * CLTV_DELTA;
    steps.say(
        format!(
            "[onion] Alice offers {} BTC to Bob, expiring at block {first_cltv}: a {}-byte onion for 4 hops",
            btc(first_amount),
            fulmen_onion::packet::PACKET_LEN
        ),
        json!({ "amount_msat": first_amount, "cltv_expiry": first_cltv }),
    );

    // 6. Each hop peels its layer.
    let (mut packet, mut incoming_amount, mut incoming_cltv) =
        (onion.packet, first_amount, first_cltv);
    for node in nodes.iter().skip(1) {
        let (peeled, payload) = peel_payment(&node.secret, &packet, &payment_hash, None)?;
        let amount = payload.amt_to_forward.ok_or("payload without amount")?.0;
        let cltv = payload.outgoing_cltv_value.ok_or("payload without cltv")?;
        match peeled.next {
            NextHop::Forward(next) => {
                let fee = incoming_amount
                    .checked_sub(amount)
                    .ok_or("hop asked for more than it got")?;
                steps.say(
                    format!(
                        "[hop] {:<5} got {} BTC expiring at {incoming_cltv}; forwards {} BTC expiring at {cltv} (fee {} BTC, {} blocks)",
                        node.name, btc(incoming_amount), btc(amount), btc(fee), incoming_cltv - cltv
                    ),
                    json!({ "node": node.name, "in_msat": incoming_amount, "out_msat": amount, "fee_msat": fee, "in_cltv": incoming_cltv, "out_cltv": cltv }),
                );
                packet = *next;
                incoming_amount = amount;
                incoming_cltv = cltv;
            }
            NextHop::Final => {
                let data = payload
                    .payment_data
                    .ok_or("final hop without payment_data")?;
                let ok = data.payment_secret.ct_eq(&secret)
                    && amount == BTC_MSAT
                    && data.total_msat.0 == BTC_MSAT;
                steps.say(
                    format!(
                        "[hop] {:<5} is the final hop: {} BTC at {cltv}, payment secret {}; releases the preimage",
                        node.name, btc(amount), if ok { "matches" } else { "DOES NOT match" }
                    ),
                    json!({ "node": node.name, "amount_msat": amount, "secret_ok": ok }),
                );
            }
        }
    }
    let proof = preimage.payment_hash() == payment_hash;
    steps.say(
        format!("[proof] sha256(preimage) == payment hash: {proof}; the preimage is Alice's proof of payment"),
        json!({ "proof_of_payment": proof }),
    );
    steps.say(
        "[next] channels, forwarding and settlement of this payment arrive with the channels and routed-payments issues".into(),
        Value::Null,
    );
    Ok(())
}

pub(crate) fn btc(msat: u64) -> String {
    format!("{}.{:03}", msat / BTC_MSAT, (msat % BTC_MSAT) / FEE_MSAT)
}

fn handshake(a: &DemoNode, b: &DemoNode) -> DemoResult<(Transport, Transport)> {
    let a_eph = SecretKey::from_slice(&label_hash("demo ephemeral a"))?;
    let b_eph = SecretKey::from_slice(&label_hash("demo ephemeral b"))?;
    let (initiator, act_one) = InitiatorHandshake::new(a.secret, b.id, a_eph);
    let responder = ResponderHandshake::new(b.secret, b_eph);
    let (responder, act_two) = responder.process_act_one(&act_one)?;
    let (act_three, a_transport) = initiator.process_act_two(&act_two)?;
    let (remote, b_transport) = responder.process_act_three(&act_three)?;
    if remote != a.id {
        return Err("responder authenticated the wrong node".into());
    }
    Ok((a_transport, b_transport))
}

/// Encrypts `msg` on `from`, decrypts it on `to`, and decodes it.
fn send(from: &mut Transport, to: &mut Transport, msg: &Message) -> DemoResult<Message> {
    let wire = from.encrypt(&msg.encode()?)?;
    let (header, body) = wire.split_at(fulmen_noise::LENGTH_HEADER_LEN);
    let header: [u8; fulmen_noise::LENGTH_HEADER_LEN] = header.try_into()?;
    let len = usize::from(to.decrypt_length(&header)?);
    let mut body = body.to_vec();
    if body.len() != len + fulmen_noise::MAC_LEN {
        return Err("frame length mismatch".into());
    }
    let plain = to.decrypt_body_in_place(&mut body)?;
    Ok(Message::decode(plain)?)
}
