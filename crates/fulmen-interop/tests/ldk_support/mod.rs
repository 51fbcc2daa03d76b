//! The fixture of the ldk-node channel tests: one in-memory chain, served over JSON-RPC; a
//! Fulmen node on it (its own tokio runtime) and an ldk-node syncing from the server; waits with
//! deadlines that print ldk-node's log tail when they expire.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code
)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Address, CompressedPublicKey, Network, Txid};
use fulmen_chain::rpc::{Credentials, RpcServer, ServerConfig};
use fulmen_chain::{EmbeddedChain, EmbeddedConfig};
use std::str::FromStr;

use bitcoin::hashes::Hash;
use fulmen_node::{
    ChainConfig, ChannelInfo, ConnectTarget, DisconnectReason, Node, NodeConfig, NodeEvent,
    OpenedChannel, OsEntropy, PaymentOutcome, PaymentStatusKind, PeerConfig,
};
use fulmen_types::{ChannelId, Msat, NodeId, PaymentHash, PaymentPreimage, Sat, ShortChannelId};
use ldk_node::lightning::ln::channelmanager::PaymentId;
use ldk_node::lightning::ln::msgs::SocketAddress;
use ldk_node::lightning_invoice::{Bolt11Invoice, Bolt11InvoiceDescription, Description};
use ldk_node::{ChannelDetails, Event, UserChannelId};

/// The longest any single wait lasts.
pub const WAIT: Duration = Duration::from_secs(60);

/// Bitcoin's coinbase reward at these heights.
pub const REWARD_SAT: u64 = 5_000_000_000;

/// An address nobody here owns: blocks mined to it change no balance.
pub fn burn_address() -> Address {
    let secp = Secp256k1::new();
    let pk = PublicKey::from_secret_key(&secp, &SecretKey::from_slice(&[0x5a; 32]).unwrap());
    Address::p2wpkh(&CompressedPublicKey(pk), Network::Regtest)
}

/// A loopback port free right now (ldk-node wants its listening port before it starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Logs of Fulmen (`tracing`), once per process; `RUST_LOG` filters (default: info).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// ldk-node's alias when it announces channels ([`Net::start_announcing`]).
pub const LDK_ALIAS: &str = "ldk-interop";

/// The description of the test's ldk-node invoices.
pub fn description() -> Bolt11InvoiceDescription {
    Bolt11InvoiceDescription::Direct(Description::new("interop".to_owned()).unwrap())
}

/// Both nodes on one chain.
pub struct Net {
    /// Test name (prefixes diagnostics).
    pub name: &'static str,
    /// Fulmen's runtime; ldk-node runs its own.
    pub rt: tokio::runtime::Runtime,
    /// The chain both see.
    pub chain: EmbeddedChain,
    server: Option<RpcServer>,
    /// The Fulmen node.
    pub fulmen: Node,
    fulmen_dir: tempfile::TempDir,
    fulmen_config: NodeConfig,
    /// Fulmen's events.
    pub events: tokio::sync::broadcast::Receiver<NodeEvent>,
    /// The ldk-node.
    pub ldk: ldk_node::Node,
    ldk_dir: tempfile::TempDir,
    /// ldk-node's log file.
    pub ldk_log: PathBuf,
    /// Where ldk-node listens.
    pub ldk_addr: SocketAddr,
    /// ldk-node events seen but not yet consumed by a wait.
    seen: Vec<Event>,
    /// `warning`s and `error`s Fulmen received, seen while waiting on its events.
    complaints: Vec<String>,
}

impl Net {
    /// Chain, server, both nodes; each wallet holds one matured coinbase (50 BTC); Fulmen is
    /// connected to ldk-node.
    pub fn start(name: &'static str) -> Self {
        Self::start_with(name, None)
    }

    /// [`Self::start`] with an ldk-node that may announce channels (ldk-node wants an alias
    /// and listening addresses for that; it always listens here).
    pub fn start_announcing(name: &'static str) -> Self {
        Self::start_with(name, Some(LDK_ALIAS))
    }

    fn start_with(name: &'static str, ldk_alias: Option<&str>) -> Self {
        init_tracing();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
        let credentials = Credentials::new("ldk", "interop-password");
        let server = RpcServer::start(
            chain.clone(),
            "127.0.0.1:0".parse().unwrap(),
            ServerConfig::new(credentials.clone()),
        )
        .unwrap();
        let rpc = server.local_addr();

        let fulmen_dir = tempfile::tempdir().unwrap();
        let mut config = NodeConfig::regtest(fulmen_dir.path());
        config.chain = ChainConfig::Embedded(chain.clone());
        config.rpc_listen = None;
        config.chain_poll_interval = Duration::from_millis(100);
        config.reconnect_interval = Duration::from_millis(500);
        config.peer = PeerConfig {
            ping_interval: Duration::from_secs(5),
            pong_timeout: Duration::from_secs(10),
            ..PeerConfig::default()
        };
        let fulmen_config = config.clone();
        let fulmen = rt
            .block_on(Node::start(config, Arc::new(OsEntropy)))
            .unwrap();
        let events = fulmen.subscribe();

        let ldk_dir = tempfile::tempdir().unwrap();
        let ldk_log = ldk_dir.path().join("ldk_node.log");
        let port = free_port();
        let ldk_addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut builder = ldk_node::Builder::new();
        builder
            .set_network(Network::Regtest)
            .set_storage_dir_path(ldk_dir.path().join("ldk").display().to_string())
            .set_filesystem_logger(
                Some(ldk_log.display().to_string()),
                Some(ldk_node::logger::LogLevel::Gossip),
            )
            .set_chain_source_bitcoind_rpc(
                rpc.ip().to_string(),
                rpc.port(),
                credentials.user.clone(),
                credentials.password.clone(),
            );
        builder
            .set_listening_addresses(vec![SocketAddress::TcpIpV4 {
                addr: [127, 0, 0, 1],
                port,
            }])
            .unwrap();
        if let Some(alias) = ldk_alias {
            builder.set_node_alias(alias.to_owned()).unwrap();
        }
        let ldk = builder.build().unwrap();
        ldk.start().unwrap();
        eprintln!(
            "[{name}] fulmen {} at {:?}, ldk {} at {ldk_addr}, ldk log {}",
            fulmen.node_id(),
            fulmen.listen_addr(),
            ldk.node_id(),
            ldk_log.display()
        );

        let net = Net {
            name,
            rt,
            chain,
            server: Some(server),
            fulmen,
            fulmen_dir,
            fulmen_config,
            events,
            ldk,
            ldk_dir,
            ldk_log,
            ldk_addr,
            seen: Vec::new(),
            complaints: Vec::new(),
        };

        // One coinbase each, matured by 100 blocks nobody owns.
        let ldk_address = net.ldk.onchain_payment().new_address().unwrap();
        net.mine_to(1, None);
        net.mine_to(1, Some(ldk_address));
        net.mine(100);
        net.wait_fulmen_confirmed(REWARD_SAT);
        net.wait_ldk_onchain(REWARD_SAT);
        net.connect();
        net
    }

    /// Runs a Fulmen future on its runtime.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// ldk-node's id as Fulmen sees it.
    pub fn ldk_id(&self) -> NodeId {
        NodeId::from_pubkey(&self.ldk.node_id())
    }

    /// Fulmen's id as ldk-node sees it.
    pub fn fulmen_pk(&self) -> PublicKey {
        self.fulmen.node_id().to_pubkey().unwrap()
    }

    /// Fulmen's peer address for ldk-node.
    pub fn fulmen_socket(&self) -> SocketAddress {
        let addr = self.fulmen.listen_addr().unwrap();
        SocketAddress::TcpIpV4 {
            addr: [127, 0, 0, 1],
            port: addr.port(),
        }
    }

    /// Fulmen connects to ldk-node (and remembers its address to reconnect).
    pub fn connect(&self) {
        let target = ConnectTarget {
            node_id: self.ldk_id(),
            address: self.ldk_addr.to_string(),
        };
        self.block_on(self.fulmen.connect(&target)).unwrap();
        self.wait("ldk-node to list Fulmen as connected", || {
            self.ldk
                .list_peers()
                .iter()
                .any(|p| p.node_id == self.fulmen_pk() && p.is_connected)
        });
    }

    /// Waits until Fulmen and ldk-node are connected (Fulmen reconnects every 500 ms).
    pub fn connect_if_needed(&self) {
        self.wait("Fulmen and ldk-node connected", || {
            self.fulmen.peers().is_connected(&self.ldk_id())
                && self
                    .ldk
                    .list_peers()
                    .iter()
                    .any(|p| p.node_id == self.fulmen_pk() && p.is_connected)
        });
    }

    /// Mines `blocks` to nobody; returns once Fulmen has applied them.
    pub fn mine(&self, blocks: u32) {
        self.mine_to(blocks, Some(burn_address()));
    }

    /// Mines `blocks` to `to` (default: a Fulmen wallet address); returns once Fulmen has
    /// applied them (ldk-node follows on its own polling, or `sync_wallets`).
    pub fn mine_to(&self, blocks: u32, to: Option<Address>) {
        self.block_on(self.fulmen.mine(blocks, to)).unwrap();
    }

    /// The tail of ldk-node's log.
    pub fn ldk_log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(&self.ldk_log).unwrap_or_default();
        // Liveness and polling lines say nothing about the channels.
        let noise = [
            "Ping",
            "Pong",
            "polling mempool",
            "timer_tick_occurred",
            "Rebroadcasting",
            "Regenerating sweeper",
            "Pruning and persisting",
        ];
        let all: Vec<&str> = log
            .lines()
            .filter(|l| !noise.iter().any(|n| l.contains(n)))
            .collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Fails the test with `what` and ldk-node's log tail.
    pub fn fail(&self, what: &str) -> ! {
        panic!(
            "[{}] {what}\n--- ldk-node log tail ---\n{}",
            self.name,
            self.ldk_log_tail(80)
        );
    }

    /// Polls `cond` (every 20 ms) until it holds; fails after [`WAIT`].
    pub fn wait(&self, what: &str, cond: impl FnMut() -> bool) {
        self.wait_up_to(WAIT, what, cond);
    }

    /// Polls `cond` (every 20 ms) until it holds; fails after `limit`.
    pub fn wait_up_to(&self, limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while !cond() {
            if Instant::now() > deadline {
                self.fail(&format!("timed out waiting for {what}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for (and consumes) the first ldk-node event `pred` picks, handling the others on
    /// the way (kept for later waits).
    pub fn ldk_event<T>(&mut self, what: &str, mut pred: impl FnMut(&Event) -> Option<T>) -> T {
        if let Some(i) = self.seen.iter().position(|e| pred(e).is_some()) {
            let e = self.seen.remove(i);
            return pred(&e).unwrap();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(event) = self.ldk.next_event() {
                eprintln!("[{}] ldk event: {event:?}", self.name);
                self.ldk.event_handled().unwrap();
                if let Some(t) = pred(&event) {
                    return t;
                }
                self.seen.push(event);
                continue;
            }
            if Instant::now() > deadline {
                self.fail(&format!("timed out waiting for the ldk-node event: {what}"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Handles every queued ldk-node event (kept for later waits).
    pub fn drain_ldk_events(&mut self) {
        while let Some(event) = self.ldk.next_event() {
            eprintln!("[{}] ldk event: {event:?}", self.name);
            self.ldk.event_handled().unwrap();
            self.seen.push(event);
        }
    }

    /// Fulmen's confirmed on-chain balance.
    pub fn fulmen_confirmed(&self) -> u64 {
        self.block_on(self.fulmen.wallet_balance())
            .unwrap()
            .confirmed
            .0
    }

    /// Waits until Fulmen's confirmed balance is `sat`.
    pub fn wait_fulmen_confirmed(&self, sat: u64) {
        self.wait(&format!("Fulmen's confirmed balance {sat}"), || {
            self.fulmen_confirmed() == sat
        });
    }

    /// Waits until ldk-node's total on-chain balance is `sat` (syncing its wallet).
    pub fn wait_ldk_onchain(&self, sat: u64) {
        self.wait(&format!("ldk-node's on-chain balance {sat}"), || {
            self.ldk.sync_wallets().unwrap();
            self.ldk.list_balances().total_onchain_balance_sats == sat
        });
    }

    /// Every Fulmen channel.
    pub fn fulmen_channels(&self) -> Vec<ChannelInfo> {
        self.block_on(self.fulmen.list_channels()).unwrap()
    }

    /// One Fulmen channel.
    pub fn fulmen_channel(&self, id: ChannelId) -> ChannelInfo {
        self.fulmen_channels()
            .into_iter()
            .find(|c| c.channel_id == id)
            .unwrap_or_else(|| self.fail(&format!("Fulmen lists no channel {id}")))
    }

    /// ldk-node's view of the channel `id`.
    pub fn ldk_channel_by_id(&self, id: ChannelId) -> Option<ChannelDetails> {
        self.ldk
            .list_channels()
            .into_iter()
            .find(|c| c.channel_id.0 == id.0)
    }

    /// ldk-node's view of a channel Fulmen opened.
    pub fn ldk_channel(&self, opened: &OpenedChannel) -> ChannelDetails {
        self.ldk_channel_by_id(opened.channel_id)
            .unwrap_or_else(|| self.fail("ldk-node does not list the channel"))
    }

    /// Waits until the channel is `normal` at Fulmen and usable at ldk-node (mining a block
    /// now and then so that both reach their depth).
    pub fn wait_usable(&self, id: ChannelId) {
        self.wait("the channel usable on both sides", || {
            let fulmen_normal = self
                .fulmen_channels()
                .iter()
                .any(|c| c.channel_id == id && c.state == "normal" && c.connected);
            let ldk_usable = self.ldk_channel_by_id(id).is_some_and(|c| c.is_usable);
            fulmen_normal && ldk_usable
        });
    }

    /// Fulmen opens a channel of `sat` to ldk-node; mines to ldk-node's `minimum_depth`;
    /// returns once both sides see it usable.
    pub fn fulmen_open(&mut self, sat: u64) -> OpenedChannel {
        self.fulmen_open_with_push(sat, 0)
    }

    /// [`Self::fulmen_open`], pushing `push_msat` to ldk-node at opening.
    pub fn fulmen_open_with_push(&mut self, sat: u64, push_msat: u64) -> OpenedChannel {
        let opened = self.fulmen_open_unconfirmed(sat, push_msat);
        self.confirm_channel(opened.channel_id);
        opened
    }

    /// Fulmen opens a channel to ldk-node; returns once its funding is broadcast and
    /// ldk-node reports the channel pending.
    pub fn fulmen_open_unconfirmed(&mut self, sat: u64, push_msat: u64) -> OpenedChannel {
        self.fulmen_open_unconfirmed_with(sat, push_msat, false)
    }

    /// [`Self::fulmen_open_unconfirmed`], the channel announced (BOLT 7) if `announce`.
    pub fn fulmen_open_unconfirmed_with(
        &mut self,
        sat: u64,
        push_msat: u64,
        announce: bool,
    ) -> OpenedChannel {
        let opened = self
            .block_on(
                self.fulmen
                    .open_channel(self.ldk_id(), Sat(sat), Msat(push_msat), announce),
            )
            .unwrap_or_else(|e| self.fail(&format!("openchannel failed: {e}")));
        let pending = self.ldk_event("ChannelPending", |e| match e {
            Event::ChannelPending {
                channel_id,
                funding_txo,
                ..
            } => Some((*channel_id, *funding_txo)),
            _ => None,
        });
        assert_eq!(pending.0 .0, opened.channel_id.0);
        assert_eq!(pending.1.txid, opened.funding_txid);
        opened
    }

    /// Mines to the `minimum_depth` of a channel being opened (either way); returns once
    /// ldk-node reports it ready and both sides see it usable.
    pub fn confirm_channel(&mut self, id: ChannelId) {
        let depth = self
            .ldk_channel_by_id(id)
            .and_then(|c| c.confirmations_required)
            .unwrap_or(6);
        self.mine(depth.max(3));
        self.ldk_event("ChannelReady", |e| match e {
            Event::ChannelReady { channel_id, .. } if channel_id.0 == id.0 => Some(()),
            _ => None,
        });
        self.wait_usable(id);
    }

    /// ldk-node opens a channel of `sat` to Fulmen; mines to Fulmen's `minimum_depth`;
    /// returns the channel id once both sides see it usable.
    pub fn ldk_open(&mut self, sat: u64) -> ChannelId {
        let id = self.ldk_open_unconfirmed(sat);
        self.confirm_channel(id);
        id
    }

    /// ldk-node opens a channel to Fulmen; returns once its funding is in the mempool and
    /// Fulmen lists the channel.
    pub fn ldk_open_unconfirmed(&mut self, sat: u64) -> ChannelId {
        self.ldk
            .open_channel(self.fulmen_pk(), self.fulmen_socket(), sat, None, None)
            .unwrap_or_else(|e| self.fail(&format!("ldk open_channel failed: {e:?}")));
        let id = self.ldk_channel_pending();
        let info = self.fulmen_channel(id);
        assert_eq!(info.funder_is_local, Some(false));
        assert_eq!(
            info.funding_txid,
            self.ldk_channel_by_id(id)
                .and_then(|c| c.funding_txo)
                .map(|o| o.txid)
        );
        assert_eq!(info.capacity, Sat(sat));
        id
    }

    /// ldk-node opens an announced channel of `sat` to the Fulmen node `peer` (listening at
    /// `addr`), forwarding with `config` (fees, CLTV delta); returns the channel id once the
    /// funding is in the mempool.
    pub fn ldk_open_announced_unconfirmed(
        &mut self,
        peer: PublicKey,
        addr: SocketAddr,
        sat: u64,
        config: ldk_node::config::ChannelConfig,
    ) -> ChannelId {
        let addr = SocketAddress::TcpIpV4 {
            addr: [127, 0, 0, 1],
            port: addr.port(),
        };
        self.ldk
            .open_announced_channel(peer, addr, sat, None, Some(config))
            .unwrap_or_else(|e| self.fail(&format!("ldk open_announced_channel failed: {e:?}")));
        self.ldk_channel_pending()
    }

    /// Waits for ldk-node's `ChannelPending` and for the funding transaction in the mempool.
    fn ldk_channel_pending(&mut self) -> ChannelId {
        let (id, funding) = self.ldk_event("ChannelPending", |e| match e {
            Event::ChannelPending {
                channel_id,
                funding_txo,
                ..
            } => Some((ChannelId(channel_id.0), *funding_txo)),
            _ => None,
        });
        self.wait("ldk-node's funding transaction in the mempool", || {
            self.chain.in_mempool(&funding.txid).unwrap()
        });
        assert_eq!(
            self.ldk_channel_by_id(id).and_then(|c| c.funding_txo),
            Some(funding)
        );
        id
    }

    /// Waits until Fulmen has no HTLC in flight on the channel (every removal irrevocably
    /// committed on both commitments).
    pub fn wait_settled(&self, id: ChannelId) {
        self.wait("no HTLC in flight", || self.fulmen_channel(id).htlcs == 0);
    }

    /// ldk-node pays a Fulmen invoice of `msat`; returns once ldk-node reports success and
    /// Fulmen has the invoice paid.
    pub fn ldk_pays_fulmen(&mut self, msat: u64, label: &str) -> PaymentHash {
        let created = self
            .block_on(
                self.fulmen
                    .create_invoice(Some(Msat(msat)), label, "interop"),
            )
            .unwrap();
        let invoice = Bolt11Invoice::from_str(&created.bolt11)
            .unwrap_or_else(|e| self.fail(&format!("LDK cannot parse Fulmen's invoice: {e:?}")));
        let payment_id = self
            .ldk
            .bolt11_payment()
            .send(&invoice, None)
            .unwrap_or_else(|e| self.fail(&format!("ldk send failed: {e:?}")));
        self.ldk_payment_successful(payment_id, created.payment_hash);
        self.wait_fulmen_invoice_paid(created.payment_hash, msat);
        created.payment_hash
    }

    /// Waits for ldk-node's `PaymentSuccessful` of `payment_id` (failing on its
    /// `PaymentFailed`).
    pub fn ldk_payment_successful(&mut self, payment_id: PaymentId, hash: PaymentHash) {
        self.ldk_payment_successful_with_fee(payment_id, hash, 0);
    }

    /// [`Self::ldk_payment_successful`] for a payment that paid `fee_msat` in routing fees.
    pub fn ldk_payment_successful_with_fee(
        &mut self,
        payment_id: PaymentId,
        hash: PaymentHash,
        fee_msat: u64,
    ) {
        let outcome = self.ldk_event("PaymentSuccessful", |e| match e {
            Event::PaymentSuccessful {
                payment_id: Some(id),
                payment_hash,
                payment_preimage,
                fee_paid_msat,
            } if *id == payment_id => Some(Ok((*payment_hash, *payment_preimage, *fee_paid_msat))),
            Event::PaymentFailed {
                payment_id: Some(id),
                reason,
                ..
            } if *id == payment_id => Some(Err(*reason)),
            _ => None,
        });
        match outcome {
            Ok((payment_hash, preimage, fee)) => {
                assert_eq!(payment_hash.0, hash.0);
                let preimage = PaymentPreimage(preimage.expect("preimage").0);
                assert_eq!(preimage.payment_hash(), hash);
                assert_eq!(fee, Some(fee_msat), "ldk-node's fee_paid_msat");
            }
            Err(reason) => self.fail(&format!("ldk-node's payment failed: {reason:?}")),
        }
    }

    /// Waits until Fulmen's invoice `hash` is paid with `msat`.
    pub fn wait_fulmen_invoice_paid(&self, hash: PaymentHash, msat: u64) {
        self.wait("Fulmen's invoice paid", || {
            self.block_on(self.fulmen.list_invoices())
                .unwrap()
                .iter()
                .any(|i| {
                    i.payment_hash == hash
                        && i.status == fulmen_store::InvoiceStatus::Paid
                        && i.amount_received == Some(Msat(msat))
                })
        });
    }

    /// An ldk-node invoice of `msat`.
    pub fn ldk_invoice(&self, msat: u64) -> Bolt11Invoice {
        self.ldk
            .bolt11_payment()
            .receive(msat, &description(), 3600)
            .unwrap()
    }

    /// Fulmen pays an ldk-node invoice of `msat`; returns once Fulmen's payment is complete
    /// and ldk-node reports it received.
    pub fn fulmen_pays_ldk(&mut self, msat: u64) -> PaymentHash {
        let invoice = self.ldk_invoice(msat);
        let outcome = self
            .block_on(self.fulmen.pay_invoice(&invoice.to_string(), None))
            .unwrap();
        self.check_fulmen_paid_ldk(&invoice, outcome)
    }

    /// Checks Fulmen's outcome of paying `invoice` and waits for ldk-node's
    /// `PaymentReceived`.
    pub fn check_fulmen_paid_ldk(
        &mut self,
        invoice: &Bolt11Invoice,
        outcome: PaymentOutcome,
    ) -> PaymentHash {
        let hash = PaymentHash(invoice.payment_hash().to_byte_array());
        let msat = invoice.amount_milli_satoshis().unwrap();
        if outcome.status != PaymentStatusKind::Complete {
            self.fail(&format!("Fulmen's payment did not complete: {outcome:?}"));
        }
        assert_eq!(outcome.payment_hash, hash);
        assert_eq!(outcome.preimage.unwrap().payment_hash(), hash);
        assert_eq!(outcome.amount, Msat(msat));
        assert_eq!(outcome.fee, Msat(0));
        let received = self.ldk_event("PaymentReceived", |e| match e {
            Event::PaymentReceived {
                payment_hash,
                amount_msat,
                ..
            } if payment_hash.0 == hash.0 => Some(*amount_msat),
            _ => None,
        });
        assert_eq!(received, msat);
        hash
    }

    /// Whether ldk-node's `list_channels` agrees that it holds `msat` of the channel (HTLCs
    /// excluded, before the commitment fee): its `outbound_capacity_msat` is that balance less
    /// the reserve the peer asks it to keep and, for the funder, the two 330-sat anchors
    /// (zero if that is negative).
    pub fn ldk_balance_is(&self, id: ChannelId, msat: u64) -> bool {
        let c = self
            .ldk_channel_by_id(id)
            .unwrap_or_else(|| self.fail("ldk-node does not list the channel"));
        let anchors = if c.is_outbound { 660_000 } else { 0 };
        let kept = c.unspendable_punishment_reserve.unwrap_or(0) * 1000 + anchors;
        c.outbound_capacity_msat == msat.saturating_sub(kept)
    }

    /// Checks both sides agree that Fulmen holds `fulmen_msat` of the channel.
    pub fn check_balances(&self, id: ChannelId, fulmen_msat: u64) {
        self.wait_settled(id);
        let info = self.fulmen_channel(id);
        let capacity_msat = info.capacity.0 * 1000;
        assert_eq!(info.local_balance, Msat(fulmen_msat), "{info:?}");
        assert_eq!(info.remote_balance, Msat(capacity_msat - fulmen_msat));
        self.wait("ldk-node's balance to agree", || {
            self.ldk_balance_is(id, capacity_msat - fulmen_msat)
        });
    }

    /// Stops Fulmen and starts it again on its data directory (it reconnects to ldk-node,
    /// whose address it stored, and resumes its channels).
    pub fn restart_fulmen(&mut self) {
        self.restart_fulmen_with(|_| {});
    }

    /// [`Self::restart_fulmen`], running `meanwhile` while Fulmen is down.
    pub fn restart_fulmen_with(&mut self, meanwhile: impl FnOnce(&Self)) {
        let old = self.fulmen.clone();
        old.stop();
        self.block_on(async move {
            tokio::time::timeout(WAIT, old.wait_stopped())
                .await
                .expect("Fulmen stops in time")
        });
        eprintln!("[{}] Fulmen stopped", self.name);
        self.wait("ldk-node to see Fulmen gone", || {
            !self
                .ldk
                .list_peers()
                .iter()
                .any(|p| p.node_id == self.fulmen_pk() && p.is_connected)
        });
        meanwhile(self);
        self.fulmen = self
            .block_on(Node::start(self.fulmen_config.clone(), Arc::new(OsEntropy)))
            .unwrap();
        self.drain_fulmen_events();
        self.events = self.fulmen.subscribe();
    }

    /// Stops ldk-node and starts it again (same instance and storage).
    pub fn restart_ldk(&mut self) {
        self.restart_ldk_with(|_| {});
    }

    /// [`Self::restart_ldk`], running `meanwhile` while ldk-node is down.
    pub fn restart_ldk_with(&mut self, meanwhile: impl FnOnce(&Self)) {
        self.ldk.stop().unwrap();
        eprintln!("[{}] ldk-node stopped", self.name);
        meanwhile(self);
        self.ldk.start().unwrap();
    }

    /// Fulmen drops its connection to ldk-node (as if the network failed); returns once Fulmen
    /// reports the disconnection. Fulmen reconnects on its own (every 500 ms), so ldk-node may
    /// be connected again at any time after.
    pub fn fulmen_drops_connection(&mut self) {
        let ldk_id = self.ldk_id();
        let dropped = self.fulmen.peers().disconnect(
            &ldk_id,
            DisconnectReason::Io(std::io::ErrorKind::ConnectionReset),
        );
        assert!(dropped, "Fulmen was not connected to ldk-node");
        self.fulmen_event(
            "Fulmen's disconnection from ldk-node",
            |e| matches!(e, NodeEvent::PeerDisconnected { node_id: Some(n), .. } if *n == ldk_id),
        );
        eprintln!("[{}] Fulmen dropped the connection", self.name);
    }

    /// Remembers a `warning` or `error` Fulmen received.
    fn note_complaint(&mut self, event: &NodeEvent) {
        if matches!(
            event,
            NodeEvent::WarningReceived { .. } | NodeEvent::ErrorReceived { .. }
        ) {
            self.complaints.push(format!("{event:?}"));
        }
    }

    /// Reads every queued Fulmen event (remembering warnings and errors).
    pub fn drain_fulmen_events(&mut self) {
        loop {
            match self.events.try_recv() {
                Ok(event) => {
                    self.note_complaint(&event);
                }
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => return,
            }
        }
    }

    /// Waits for the first Fulmen event `pred` accepts; remembers the peer's warnings and
    /// errors seen on the way.
    pub fn fulmen_event(&mut self, what: &str, mut pred: impl FnMut(&NodeEvent) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.events.try_recv() {
                Ok(event) => {
                    self.note_complaint(&event);
                    if pred(&event) {
                        return;
                    }
                    continue;
                }
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => {}
            }
            if Instant::now() > deadline {
                self.fail(&format!("timed out waiting for {what}"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until the channel is usable again on both sides after a reconnection.
    pub fn wait_reconnected(&self, id: ChannelId) {
        self.wait("Fulmen connected to ldk-node again", || {
            self.fulmen.peers().is_connected(&self.ldk_id())
        });
        self.wait_usable(id);
    }

    /// A mutual close of `id` broadcast as `txid` is mined; checks the closing transaction
    /// (the funder pays its fee, the fundee gets its balance exactly) and that both on-chain
    /// wallets grow by their balances. `before` is (Fulmen confirmed, ldk total) before.
    pub fn mine_mutual_close(&mut self, id: ChannelId, txid: Txid, before: (u64, u64)) {
        let info = self.fulmen_channel(id);
        let fulmen_sat = info.local_balance.0 / 1000;
        let ldk_sat = info.remote_balance.0 / 1000;
        self.wait("the closing transaction in the mempool", || {
            self.chain.in_mempool(&txid).unwrap()
        });
        let tx = self.chain.transaction(&txid).unwrap().unwrap().tx;
        assert_eq!(tx.input.len(), 1);
        assert_eq!(Some(tx.input[0].previous_output.txid), info.funding_txid);
        let values: Vec<u64> = tx.output.iter().map(|o| o.value.to_sat()).collect();
        // BOLT 3: each side's balance rounded down to the satoshi, the fee taken from the
        // funder's (the msat left over by the rounding goes to the miners too).
        let fee = fulmen_sat + ldk_sat - values.iter().sum::<u64>();
        assert!(fee > 0 && fee < 10_000, "closing fee {fee}");
        let (fulmen_gets, ldk_gets) = if info.funder_is_local == Some(true) {
            (fulmen_sat - fee, ldk_sat)
        } else {
            (fulmen_sat, ldk_sat - fee)
        };
        assert!(values.contains(&fulmen_gets), "{values:?} {fulmen_gets}");
        assert!(values.contains(&ldk_gets), "{values:?} {ldk_gets}");
        eprintln!(
            "[{}] closing tx {txid}: Fulmen {fulmen_gets} sat, ldk-node {ldk_gets} sat, fee {fee} sat",
            self.name
        );
        self.mine(1);
        self.wait_fulmen_confirmed(before.0 + fulmen_gets);
        self.wait_ldk_onchain(before.1 + ldk_gets);
        self.ldk_event("ChannelClosed", |e| match e {
            Event::ChannelClosed { channel_id, .. } if channel_id.0 == id.0 => Some(()),
            _ => None,
        });
        // No anchor channel left: ldk-node keeps no reserve and can spend it all.
        self.wait("ldk-node's reserve released", || {
            self.ldk.sync_wallets().unwrap();
            let b = self.ldk.list_balances();
            b.total_anchor_channels_reserve_sats == 0
                && b.spendable_onchain_balance_sats == b.total_onchain_balance_sats
        });
        self.wait("Fulmen's channel closed", || {
            self.fulmen_channel(id).state == "closed"
        });
    }

    /// Fulmen's confirmed balance and ldk-node's total on-chain balance now.
    pub fn onchain_balances(&self) -> (u64, u64) {
        self.ldk.sync_wallets().unwrap();
        (
            self.fulmen_confirmed(),
            self.ldk.list_balances().total_onchain_balance_sats,
        )
    }

    /// The user channel id ldk-node gave a channel.
    pub fn ldk_user_channel_id(&self, id: ChannelId) -> UserChannelId {
        self.ldk_channel_by_id(id)
            .unwrap_or_else(|| self.fail("ldk-node does not list the channel"))
            .user_channel_id
    }

    /// ldk-node's log lines at WARN or ERROR level.
    pub fn ldk_log_problems(&self) -> Vec<String> {
        std::fs::read_to_string(&self.ldk_log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
            .map(str::to_owned)
            .collect()
    }

    /// The `warning` and `error` messages ldk-node's log shows it sending or receiving (it
    /// traces every message of the connection).
    pub fn protocol_complaints(&self) -> Vec<String> {
        std::fs::read_to_string(&self.ldk_log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("WarningMessage") || l.contains("ErrorMessage"))
            .map(str::to_owned)
            .collect()
    }

    /// Another Fulmen node on the same chain (same settings as the first, its own data
    /// directory and wallet, nothing funded); returns once it has followed the chain to the
    /// first node's height.
    pub fn start_other_fulmen(&self, alias: &str) -> OtherFulmen {
        let dir = tempfile::tempdir().unwrap();
        let mut config = self.fulmen_config.clone();
        config.datadir = dir.path().to_path_buf();
        config.alias = alias.to_owned();
        let node = self
            .block_on(Node::start(config, Arc::new(OsEntropy)))
            .unwrap();
        let events = node.subscribe();
        eprintln!(
            "[{}] fulmen {alias} {} at {:?}",
            self.name,
            node.node_id(),
            node.listen_addr()
        );
        let other = OtherFulmen { node, events, dir };
        other.wait_height(self, self.fulmen.block_height());
        other
    }

    /// Stops a node of [`Self::start_other_fulmen`].
    pub fn stop_other_fulmen(&self, other: OtherFulmen) {
        other.node.stop();
        let node = other.node.clone();
        self.block_on(async move {
            tokio::time::timeout(WAIT, node.wait_stopped())
                .await
                .expect("Fulmen stops in time")
        });
    }

    /// `node` connects to the peer `to` (a Fulmen node) and remembers its address.
    pub fn connect_fulmen(&self, node: &Node, to: &Node) {
        let target = ConnectTarget {
            node_id: to.node_id(),
            address: to.listen_addr().unwrap().to_string(),
        };
        self.block_on(node.connect(&target)).unwrap();
        self.wait("the Fulmen nodes connected", || {
            node.peers().is_connected(&to.node_id()) && to.peers().is_connected(&node.node_id())
        });
    }

    /// `node` (a Fulmen node) connects to ldk-node and remembers its address.
    pub fn connect_to_ldk(&self, node: &Node) {
        let target = ConnectTarget {
            node_id: self.ldk_id(),
            address: self.ldk_addr.to_string(),
        };
        self.block_on(node.connect(&target)).unwrap();
        let pk = node.node_id().to_pubkey().unwrap();
        self.wait("ldk-node to list the Fulmen node as connected", || {
            self.ldk
                .list_peers()
                .iter()
                .any(|p| p.node_id == pk && p.is_connected)
        });
    }

    /// Waits until the Fulmen `node` has channel `id` in `normal` with its peer connected.
    pub fn wait_fulmen_normal(&self, node: &Node, id: ChannelId) {
        self.wait("the Fulmen channel normal", || {
            self.block_on(node.list_channels())
                .unwrap()
                .iter()
                .any(|c| c.channel_id == id && c.state == "normal" && c.connected)
        });
    }

    /// Waits until `events` (of the Fulmen `node`) have shown that its network graph holds
    /// each of `scids` with both directions' `channel_update`s; checks the graph at each
    /// `GraphChanged`.
    pub fn wait_fulmen_graph(
        &self,
        node: &Node,
        events: &mut tokio::sync::broadcast::Receiver<NodeEvent>,
        scids: &[ShortChannelId],
    ) {
        let graph = node.network_graph();
        let complete = || {
            let g = graph.read().unwrap();
            scids.iter().all(|scid| {
                g.channel(*scid)
                    .is_some_and(|c| c.one_to_two.is_some() && c.two_to_one.is_some())
            })
        };
        let deadline = Instant::now() + WAIT;
        while !complete() {
            let left = deadline.saturating_duration_since(Instant::now());
            let got = self.block_on(async {
                loop {
                    match tokio::time::timeout(left, events.recv()).await {
                        Ok(Ok(NodeEvent::GraphChanged { .. })) => return true,
                        // Missed events: look at the graph again.
                        Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                            return true
                        }
                        Ok(Ok(_)) => continue,
                        Ok(Err(_)) | Err(_) => return false,
                    }
                }
            });
            if !got {
                let g = graph.read().unwrap();
                let seen: Vec<String> = g
                    .channel_ids()
                    .filter_map(|s| g.channel(s))
                    .map(|c| {
                        format!(
                            "{} one_to_two={} two_to_one={}",
                            c.short_channel_id,
                            c.one_to_two.is_some(),
                            c.two_to_one.is_some()
                        )
                    })
                    .collect();
                drop(g);
                self.fail(&format!(
                    "timed out waiting for {} to have {scids:?} in its graph with both \
                     directions; it has: {seen:?}",
                    node.node_id()
                ));
            }
        }
    }

    /// Polls ldk-node's network graph (ldk-node reports no event for gossip) until it holds
    /// `scid` with both directions' `channel_update`s; fails after [`WAIT`].
    pub fn wait_ldk_graph(&self, scid: ShortChannelId) {
        let deadline = Instant::now() + WAIT;
        loop {
            let channel = self.ldk.network_graph().channel(scid.0);
            if channel
                .as_ref()
                .is_some_and(|c| c.one_to_two.is_some() && c.two_to_one.is_some())
            {
                return;
            }
            if Instant::now() > deadline {
                self.fail(&format!(
                    "timed out waiting for ldk-node's graph to have {scid} with both \
                     directions; it has {channel:?} (channels {:?})",
                    self.ldk.network_graph().list_channels()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops both nodes and the chain server; prints ldk-node's warnings and errors; fails if
    /// either side sent the other a `warning` or an `error`.
    pub fn stop(mut self) {
        for line in self.ldk_log_problems() {
            eprintln!("[{}] ldk-node: {line}", self.name);
        }
        let complaints = self.protocol_complaints();
        self.drain_fulmen_events();
        let from_ldk = std::mem::take(&mut self.complaints);
        if !complaints.is_empty() || !from_ldk.is_empty() {
            self.fail(&format!(
                "warnings or errors exchanged:\n{}\n{}",
                complaints.join("\n"),
                from_ldk.join("\n")
            ));
        }
        if std::env::var_os("FULMEN_INTEROP_KEEP").is_some() {
            eprintln!(
                "[{}] keeping {} and {}",
                self.name,
                self.fulmen_dir.path().display(),
                self.ldk_dir.path().display()
            );
            let _ = std::mem::replace(&mut self.fulmen_dir, tempfile::tempdir().unwrap()).keep();
            let _ = std::mem::replace(&mut self.ldk_dir, tempfile::tempdir().unwrap()).keep();
        }
        self.ldk.stop().unwrap();
        self.fulmen.stop();
        let fulmen = self.fulmen.clone();
        self.block_on(async move {
            tokio::time::timeout(WAIT, fulmen.wait_stopped())
                .await
                .expect("Fulmen stops in time")
        });
        if let Some(server) = self.server.take() {
            server.shutdown();
        }
    }
}

/// A Fulmen node besides [`Net::fulmen`] on the same chain.
pub struct OtherFulmen {
    /// The node.
    pub node: Node,
    /// Its events.
    pub events: tokio::sync::broadcast::Receiver<NodeEvent>,
    dir: tempfile::TempDir,
}

impl OtherFulmen {
    /// Its id as ldk-node sees it.
    pub fn pk(&self) -> PublicKey {
        self.node.node_id().to_pubkey().unwrap()
    }

    /// Waits until it has followed the chain to `height`.
    pub fn wait_height(&self, net: &Net, height: u32) {
        net.wait(&format!("the other Fulmen node at height {height}"), || {
            self.node.block_height() >= height
        });
    }

    /// Every channel.
    pub fn channels(&self, net: &Net) -> Vec<ChannelInfo> {
        net.block_on(self.node.list_channels()).unwrap()
    }
}
