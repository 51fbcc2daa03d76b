//! Helpers of the binary's end-to-end tests: `fulmen node` daemons as child
//! processes, client commands parsed as JSON, waiting on conditions with a
//! deadline.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_fulmen");
pub const WAIT: Duration = Duration::from_secs(60);
pub const COIN: u64 = 100_000_000;

/// Runs `fulmen ARGS` and returns its output.
pub fn fulmen(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("runs")
}

/// Runs a client command against `datadir` and parses its stdout.
pub fn client(datadir: &Path, args: &[&str]) -> (bool, Value) {
    let mut all = vec!["--datadir", datadir.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = fulmen(&all);
    let text = String::from_utf8(out.stdout).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {text:?}, stderr {:?}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), json)
}

/// A client command that must succeed.
pub fn ok(datadir: &Path, args: &[&str]) -> Value {
    let (ok, json) = client(datadir, args);
    assert!(ok, "fulmen {args:?} failed: {json}");
    json
}

/// Polls `f` until it returns `Some`, failing after [`WAIT`].
pub fn wait_until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `fulmen node` child process.
pub struct Daemon {
    pub child: Option<Child>,
    pub ready: Value,
    pub datadir: PathBuf,
}

impl Daemon {
    /// Starts `fulmen node --datadir DIR` on free loopback ports with
    /// `extra` arguments and `env` variables; waits for its ready line.
    pub fn start_with(datadir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_on(datadir, "127.0.0.1:0", extra, env)
    }

    /// [`Self::start_with`] listening for peers on `listen`.
    pub fn start_on(datadir: &Path, listen: &str, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "node",
            "--datadir",
            datadir.to_str().unwrap(),
            "--listen",
            listen,
            "--rpc-listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawns");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(WAIT).expect("the daemon reports it runs");
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON ready line ({e}): {line:?}"));
        Self {
            child: Some(child),
            ready,
            datadir: datadir.to_path_buf(),
        }
    }

    pub fn start(datadir: &Path) -> Self {
        Self::start_with(datadir, &[], &[])
    }

    pub fn node_id(&self) -> String {
        self.ready["node_id"].as_str().unwrap().to_owned()
    }

    /// `PUBKEY@HOST:PORT`.
    pub fn target(&self) -> String {
        format!(
            "{}@{}",
            self.node_id(),
            self.ready["listen"].as_str().unwrap()
        )
    }

    /// Waits for the process to exit; its success.
    pub fn wait_exit(mut self) -> bool {
        let mut child = self.child.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait().map(|s| s.success()).unwrap_or(false));
        });
        rx.recv_timeout(WAIT).expect("the daemon exits in time")
    }

    /// Whether the process has exited (then it is reaped).
    pub fn exited(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => child.try_wait().ok().flatten().is_some(),
            None => true,
        }
    }

    /// Waits for the process to die by a signal (the crash hook aborts).
    pub fn wait_crash(mut self) {
        use std::os::unix::process::ExitStatusExt;
        let mut child = self.child.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait().ok().and_then(|s| s.signal()));
        });
        let signal = rx.recv_timeout(WAIT).expect("the daemon dies in time");
        assert_eq!(signal, Some(9), "the daemon must die by SIGKILL");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A regtest address nobody here owns: blocks mined to it change no
/// wallet balance.
pub fn burn_address() -> String {
    use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
    let secp = Secp256k1::new();
    let pk = PublicKey::from_secret_key(&secp, &SecretKey::from_slice(&[0x5a; 32]).unwrap());
    bitcoin::Address::p2wpkh(&bitcoin::CompressedPublicKey(pk), bitcoin::Network::Regtest)
        .to_string()
}

/// The channel `id` in `listchannels` of `datadir`.
pub fn channel(datadir: &Path, id: &str) -> Option<Value> {
    let (ok, list) = client(datadir, &["listchannels"]);
    if !ok {
        return None;
    }
    list["channels"]
        .as_array()?
        .iter()
        .find(|c| c["channel_id"] == id)
        .cloned()
}

/// Waits until the channel is `normal`, reestablished and without HTLCs
/// in flight on `datadir`'s node.
pub fn wait_normal(datadir: &Path, id: &str) -> Value {
    wait_until("the channel to be normal and idle", || {
        channel(datadir, id)
            .filter(|c| c["state"] == "normal" && c["connected"] == true && c["htlcs"] == 0)
    })
}
