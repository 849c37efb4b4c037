//! domreg: enrich DNS and proxy log events with domain registration data.
#![forbid(unsafe_code)]

pub mod epp;
pub mod error;
pub mod rdap;
pub mod registration;
pub mod text;

pub use error::Error;
pub use registration::{Registration, Source};
