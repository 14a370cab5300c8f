//! # nsflow-driver
//!
//! The host side of the nsflow engine: backends that reach a device ([`backend`]), DMA
//! memory and BAR access ([`dma`], [`mmio`], the only `unsafe` code of nsflow), and the
//! VRP NetStream configuration language ([`vrp`]).

pub mod backend;
pub mod collect;
pub mod convert;
pub mod device;
pub mod dma;
pub mod drain;
pub mod irq;
pub mod mmio;
pub mod regcheck;
pub mod ring;
pub mod run;
pub mod shell;
pub mod traffic;
pub mod verify;
pub mod vrp;
