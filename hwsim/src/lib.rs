//! # nsflow-hwsim: the cycle-level model of the nsflow flow-table engine
//!
//! A clocked model of the SmartNIC/FPGA function nsflow drives, assembled from the
//! device contract's bit-exact functions (`nsflow_rtl`): BAR0 exactly as the register map
//! says (module `regfile`), the parser and keying, the stage-1 original-flow table and the
//! stage-2 aggregation profiles (`table`), the aging scanner (`scanner`), the flush
//! sequencer (`flush`), the record FIFO, DMA into host memory through a map table
//! ([`memory`]), the ring with phase bits and producer write-back ([`ring`]), moderated
//! interrupts ([`irq`]) and 64-bit statistics (`stats`). [`device::Device`] ties them
//! together; docs/hwsim.md describes the pipeline, its timing and how to drive it.
//!
//! Traffic comes from capture files ([`capture`]) or the seeded generator
//! ([`generator`]). Tests drive it through `nsflow-testkit`'s harness; applications through
//! `nsflow-driver`'s in-process backend or the vfio-user server (`nsflow-hwsim serve`).
//!
//! Decision IDs cited in comments (A1–A16, D1–D17) are defined, with their sources, in
//! docs/decisions.md.

pub mod capture;
mod clock;
pub mod device;
pub mod fault;
mod flush;
pub mod generator;
pub mod irq;
pub mod memory;
pub mod params;
mod pipeline;
mod regfile;
pub mod ring;
mod scanner;
pub mod serve;
mod stats;
mod table;
pub mod trace;
mod windows;

pub use device::{Device, Refused, Throughput};
pub use fault::Fault;
pub use memory::{DmaFault, HostMemory, MapError};
pub use params::{BuildError, BuildParams, Timing};
