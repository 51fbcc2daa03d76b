//! The `peers` table: where to reconnect to the peers we have channels with.

use fulmen_types::NodeId;
use rusqlite::{params, Connection};

use crate::error::StoreError;
use crate::sql::{self, RowReader};

/// A peer's last known address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The peer's node id.
    pub node_id: NodeId,
    /// Its address as the node's connector understands it (`host:port`, an
    /// onion address, ...).
    pub address: String,
    /// Unix seconds of the last write.
    pub updated_at: u64,
}

/// Inserts or replaces a peer's address.
pub(crate) fn put(conn: &Connection, peer: &Peer) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO peers (node_id, address, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (node_id) DO UPDATE
             SET address = excluded.address, updated_at = excluded.updated_at",
    )?
    .execute(params![
        peer.node_id.as_bytes(),
        peer.address,
        sql::int("updated_at", peer.updated_at)?
    ])?;
    Ok(())
}

/// Removes a peer (no error if absent).
pub(crate) fn remove(conn: &Connection, node_id: &NodeId) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM peers WHERE node_id = ?1")?
        .execute([node_id.as_bytes()])?;
    Ok(())
}

/// Every peer, by node id.
pub(crate) fn list(conn: &Connection) -> Result<Vec<Peer>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT node_id, address, updated_at FROM peers ORDER BY node_id")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let r = RowReader::new(row, "peers");
        out.push(Peer {
            node_id: r.node_id("node_id")?,
            address: r.text("address")?,
            updated_at: r.u64("updated_at")?,
        });
    }
    Ok(out)
}
