//! # nsflow-rtl: the device contract
//!
//! The one definition of what the nsflow flow-table engine is: its register map
//! ([`regs`]), its MSI-X layout ([`msix`]) and its protocol rules ([`protocol`]), the key
//! vector and masking ([`key`]), the aggregation modes ([`mode`]), the programming path
//! between an engine configuration and its register writes ([`program`]), the packet
//! parser as line-rate hardware runs it ([`parser`]), route and interface tables
//! ([`tables`]), the flow hash ([`hash`]), the DMA record format ([`record`]) and the
//! untimed reference aggregator ([`reference`]) that the cycle-level model and the whole
//! pipeline are tested against; and, between the driver and a model in another process,
//! the traffic port ([`sim_port`]) and the vfio-user messages ([`vfio_user`]). No I/O and
//! no `unsafe`: firmware tooling can use it as it is.
//!
//! Decision IDs cited in comments (A1–A16, D1–D17) are defined, with their sources, in
//! docs/decisions.md.
#![forbid(unsafe_code)]

pub mod config;
pub mod counters;
pub mod generate;
pub mod hash;
pub mod key;
pub mod mode;
pub mod msix;
pub mod parser;
pub mod program;
pub mod protocol;
pub mod record;
pub mod reference;
pub mod regs;
pub mod sim_port;
pub mod stage;
pub mod tables;
pub mod vfio_user;

pub use key::{FieldSelect, FlowKey, KeyField, KEY_BYTES};
pub use mode::AggregationMode;
pub use record::{EndReason, Record};
