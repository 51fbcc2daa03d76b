//! The commands of the RPC and the node API, dispatched to the modules that
//! serve them; the list and lookup commands answered here.

use fulmen_channel::Channel;

use super::manager::ChannelManager;
use super::{Broadcaster, CmCommand, Outbox, Persister, Tick};

impl<P: Persister, O: Outbox, B: Broadcaster> ChannelManager<P, O, B> {
    pub(super) fn on_command(&mut self, tick: &mut Tick, cmd: CmCommand) {
        match cmd {
            CmCommand::NumChannels(reply) => {
                let n = self
                    .channels
                    .values()
                    .filter(|s| !matches!(s.chan, Channel::Closed(_)))
                    .count();
                let _ = reply.send(n);
            }
            CmCommand::Feerate(reply) => {
                let _ = reply.send(self.feerate);
            }
            CmCommand::OpenChannel {
                peer,
                funding,
                push,
                announce,
                reply,
            } => self.open_channel(tick, peer, funding, push, announce, reply),
            CmCommand::ListChannels(reply) => {
                let mut list: Vec<_> = self
                    .channels
                    .iter()
                    .map(|(id, s)| {
                        let up = match s.chan.established() {
                            Some(_) => self.link_up(id),
                            None => self.peers.contains_key(&s.peer),
                        };
                        let mut info = s.info(*id, up);
                        info.onchain = self.onchain_info(id);
                        info
                    })
                    .collect();
                list.sort_by_key(|c| (c.peer_id, c.channel_id));
                let _ = reply.send(list);
            }
            CmCommand::CloseChannel {
                channel_id,
                force,
                reply,
            } => self.close_channel(tick, channel_id, force, reply),
            CmCommand::AddInvoice { invoice, reply } => self.add_invoice(tick, *invoice, reply),
            CmCommand::Pay {
                request,
                route,
                reply,
            } => self.pay(tick, *request, route.map(|r| *r), reply),
            CmCommand::ListInvoices(reply) => {
                let _ = reply.send(self.read(|s| s.list_invoices(None)));
            }
            CmCommand::ListForwards(reply) => {
                let _ = reply.send(self.read(|s| s.list_forwards(None)));
            }
            CmCommand::ListPayments(reply) => {
                let _ = reply.send(self.read(|s| s.list_payments(None)));
            }
            CmCommand::RememberPeer { node_id, address } => {
                if self.addresses.get(&node_id) != Some(&address) {
                    tick.batch.store.put_peer(fulmen_store::Peer {
                        node_id,
                        address: address.clone(),
                        updated_at: self.now,
                    });
                    self.addresses.insert(node_id, address);
                }
            }
            CmCommand::ReconnectTargets(reply) => {
                let mut targets: Vec<crate::peer::ConnectTarget> = self
                    .channels
                    .values()
                    .filter(|s| !matches!(s.chan, Channel::Closed(_)))
                    .filter(|s| !self.peers.contains_key(&s.peer))
                    .filter_map(|s| {
                        Some(crate::peer::ConnectTarget {
                            node_id: s.peer,
                            address: self.addresses.get(&s.peer)?.clone(),
                        })
                    })
                    .collect();
                targets.sort_by_key(|t| t.node_id);
                targets.dedup_by_key(|t| t.node_id);
                let _ = reply.send(targets);
            }
        }
    }

    /// A read from the store (an empty list without one).
    pub(super) fn read<T: Default>(
        &self,
        f: impl FnOnce(&fulmen_store::Store) -> Result<T, fulmen_store::StoreError>,
    ) -> Result<T, super::CmError> {
        match self.persister.store() {
            Some(store) => f(store).map_err(|e| super::CmError::Store(e.to_string())),
            None => Ok(T::default()),
        }
    }
}
