//! # nsflow: the application
//!
//! NetStream (NetFlow v9 / IPFIX) flow aggregation on a SmartNIC flow-table engine, as an
//! operator runs it: the VRP configuration language ([`vrp`]), the main job ([`run`]:
//! traffic into the device, records drained, converted ([`convert`]) and exported), the
//! interactive shell ([`shell`]), the flow comparison report ([`verify`]), a small
//! collector ([`collect`]), traffic sources ([`traffic`]) and waveform tracing of a run
//! ([`trace`]). Device access is `nsflow-driver`, the encoding `nsflow-exporter`, the
//! contract `nsflow-rtl`; docs/architecture.md shows how they fit.
//!
//! Decision IDs cited in comments (A1–A16, D1–D17) are defined, with their sources, in
//! docs/decisions.md.

pub mod collect;
pub mod convert;
pub mod ipfix_file;
pub mod run;
pub mod shell;
pub mod trace;
pub mod traffic;
pub mod verify;
pub mod vrp;
