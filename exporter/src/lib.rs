//! # nsflow-exporter: NetFlow v9 and IPFIX export of aggregated IPv6 flows
//!
//! The driver hands [`FlowRecord`]s (one per aggregate the device exported) and
//! cumulative [`LossCounters`] to an [`Exporter`], which encodes them with one fixed
//! template per aggregation mode ([`template`]), numbers the messages ([`sequence`]),
//! refreshes templates and options ([`stream`], [`options`]), packs records into messages
//! up to the path MTU ([`encode`]) and sends every message to each collector of the view
//! over UDP ([`transport`]). [`decode`] reads v9 and IPFIX back, for tests and for
//! `nsflow collect`. docs/decisions.md (A2, A5–A9, A15, A16) is the specification;
//! `docs/export.md` documents the templates and the sequence rules. Which view's hosts
//! and sources a mode uses (A1, A2) is decided by the configuration language, which
//! hands over the result as an [`ExportConfig`].
//!
//! No `unsafe`: batched sends go through `nix`'s safe `sendmmsg`.
#![forbid(unsafe_code)]

pub mod clock;
pub mod config;
pub mod decode;
pub mod encode;
pub mod exporter;
pub mod ie;
pub mod options;
pub mod record;
pub mod sequence;
pub mod stream;
pub mod template;
pub mod transport;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    CaptureClock, Collector, ConfigError, ExportConfig, ExportSource, FieldWidth, Format,
    SourceAddr, Version,
};
pub use decode::{CollectedFlow, DecodeError, Decoded, Decoder};
pub use encode::Message;
pub use exporter::{ExportError, Exporter};
pub use record::{FlowRecord, LossCounters};
pub use stream::ExportStream;
pub use transport::{DestinationStats, TransportError};
