//! Typed errors of the library. The binary wraps them with `anyhow`.

use thiserror::Error;

/// What went wrong in the library.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// An RDAP response could not be used.
    #[error("RDAP response: {0}")]
    Rdap(#[from] crate::rdap::RdapError),
    /// A line of a registrations file could not be read.
    #[error("registrations line {line}: {message}")]
    Snapshot {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// The configuration is invalid.
    #[error("config: {0}")]
    Config(String),
}
