//! **Test hook**: `FULMEN_CRASH_AT=<point>[:<n>]` makes the daemon kill
//! itself with `SIGKILL` (no destructor, no flush, nothing sent) right
//! after the `n`-th commit (default: the first) that covers the named
//! persistence point, before any message of that tick leaves.
//!
//! Crash tests use it to kill a node at each persistence point of an HTLC
//! add and settle, then restart it and check that the payment completes or
//! fails cleanly with no msat lost and no channel force-closed.
//!
//! Points (several may name the same commit):
//!
//! | point | the commit that… |
//! | --- | --- |
//! | `commit` | any non-empty commit |
//! | `send_<message>` | precedes sending that message, e.g. `send_update_add_htlc`, `send_commitment_signed`, `send_revoke_and_ack`, `send_update_fulfill_htlc`, `send_update_fail_htlc`, `send_funding_signed`, `send_closing_signed` |
//! | `payment_created` | records a new outgoing payment with its HTLC |
//! | `invoice_paid` | marks an invoice (or a keysend receipt) paid, with the fulfill |
//! | `payment_succeeded` | records the preimage of an outgoing payment |
//! | `payment_failed` | records an outgoing payment as failed |
//!
//! Never set it outside tests: the node stops at that point.

use super::Outgoing;

/// The environment variable.
pub const ENV: &str = "FULMEN_CRASH_AT";

/// The parsed hook: which point, which occurrence, how many seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashHook {
    point: String,
    occurrence: u32,
    seen: u32,
}

impl CrashHook {
    /// The hook of `spec` (`point` or `point:n`, `n` ≥ 1).
    pub fn parse(spec: &str) -> Option<Self> {
        let spec = spec.trim();
        let (point, occurrence) = match spec.rsplit_once(':') {
            Some((p, n)) => (p, n.parse().ok().filter(|n| *n >= 1)?),
            None => (spec, 1),
        };
        if point.is_empty() {
            return None;
        }
        Some(Self {
            point: point.to_owned(),
            occurrence,
            seen: 0,
        })
    }

    /// The hook from [`ENV`], if set.
    pub fn from_env() -> Option<Self> {
        let spec = std::env::var(ENV).ok()?;
        let hook = Self::parse(&spec);
        if hook.is_none() {
            tracing::warn!(value = %spec, "{ENV} ignored: expected POINT or POINT:N");
        } else {
            tracing::warn!(point = %spec, "crash hook armed: the node will abort at this persistence point");
        }
        hook
    }

    /// Counts a commit covering `points` and the messages about to be sent;
    /// `true` when the node must abort now.
    pub fn hits(&mut self, points: &[&'static str], messages: &[Outgoing]) -> bool {
        let named = points.iter().any(|p| *p == self.point)
            || self.point == "commit"
            || self.point.strip_prefix("send_").is_some_and(|m| {
                messages
                    .iter()
                    .any(|o| o.channel.is_some() && message_name(o.msg.msg_type()) == m)
            });
        if !named {
            return false;
        }
        self.seen = self.seen.saturating_add(1);
        self.seen == self.occurrence
    }
}

/// The BOLT name of a channel message type.
pub fn message_name(ty: u16) -> &'static str {
    match ty {
        32 => "open_channel",
        33 => "accept_channel",
        34 => "funding_created",
        35 => "funding_signed",
        36 => "channel_ready",
        38 => "shutdown",
        39 => "closing_signed",
        128 => "update_add_htlc",
        130 => "update_fulfill_htlc",
        131 => "update_fail_htlc",
        132 => "commitment_signed",
        133 => "revoke_and_ack",
        134 => "update_fee",
        135 => "update_fail_malformed_htlc",
        136 => "channel_reestablish",
        17 => "error",
        1 => "warning",
        _ => "other",
    }
}

/// Kills the process with `SIGKILL` (sent by `kill -9`, so that no
/// handler, destructor or buffer flush runs: exactly what a killed daemon
/// does); aborts if `kill` cannot be run. The test hook fired.
pub fn crash_now(points: &[&'static str]) -> ! {
    eprintln!("{ENV}: killing the process (SIGKILL) after the commit of {points:?}");
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status();
    // `kill` returns after the signal is sent; the kernel may take a moment.
    std::thread::sleep(std::time::Duration::from_secs(5));
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulmen_types::{ChannelId, NodeId};
    use fulmen_wire::Message;

    fn out(msg: Message) -> Outgoing {
        Outgoing {
            node_id: NodeId([2; 33]),
            channel: Some(ChannelId([1; 32])),
            msg,
        }
    }

    #[test]
    fn parses_points_and_occurrences() {
        assert_eq!(CrashHook::parse("invoice_paid").unwrap().occurrence, 1);
        assert_eq!(CrashHook::parse("commit:3").unwrap().occurrence, 3);
        assert!(CrashHook::parse("commit:0").is_none());
        assert!(CrashHook::parse(":2").is_none());
        assert!(CrashHook::parse("x:y").is_none());
    }

    #[test]
    fn fires_at_the_nth_matching_commit() {
        let mut hook = CrashHook::parse("send_revoke_and_ack:2").unwrap();
        let raa = out(Message::RevokeAndAck(fulmen_wire::RevokeAndAck {
            channel_id: ChannelId([1; 32]),
            per_commitment_secret: fulmen_wire::PerCommitmentSecret([3; 32]),
            next_per_commitment_point: bitcoin::secp256k1::PublicKey::from_secret_key(
                &bitcoin::secp256k1::Secp256k1::new(),
                &bitcoin::secp256k1::SecretKey::from_slice(&[1; 32]).unwrap(),
            ),
            unknown_tlvs: vec![],
        }));
        assert!(!hook.hits(&[], &[]));
        assert!(!hook.hits(&["invoice_paid"], std::slice::from_ref(&raa)));
        assert!(hook.hits(&[], std::slice::from_ref(&raa)));
        let mut named = CrashHook::parse("invoice_paid").unwrap();
        assert!(named.hits(&["invoice_paid"], &[]));
        let mut any = CrashHook::parse("commit:2").unwrap();
        assert!(!any.hits(&[], &[]));
        assert!(any.hits(&[], &[]));
    }
}
