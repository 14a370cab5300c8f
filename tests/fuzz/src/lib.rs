//! Input layouts of the nsflow fuzz targets, shared by the targets (which read them) and
//! by the seed generator `seeds.rs` (which writes them), so that a seed means to
//! a target exactly what the generator meant.
//!
//! | module | layout of |
//! |---|---|
//! | [`frame`] | `parser`: link type byte, then the frame |
//! | [`messages`] | `flow_decoder`: several UDP payloads from two exporters |
//! | [`ring_input`] | `ring`: ring geometry, indices and the bytes of the DMA block |
//! | [`bus_ops`] | `device_bus`: BAR0/BAR2/any-region accesses, DMA map changes, resets |
//! | [`vfio_stream`] | `vfio_user_server`: descriptor and read policy, then a client's bytes |

pub mod bus_ops;
pub mod frame;
pub mod messages;
pub mod ring_input;
pub mod vfio_stream;
