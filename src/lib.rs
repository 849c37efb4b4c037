//! domreg: enrich DNS and proxy log events with domain registration data.
#![forbid(unsafe_code)]

pub mod attack;
pub mod config;
pub mod domain;
pub mod enrich;
pub mod epp;
pub mod error;
pub mod format;
pub mod json;
pub mod output;
pub mod rdap;
pub mod registration;
pub mod risk;
pub mod snapshot;
pub mod text;

pub use error::Error;
pub use registration::{Registration, Source};
