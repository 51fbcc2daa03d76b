//! BOLT 4 Sphinx onion construction, peeling and failure messages; BOLT 11 invoices. No I/O.

#![forbid(unsafe_code)]

pub mod blinded_data;
pub mod blinding;
pub mod construct;
pub mod failure;
pub mod invoice;
pub mod keys;
pub mod packet;
pub mod payload;
pub mod peel;

pub use construct::{
    build_onion, build_payment_onion, route_secrets, BuildError, BuiltOnion, FramedHop,
};
pub use failure::{FailureCode, FailureMessage};
pub use invoice::{Invoice, InvoiceDescription, InvoiceError, NewInvoice, RouteHintHop};
pub use keys::{KeyError, KeyType, SharedSecret};
pub use packet::{OnionPacket, PacketLengthError, HOP_PAYLOADS_LEN, MAX_HOPS, PACKET_LEN};
pub use payload::{HopAction, HopPayload, PayloadError, PaymentData};
pub use peel::{peel, peel_payment, NextHop, PeelError, Peeled};
