//! The node's data directory: what lives where, and the files holding
//! secrets.
//!
//! | file | what | mode |
//! | --- | --- | --- |
//! | `seed` | the node's BIP39 mnemonic (24 English words, one line). Every key of the node comes from it: **back it up, never share it**. Written once, at the first start. | 0600 |
//! | `node.sqlite` | the node's store (channel states, invoices, payments; fulmen-store), held with an exclusive lock while the node runs, so a second node on the same directory refuses to start | 0600 |
//! | `gossip.sqlite` | the network graph's signed gossip (fulmen-store's `gossip` table), owned by the gossip thread; public data, re-learnt from peers if lost | 0600 |
//! | `wallet.sqlite` | the on-chain wallet (public descriptors, chain data; no private key) | default |
//! | `chain/` | the embedded regtest chain's blocks (only without `--bitcoind-rpc`) | default |
//! | `rpc.cookie` | `__cookie__:<64 hex digits>`, the RPC password, new at every start, removed at stop | 0600 |
//! | `rpc.address` | `HOST:PORT` the RPC server listens on, written at start, removed at stop | default |
//!
//! The directory itself is created with mode 0700. Secret files are written
//! to a temporary file with mode 0600, flushed to disk, then moved into
//! place, so a crash never leaves a half-written seed. The seed is never
//! overwritten: a second writer fails instead.

use core::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use fulmen_wallet::keys::{Mnemonic, MnemonicError};
use zeroize::Zeroizing;

use crate::entropy::{random_bytes, EntropyError, EntropySource};

/// File name of the mnemonic.
pub const SEED_FILE: &str = "seed";
/// File name of the RPC cookie.
pub const COOKIE_FILE: &str = "rpc.cookie";
/// File name of the RPC address.
pub const RPC_ADDRESS_FILE: &str = "rpc.address";
/// File name of the node's store.
pub const STORE_FILE: &str = "node.sqlite";
/// File name of the gossip store.
pub const GOSSIP_FILE: &str = "gossip.sqlite";
/// File name of the on-chain wallet database.
pub const WALLET_FILE: &str = "wallet.sqlite";
/// Directory of the embedded chain.
pub const CHAIN_DIR: &str = "chain";
/// The user name of cookie authentication (as bitcoind's).
pub const COOKIE_USER: &str = "__cookie__";

/// The longest seed or cookie file read (a mnemonic of 24 words is ~215
/// bytes): a huge file is refused before it is read whole.
const MAX_SECRET_FILE: u64 = 4096;

/// A failure reading or writing the data directory. Fatal at start.
#[derive(Debug)]
#[non_exhaustive]
pub enum DataDirError {
    /// A file could not be read, written or created.
    Io {
        /// The path involved.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The seed file exists but holds no valid mnemonic. Do not start; never
    /// overwrite it (it may be the only copy of the user's funds).
    BadSeed(MnemonicError),
    /// A secret file is larger than any valid one.
    FileTooLarge(PathBuf),
    /// The cookie file is not valid UTF-8 `user:password`.
    BadCookie(PathBuf),
    /// The RPC address file does not hold `HOST:PORT`.
    BadRpcAddress(PathBuf),
    /// No entropy for a new seed or cookie.
    Entropy(EntropyError),
}

impl fmt::Display for DataDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::BadSeed(e) => write!(f, "the seed file holds no valid mnemonic: {e}"),
            Self::FileTooLarge(p) => write!(f, "{}: file too large", p.display()),
            Self::BadCookie(p) => write!(f, "{}: not a valid cookie", p.display()),
            Self::BadRpcAddress(p) => write!(f, "{}: not a HOST:PORT address", p.display()),
            Self::Entropy(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for DataDirError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::BadSeed(e) => Some(e),
            Self::Entropy(e) => Some(e),
            _ => None,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The RPC password: the contents of `rpc.cookie`. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct RpcCookie(Zeroizing<String>);

impl RpcCookie {
    /// A cookie from its text (`user:password`).
    pub fn from_text(text: &str) -> Self {
        Self(Zeroizing::new(text.to_owned()))
    }

    /// The text, `user:password`. Secret.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value of the HTTP `Authorization` header carrying it.
    pub fn authorization_header(&self) -> Zeroizing<String> {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(self.0.as_bytes());
        Zeroizing::new(format!("Basic {encoded}"))
    }
}

impl fmt::Debug for RpcCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RpcCookie(<redacted>)")
    }
}

/// A node data directory (see the module documentation for its layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory at `root` (nothing is touched).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Creates the directory (mode 0700) if it does not exist.
    pub fn create(root: impl Into<PathBuf>) -> Result<Self, DataDirError> {
        let dir = Self::new(root);
        if !dir.root.is_dir() {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder.create(&dir.root).map_err(io_err(&dir.root))?;
        }
        Ok(dir)
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `seed`.
    pub fn seed_path(&self) -> PathBuf {
        self.root.join(SEED_FILE)
    }

    /// `node.sqlite`.
    pub fn store_path(&self) -> PathBuf {
        self.root.join(STORE_FILE)
    }

    /// `gossip.sqlite`.
    pub fn gossip_path(&self) -> PathBuf {
        self.root.join(GOSSIP_FILE)
    }

    /// `wallet.sqlite`.
    pub fn wallet_path(&self) -> PathBuf {
        self.root.join(WALLET_FILE)
    }

    /// `chain/`.
    pub fn chain_dir(&self) -> PathBuf {
        self.root.join(CHAIN_DIR)
    }

    /// `rpc.cookie`.
    pub fn cookie_path(&self) -> PathBuf {
        self.root.join(COOKIE_FILE)
    }

    /// `rpc.address`.
    pub fn rpc_address_path(&self) -> PathBuf {
        self.root.join(RPC_ADDRESS_FILE)
    }

    /// Loads the mnemonic from `seed`, or, if there is none, makes one from
    /// 32 bytes of `entropy` (24 words) and writes it. Returns the mnemonic
    /// and whether it was created now.
    pub fn load_or_create_seed(
        &self,
        entropy: &dyn EntropySource,
    ) -> Result<(Mnemonic, bool), DataDirError> {
        let path = self.seed_path();
        match read_secret(&path) {
            Ok(text) => {
                warn_if_exposed(&path);
                let mnemonic = Mnemonic::parse(text.trim()).map_err(DataDirError::BadSeed)?;
                Ok((mnemonic, false))
            }
            Err(DataDirError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                let bytes = random_bytes::<32>(entropy).map_err(DataDirError::Entropy)?;
                let mnemonic =
                    Mnemonic::from_entropy(bytes.as_ref()).map_err(DataDirError::BadSeed)?;
                let mut text = mnemonic.phrase();
                text.push('\n');
                write_private(&self.root, SEED_FILE, text.as_bytes(), Replace::Never)?;
                Ok((mnemonic, true))
            }
            Err(e) => Err(e),
        }
    }

    /// Writes a fresh random cookie (`__cookie__:` and 64 hex digits) to
    /// `rpc.cookie`, replacing any old one.
    pub fn write_new_cookie(&self, entropy: &dyn EntropySource) -> Result<RpcCookie, DataDirError> {
        let bytes = random_bytes::<32>(entropy).map_err(DataDirError::Entropy)?;
        let raw: &[u8; 32] = &bytes;
        let password = Zeroizing::new(hex::encode(raw));
        let cookie = RpcCookie::from_text(&format!("{COOKIE_USER}:{}", password.as_str()));
        write_private(
            &self.root,
            COOKIE_FILE,
            cookie.as_str().as_bytes(),
            Replace::Always,
        )?;
        Ok(cookie)
    }

    /// Reads `rpc.cookie`.
    pub fn read_cookie(&self) -> Result<RpcCookie, DataDirError> {
        let path = self.cookie_path();
        let text = read_secret(&path)?;
        let text = text.trim();
        if !text.contains(':') {
            return Err(DataDirError::BadCookie(path));
        }
        Ok(RpcCookie::from_text(text))
    }

    /// Writes the RPC server's address to `rpc.address`.
    pub fn write_rpc_address(&self, addr: SocketAddr) -> Result<(), DataDirError> {
        write_private(
            &self.root,
            RPC_ADDRESS_FILE,
            format!("{addr}\n").as_bytes(),
            Replace::Always,
        )
    }

    /// Reads `rpc.address`.
    pub fn read_rpc_address(&self) -> Result<SocketAddr, DataDirError> {
        let path = self.rpc_address_path();
        let text = read_secret(&path)?;
        text.trim()
            .parse()
            .map_err(|_| DataDirError::BadRpcAddress(path))
    }

    /// Removes `rpc.cookie` and `rpc.address` (at stop). Missing files are
    /// fine.
    pub fn remove_rpc_files(&self) {
        for path in [self.cookie_path(), self.rpc_address_path()] {
            if let Err(e) = fs::remove_file(&path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove file");
                }
            }
        }
    }
}

/// Reads a small file, refusing large ones.
fn read_secret(path: &Path) -> Result<Zeroizing<String>, DataDirError> {
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    if len > MAX_SECRET_FILE {
        return Err(DataDirError::FileTooLarge(path.to_path_buf()));
    }
    let mut text = Zeroizing::new(String::new());
    io::Read::read_to_string(&mut io::Read::take(file, MAX_SECRET_FILE), &mut text)
        .map_err(io_err(path))?;
    Ok(text)
}

fn warn_if_exposed(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    "the seed file is readable by other users; run chmod 600 on it"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Whether [`write_private`] may replace an existing file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Replace {
    Always,
    Never,
}

/// Writes `name` in `dir` with mode 0600: a temporary file, flushed, then
/// moved (or, with [`Replace::Never`], hard-linked, which fails if the
/// target exists) into place, and the directory flushed.
fn write_private(
    dir: &Path,
    name: &str,
    contents: &[u8],
    replace: Replace,
) -> Result<(), DataDirError> {
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&tmp)(e)),
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        match replace {
            Replace::Always => fs::rename(&tmp, &target),
            Replace::Never => fs::hard_link(&tmp, &target).and_then(|()| fs::remove_file(&tmp)),
        }
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(&target)(e));
    }
    sync_dir(dir).map_err(io_err(dir))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::OsEntropy;

    struct Counter;
    impl EntropySource for Counter {
        fn fill_bytes(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
            for (i, b) in dest.iter_mut().enumerate() {
                *b = i as u8;
            }
            Ok(())
        }
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn seed_is_created_once_from_the_given_entropy_with_mode_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::create(tmp.path().join("node")).unwrap();
        let (created, fresh) = dir.load_or_create_seed(&Counter).unwrap();
        assert!(fresh);
        let expected: Vec<u8> = (0..32).collect();
        assert_eq!(created.to_entropy().as_slice(), expected.as_slice());
        assert_eq!(created.word_count(), 24);
        let text = fs::read_to_string(dir.seed_path()).unwrap();
        assert_eq!(text.trim(), created.phrase().as_str());
        #[cfg(unix)]
        {
            assert_eq!(mode(&dir.seed_path()), 0o600);
            assert_eq!(mode(dir.root()), 0o700);
        }
        // A second start loads it, whatever the entropy says.
        let (loaded, fresh) = dir.load_or_create_seed(&OsEntropy).unwrap();
        assert!(!fresh);
        assert_eq!(loaded, created);
        assert!(!dir.root().join(".seed.tmp").exists());
    }

    #[test]
    fn a_damaged_seed_is_refused_and_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::create(tmp.path()).unwrap();
        fs::write(dir.seed_path(), "abandon abandon\n").unwrap();
        assert!(matches!(
            dir.load_or_create_seed(&OsEntropy),
            Err(DataDirError::BadSeed(_))
        ));
        assert_eq!(
            fs::read_to_string(dir.seed_path()).unwrap(),
            "abandon abandon\n"
        );
        fs::write(dir.seed_path(), vec![b'a'; 10_000]).unwrap();
        assert!(matches!(
            dir.load_or_create_seed(&OsEntropy),
            Err(DataDirError::FileTooLarge(_))
        ));
    }

    #[test]
    fn seed_is_never_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(SEED_FILE), "x").unwrap();
        let err = write_private(tmp.path(), SEED_FILE, b"y", Replace::Never).unwrap_err();
        assert!(matches!(err, DataDirError::Io { .. }));
        assert_eq!(fs::read_to_string(tmp.path().join(SEED_FILE)).unwrap(), "x");
    }

    #[test]
    fn cookie_and_address_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::create(tmp.path()).unwrap();
        let cookie = dir.write_new_cookie(&OsEntropy).unwrap();
        assert!(cookie.as_str().starts_with("__cookie__:"));
        assert_eq!(cookie.as_str().len(), "__cookie__:".len() + 64);
        assert_eq!(dir.read_cookie().unwrap(), cookie);
        assert_eq!(format!("{cookie:?}"), "RpcCookie(<redacted>)");
        #[cfg(unix)]
        assert_eq!(mode(&dir.cookie_path()), 0o600);
        let other = dir.write_new_cookie(&OsEntropy).unwrap();
        assert_ne!(other, cookie);
        assert_eq!(dir.read_cookie().unwrap(), other);

        let addr: SocketAddr = "127.0.0.1:4567".parse().unwrap();
        dir.write_rpc_address(addr).unwrap();
        assert_eq!(dir.read_rpc_address().unwrap(), addr);
        dir.remove_rpc_files();
        assert!(!dir.cookie_path().exists() && !dir.rpc_address_path().exists());
        dir.remove_rpc_files();
    }

    #[test]
    fn authorization_header_is_basic_base64() {
        let c = RpcCookie::from_text("__cookie__:abc");
        assert_eq!(
            c.authorization_header().as_str(),
            "Basic X19jb29raWVfXzphYmM="
        );
    }
}
