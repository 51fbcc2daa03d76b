//! A connection after `init`: the reader loop, the writer task, and the
//! handling of each message.
//!
//! | message | handling |
//! | --- | --- |
//! | `ping` | `pong` with `num_pong_bytes` zeros, unless ≥ 65532 or flooding (see `liveness`) |
//! | `pong` | clears our outstanding ping if its length matches |
//! | `warning` | logged (text only if printable), reported as an event |
//! | `error` | logged, reported, handed to the channel manager |
//! | BOLT 2 channel messages | handed to the channel manager |
//! | `init` again | answered with a `warning`, ignored |
//! | gossip, peer storage | ignored (no gossip or storage support yet) |
//! | unknown odd type | ignored ("it's OK to be odd") |
//! | undecodable | by [`fulmen_wire::WireError::reaction`]: ignore, `warning`, or `warning` and close (unknown even type, malformed message); a malformed channel message (bad point or signature) is also handed to the channel manager to fail the channel |
//! | bad transport MAC | close at once (BOLT 8) |

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fulmen_noise::{Encryptor, MessageDecoder};
use fulmen_types::NodeId;
use fulmen_wire::{Message, Pong, Reaction, WireError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::handshake::{connection_warning, READ_CHUNK};
use super::liveness::{Liveness, TimerAction};
use super::{PeerStats, Shared};
use crate::channels::{channel_id_of, raw_channel_id, CmInput};
use crate::events::{DisconnectReason, NodeEvent};

/// How long a closing connection may take to flush its last messages.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Most bytes the writer batches into one socket write.
const WRITE_BATCH: usize = 64 * 1024;

/// Everything a session needs.
pub(crate) struct SessionParts {
    pub(crate) shared: Arc<Shared>,
    pub(crate) node_id: NodeId,
    /// This connection's number (tags what it hands the channel manager).
    pub(crate) conn_id: u64,
    pub(crate) stream: TcpStream,
    pub(crate) encryptor: Encryptor,
    pub(crate) decoder: MessageDecoder,
    pub(crate) queue_tx: mpsc::Sender<Message>,
    pub(crate) queue_rx: mpsc::Receiver<Message>,
    pub(crate) kill_rx: oneshot::Receiver<DisconnectReason>,
    pub(crate) stats: Arc<Mutex<PeerStats>>,
    /// Removes the peer's entry; `true` if it was this connection's.
    pub(crate) deregister: Box<dyn FnOnce() -> bool + Send>,
}

struct Reader {
    shared: Arc<Shared>,
    node_id: NodeId,
    conn: u64,
    decoder: MessageDecoder,
    liveness: Liveness,
    queue: mpsc::Sender<Message>,
    stats: Arc<Mutex<PeerStats>>,
}

/// Runs the session until the connection ends; returns why.
pub(crate) async fn run(parts: SessionParts) -> DisconnectReason {
    let (mut read_half, write_half) = parts.stream.into_split();
    let mut writer = Some(tokio::spawn(write_loop(
        parts.encryptor,
        write_half,
        parts.queue_rx,
    )));
    let config = parts.shared.config;
    let mut reader = Reader {
        liveness: Liveness::new(
            config.ping_interval,
            config.pong_timeout,
            config.max_pings_per_interval,
            Instant::now().into_std(),
        ),
        shared: parts.shared.clone(),
        node_id: parts.node_id,
        conn: parts.conn_id,
        decoder: parts.decoder,
        queue: parts.queue_tx,
        stats: parts.stats,
    };
    let reason = reader
        .read_loop(&mut read_half, parts.kill_rx, &mut writer)
        .await;

    // Close: forget the peer (dropping its queue sender), tell the channel
    // manager, let the writer flush what is queued (e.g. a last warning).
    if (parts.deregister)() {
        let _ = parts
            .shared
            .to_cm
            .send(CmInput::PeerDisconnected {
                node_id: parts.node_id,
                conn: parts.conn_id,
            })
            .await;
    }
    drop(reader);
    if let Some(mut writer) = writer {
        if tokio::time::timeout(FLUSH_TIMEOUT, &mut writer)
            .await
            .is_err()
        {
            writer.abort();
        }
    }
    reason
}

impl Reader {
    async fn read_loop(
        &mut self,
        read_half: &mut tokio::net::tcp::OwnedReadHalf,
        mut kill_rx: oneshot::Receiver<DisconnectReason>,
        writer: &mut Option<JoinHandle<Result<(), std::io::ErrorKind>>>,
    ) -> DisconnectReason {
        let mut shutdown = self.shared.shutdown.clone();
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            if let Err(reason) = self.drain_decoder().await {
                return reason;
            }
            let deadline = Instant::from_std(self.liveness.deadline());
            let Some(writer_task) = writer.as_mut() else {
                return DisconnectReason::Io(std::io::ErrorKind::BrokenPipe);
            };
            tokio::select! {
                () = crate::tasks::stopped(&mut shutdown) => return DisconnectReason::Shutdown,
                reason = &mut kill_rx => return reason.unwrap_or(DisconnectReason::Shutdown),
                done = writer_task => {
                    *writer = None;
                    return match done {
                        Ok(Err(kind)) => DisconnectReason::Io(kind),
                        _ => DisconnectReason::Io(std::io::ErrorKind::BrokenPipe),
                    };
                }
                () = tokio::time::sleep_until(deadline) => {
                    match self.liveness.on_timer(Instant::now().into_std()) {
                        TimerAction::Wait => {}
                        TimerAction::SendPing { num_pong_bytes } => {
                            let ping = Message::Ping(fulmen_wire::Ping {
                                num_pong_bytes,
                                ignored: Vec::new(),
                                unknown_tlvs: Vec::new(),
                            });
                            if let Err(reason) = self.queue(ping) {
                                return reason;
                            }
                        }
                        TimerAction::TimedOut => return DisconnectReason::PingTimeout,
                    }
                }
                read = read_half.read(&mut buf) => match read {
                    Ok(0) => return DisconnectReason::RemoteClosed,
                    Ok(n) => {
                        self.liveness.on_received(Instant::now().into_std());
                        match buf.get(..n) {
                            Some(chunk) => self.decoder.feed(chunk),
                            None => return DisconnectReason::Io(std::io::ErrorKind::InvalidData),
                        }
                    }
                    Err(e) => return DisconnectReason::Io(e.kind()),
                },
            }
        }
    }

    /// Handles every complete message in the decoder.
    async fn drain_decoder(&mut self) -> Result<(), DisconnectReason> {
        loop {
            match self.decoder.next_message() {
                Ok(Some(bytes)) => self.handle(&bytes).await?,
                Ok(None) => return Ok(()),
                Err(e) => return Err(DisconnectReason::Transport(e)),
            }
        }
    }

    fn queue(&self, msg: Message) -> Result<(), DisconnectReason> {
        match self.queue.try_send(msg) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => Err(DisconnectReason::SlowPeer),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                Err(DisconnectReason::Io(std::io::ErrorKind::BrokenPipe))
            }
        }
    }

    async fn to_cm(&self, input: CmInput) {
        // Awaiting applies back-pressure to the peer when the manager is
        // busy; a closed manager means the node is stopping.
        let _ = self.shared.to_cm.send(input).await;
    }

    async fn handle(&mut self, bytes: &[u8]) -> Result<(), DisconnectReason> {
        let now = Instant::now().into_std();
        let msg = match Message::decode(bytes) {
            Ok(msg) => msg,
            Err(e) => return self.on_bad_message(bytes, e).await,
        };
        let node_id = self.node_id;
        match msg {
            Message::Ping(ping) => {
                if self.liveness.on_ping(ping.num_pong_bytes, now) {
                    self.queue(Message::Pong(Pong {
                        ignored: vec![0; usize::from(ping.num_pong_bytes)],
                        unknown_tlvs: Vec::new(),
                    }))?;
                }
            }
            Message::Pong(pong) => {
                if let Some(round_trip) = self.liveness.on_pong(pong.ignored.len(), now) {
                    if let Ok(mut stats) = self.stats.lock() {
                        stats.last_round_trip = Some(round_trip);
                    }
                    tracing::trace!(peer = %node_id, ?round_trip, "pong");
                    let _ = self.shared.events.send(NodeEvent::PongReceived {
                        node_id,
                        round_trip,
                    });
                }
            }
            Message::Init(_) => {
                self.queue(connection_warning("unexpected second init"))?;
            }
            Message::Warning(w) => {
                let text = w.printable_data().map(str::to_owned);
                tracing::warn!(peer = %node_id, channel = %w.channel_id, data = %printable_or_hex(&w.data, &text), "peer sent a warning");
                let _ = self.shared.events.send(NodeEvent::WarningReceived {
                    node_id,
                    channel_id: w.channel_id,
                    text,
                });
            }
            Message::Error(e) => {
                let text = e.printable_data().map(str::to_owned);
                tracing::warn!(peer = %node_id, channel = %e.channel_id, data = %printable_or_hex(&e.data, &text), "peer sent an error");
                let _ = self.shared.events.send(NodeEvent::ErrorReceived {
                    node_id,
                    channel_id: e.channel_id,
                    text,
                });
                self.to_cm(CmInput::PeerError {
                    node_id,
                    conn: self.conn,
                    error: e,
                })
                .await;
            }
            Message::Unknown { ty, .. } => {
                tracing::trace!(peer = %node_id, ty, "unknown odd message ignored");
            }
            msg @ (Message::ChannelAnnouncement(_)
            | Message::NodeAnnouncement(_)
            | Message::ChannelUpdate(_)
            | Message::GossipTimestampFilter(_)
            | Message::QueryChannelRange(_)
            | Message::ReplyChannelRange(_)
            | Message::QueryShortChannelIds(_)
            | Message::ReplyShortChannelIdsEnd(_)) => {
                self.shared
                    .gossip
                    .send(crate::gossip::GossipInput::PeerMessage {
                        node_id,
                        msg: Box::new(msg),
                    });
            }
            msg if channel_id_of(&msg).is_some()
                || matches!(msg, Message::AnnouncementSignatures(_)) =>
            {
                self.to_cm(CmInput::PeerMessage {
                    node_id,
                    conn: self.conn,
                    msg: Box::new(msg),
                })
                .await;
            }
            other => {
                tracing::trace!(peer = %node_id, ty = other.msg_type(), "message ignored");
            }
        }
        Ok(())
    }

    async fn on_bad_message(&mut self, bytes: &[u8], e: WireError) -> Result<(), DisconnectReason> {
        let node_id = self.node_id;
        tracing::debug!(peer = %node_id, error = %e, "undecodable message");
        match e.reaction() {
            Reaction::Ignore => Ok(()),
            Reaction::Warn => {
                self.queue(connection_warning(&e.to_string()))?;
                Ok(())
            }
            Reaction::FailChannel => {
                self.to_cm(CmInput::FailChannel {
                    node_id,
                    conn: self.conn,
                    channel_id: raw_channel_id(bytes),
                })
                .await;
                Err(DisconnectReason::Wire(e))
            }
            _ => {
                // Best effort: the writer flushes it before closing.
                let _ = self.queue(connection_warning(&e.to_string()));
                Err(DisconnectReason::Wire(e))
            }
        }
    }
}

/// The peer's text if printable, else its bytes in hex (BOLT 1: do not print
/// non-printable data verbatim). Capped at 256 bytes.
fn printable_or_hex(data: &[u8], text: &Option<String>) -> String {
    match text {
        Some(t) => t.chars().take(256).collect(),
        None => hex::encode(data.get(..256).unwrap_or(data)),
    }
}

/// Drains the outbound queue through the encryptor into the socket until
/// every sender is gone, then closes the write side.
async fn write_loop(
    mut encryptor: Encryptor,
    mut write_half: OwnedWriteHalf,
    mut queue: mpsc::Receiver<Message>,
) -> Result<(), std::io::ErrorKind> {
    let mut out = Vec::with_capacity(WRITE_BATCH);
    while let Some(first) = queue.recv().await {
        out.clear();
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg.encode() {
                Ok(plain) => {
                    if let Err(e) = encryptor.encrypt_into(&plain, &mut out) {
                        tracing::error!(error = %e, "cannot encrypt an outgoing message");
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, ty = msg.msg_type(), "cannot encode an outgoing message")
                }
            }
            if out.len() < WRITE_BATCH {
                next = queue.try_recv().ok();
            }
        }
        write_half.write_all(&out).await.map_err(|e| e.kind())?;
    }
    let _ = write_half.shutdown().await;
    Ok(())
}
