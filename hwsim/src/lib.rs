//! # nsflow-hwsim: the cycle-level model of the nsflow flow-table engine
//!
//! Built from `nsflow-rtl`'s bit-exact functions. Traffic comes from capture files
//! ([`capture`]) or a seeded generator.

pub mod capture;
