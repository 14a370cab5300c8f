//! # nsflow-driver
//!
//! The host side of the nsflow engine: the VRP NetStream configuration language ([`vrp`]).

pub mod vrp;
