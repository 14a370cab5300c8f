//! # nsflow-testkit: test support, never shipped
//!
//! What the tests and benchmarks of every nsflow crate share, kept out of the libraries:
//! where the reference material is ([`shared`]: `../shared` beside the checkout, a failure
//! under `CI=true` when it is missing), and a small single-threaded harness that programs
//! the cycle-level model through BAR0 and drains its ring ([`harness`]); VCD waveforms
//! read back and converted by GTKWave's tools ([`wave`]); the policy for third-party tools
//! ([`tools`]: skip locally, fail under `CI=true`). A dev-dependency only
//! (docs/architecture.md; `tests/architecture.rs` checks it).

pub mod harness;
pub mod shared;
pub mod tools;
pub mod wave;
