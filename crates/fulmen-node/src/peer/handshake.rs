//! The BOLT 8 handshake and the BOLT 1 `init` exchange over a TCP stream.
//!
//! Both run under one deadline (the caller's `timeout`); any failure ends
//! the connection without a further message (BOLT 8), except a refused
//! `init`, which is answered with a `warning` first.

use bitcoin::secp256k1::{PublicKey, SecretKey};
use fulmen_noise::{
    Decryptor, Encryptor, InitiatorHandshake, MessageDecoder, ResponderHandshake, ACT_ONE_LEN,
    ACT_THREE_LEN, ACT_TWO_LEN,
};
use fulmen_types::ChannelId;
use fulmen_wire::{Message, WarningMessage};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::events::DisconnectReason;

/// Size of one socket read.
pub(crate) const READ_CHUNK: usize = 16 * 1024;

fn io_reason(e: &std::io::Error) -> DisconnectReason {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => DisconnectReason::RemoteClosed,
        kind => DisconnectReason::Io(kind),
    }
}

/// Runs the initiator side: we know the peer's node id.
pub(crate) async fn initiator<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    local: SecretKey,
    remote: PublicKey,
    ephemeral: SecretKey,
) -> Result<(Encryptor, Decryptor), DisconnectReason> {
    let (handshake, act_one) = InitiatorHandshake::new(local, remote, ephemeral);
    stream
        .write_all(&act_one)
        .await
        .map_err(|e| io_reason(&e))?;
    let mut act_two = [0u8; ACT_TWO_LEN];
    stream
        .read_exact(&mut act_two)
        .await
        .map_err(|e| io_reason(&e))?;
    let (act_three, transport) = handshake
        .process_act_two(&act_two)
        .map_err(DisconnectReason::Handshake)?;
    stream
        .write_all(&act_three)
        .await
        .map_err(|e| io_reason(&e))?;
    Ok(transport.split())
}

/// Runs the responder side: returns the initiator's authenticated key.
pub(crate) async fn responder<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    local: SecretKey,
    ephemeral: SecretKey,
) -> Result<(PublicKey, Encryptor, Decryptor), DisconnectReason> {
    let handshake = ResponderHandshake::new(local, ephemeral);
    let mut act_one = [0u8; ACT_ONE_LEN];
    stream
        .read_exact(&mut act_one)
        .await
        .map_err(|e| io_reason(&e))?;
    let (handshake, act_two) = handshake
        .process_act_one(&act_one)
        .map_err(DisconnectReason::Handshake)?;
    stream
        .write_all(&act_two)
        .await
        .map_err(|e| io_reason(&e))?;
    let mut act_three = [0u8; ACT_THREE_LEN];
    stream
        .read_exact(&mut act_three)
        .await
        .map_err(|e| io_reason(&e))?;
    let (remote, transport) = handshake
        .process_act_three(&act_three)
        .map_err(DisconnectReason::Handshake)?;
    let (encryptor, decryptor) = transport.split();
    Ok((remote, encryptor, decryptor))
}

/// Encrypts and writes one message.
pub(crate) async fn send_message<S: AsyncWrite + Unpin>(
    stream: &mut S,
    encryptor: &mut Encryptor,
    msg: &Message,
) -> Result<(), DisconnectReason> {
    let plain = msg.encode().map_err(DisconnectReason::Wire)?;
    let wire = encryptor
        .encrypt(&plain)
        .map_err(DisconnectReason::Transport)?;
    stream.write_all(&wire).await.map_err(|e| io_reason(&e))
}

/// Reads until one whole message is decrypted; bytes after it stay in the
/// decoder.
pub(crate) async fn read_message<S: AsyncRead + Unpin>(
    stream: &mut S,
    decoder: &mut MessageDecoder,
) -> Result<Vec<u8>, DisconnectReason> {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        if let Some(msg) = decoder
            .next_message()
            .map_err(DisconnectReason::Transport)?
        {
            return Ok(msg);
        }
        let n = stream.read(&mut buf).await.map_err(|e| io_reason(&e))?;
        let chunk = buf.get(..n).ok_or(DisconnectReason::RemoteClosed)?;
        if chunk.is_empty() {
            return Err(DisconnectReason::RemoteClosed);
        }
        decoder.feed(chunk);
    }
}

/// A `warning` about the whole connection (all-zero channel id).
pub(crate) fn connection_warning(text: &str) -> Message {
    Message::Warning(WarningMessage {
        channel_id: ChannelId([0; 32]),
        data: text.as_bytes().to_vec(),
        unknown_tlvs: Vec::new(),
    })
}
