//! # nsflow-driver: device access for the nsflow engine
//!
//! Backends that reach a device ([`backend`]: kernel VFIO, a vfio-user server, and with
//! the default `sim` feature the cycle-level model in this process), DMA memory and BAR
//! access ([`dma`], [`mmio`], [`irq`]: the only `unsafe` code of nsflow), the record ring
//! ([`ring`]) and its drain ([`drain`]), bring-up and programming ([`device`]) and the
//! register-map validation suite ([`regcheck`]). The application (VRP, `nsflow run`, the
//! exporter glue) is the root package `nsflow`; docs/architecture.md draws the line.
//!
//! Decision IDs cited in comments (A1–A16, D1–D17) are defined, with their sources, in
//! docs/decisions.md.

pub mod backend;
pub mod device;
pub mod dma;
pub mod drain;
pub mod irq;
pub mod mmio;
pub mod regcheck;
pub mod ring;
