//! Ping/pong bookkeeping of one connection, sans-IO: the caller passes the
//! time in and acts on what comes back.
//!
//! BOLT 1: we send a `ping` when the connection was idle (nothing received)
//! for `ping_interval`, and close it if the matching `pong` (one whose
//! length is the `num_pong_bytes` we asked for) does not arrive within
//! `pong_timeout` (MAY close; channels are not failed). We answer the
//! peer's pings with `num_pong_bytes` zero bytes, unless `num_pong_bytes`
//! is 65532 or more (MUST ignore), or the peer has already had its
//! `max_pings` answers in this interval (flood guard: a 6-byte ping may ask
//! for a 65531-byte pong).

use std::time::{Duration, Instant};

/// Pings asking for this many bytes or more must be ignored (BOLT 1).
pub const PONG_BYTES_LIMIT: u16 = 65532;

/// What the timer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerAction {
    /// Nothing to do yet.
    Wait,
    /// Send a `ping` asking for this many pong bytes.
    SendPing {
        /// `num_pong_bytes`.
        num_pong_bytes: u16,
    },
    /// The `pong` is late: close the connection.
    TimedOut,
}

/// Ping/pong state of one connection.
#[derive(Debug, Clone)]
pub struct Liveness {
    interval: Duration,
    timeout: Duration,
    max_pings: u32,
    last_received: Instant,
    /// Our unanswered ping: when it was sent and the pong length expected.
    outstanding: Option<(Instant, u16)>,
    pings_sent: u64,
    /// Start of the current flood-guard window and pings answered in it.
    window_start: Instant,
    answered: u32,
}

impl Liveness {
    /// A new connection, established at `now`.
    pub fn new(interval: Duration, timeout: Duration, max_pings: u32, now: Instant) -> Self {
        Self {
            interval,
            timeout,
            max_pings,
            last_received: now,
            outstanding: None,
            pings_sent: 0,
            window_start: now,
            answered: 0,
        }
    }

    /// When [`on_timer`](Self::on_timer) must be called next.
    pub fn deadline(&self) -> Instant {
        match self.outstanding {
            Some((sent, _)) => sent + self.timeout,
            None => self.last_received + self.interval,
        }
    }

    /// Bytes arrived from the peer at `now`.
    pub fn on_received(&mut self, now: Instant) {
        self.last_received = now;
    }

    /// The timer fired at `now`.
    pub fn on_timer(&mut self, now: Instant) -> TimerAction {
        if now < self.deadline() {
            return TimerAction::Wait;
        }
        if self.outstanding.is_some() {
            return TimerAction::TimedOut;
        }
        // Vary the length so that a late pong of an older ping is not taken
        // for the answer to this one; no data is in the padding anyway.
        let num_pong_bytes = 1 + u16::try_from(self.pings_sent % 64).unwrap_or(0);
        self.pings_sent += 1;
        self.outstanding = Some((now, num_pong_bytes));
        TimerAction::SendPing { num_pong_bytes }
    }

    /// A `pong` of `len` bytes arrived at `now`: the round-trip time if it
    /// answers our ping, `None` if unsolicited or of the wrong length (then
    /// it is ignored).
    pub fn on_pong(&mut self, len: usize, now: Instant) -> Option<Duration> {
        match self.outstanding {
            Some((sent, expected)) if usize::from(expected) == len => {
                self.outstanding = None;
                Some(now.saturating_duration_since(sent))
            }
            _ => None,
        }
    }

    /// The peer's `ping` asking for `num_pong_bytes` arrived at `now`:
    /// whether to answer it.
    pub fn on_ping(&mut self, num_pong_bytes: u16, now: Instant) -> bool {
        if num_pong_bytes >= PONG_BYTES_LIMIT {
            return false;
        }
        if now.saturating_duration_since(self.window_start) >= self.interval {
            self.window_start = now;
            self.answered = 0;
        }
        if self.answered >= self.max_pings {
            return false;
        }
        self.answered += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn live(now: Instant) -> Liveness {
        Liveness::new(30 * S, 10 * S, 3, now)
    }

    #[test]
    fn pings_after_idle_interval_and_times_out_without_pong() {
        let t0 = Instant::now();
        let mut l = live(t0);
        assert_eq!(l.deadline(), t0 + 30 * S);
        assert_eq!(l.on_timer(t0 + 29 * S), TimerAction::Wait);
        // Traffic pushes the ping back.
        l.on_received(t0 + 20 * S);
        assert_eq!(l.on_timer(t0 + 30 * S), TimerAction::Wait);
        let TimerAction::SendPing { num_pong_bytes } = l.on_timer(t0 + 50 * S) else {
            panic!("expected a ping");
        };
        assert_eq!(l.deadline(), t0 + 60 * S);
        // Receiving other traffic does not excuse a missing pong.
        l.on_received(t0 + 55 * S);
        assert_eq!(l.on_timer(t0 + 59 * S), TimerAction::Wait);
        assert_eq!(l.on_timer(t0 + 60 * S), TimerAction::TimedOut);
        assert!(num_pong_bytes > 0);
    }

    #[test]
    fn matching_pong_clears_the_ping() {
        let t0 = Instant::now();
        let mut l = live(t0);
        let TimerAction::SendPing { num_pong_bytes } = l.on_timer(t0 + 30 * S) else {
            panic!("expected a ping");
        };
        let n = usize::from(num_pong_bytes);
        assert_eq!(l.on_pong(n + 1, t0 + 31 * S), None, "wrong length ignored");
        assert_eq!(l.on_pong(n, t0 + 32 * S), Some(2 * S));
        assert_eq!(l.on_pong(n, t0 + 33 * S), None, "unsolicited ignored");
        l.on_received(t0 + 32 * S);
        assert_eq!(l.deadline(), t0 + 62 * S);
        // The next ping asks for a different length.
        let TimerAction::SendPing { num_pong_bytes: m } = l.on_timer(t0 + 62 * S) else {
            panic!("expected a ping");
        };
        assert_ne!(m, num_pong_bytes);
    }

    #[test]
    fn answers_pings_within_limits() {
        let t0 = Instant::now();
        let mut l = live(t0);
        assert!(!l.on_ping(65532, t0));
        assert!(!l.on_ping(u16::MAX, t0));
        assert!(l.on_ping(65531, t0));
        assert!(l.on_ping(0, t0));
        assert!(l.on_ping(10, t0 + S));
        assert!(!l.on_ping(10, t0 + 2 * S), "fourth in the window");
        assert!(l.on_ping(10, t0 + 31 * S), "new window");
    }
}
