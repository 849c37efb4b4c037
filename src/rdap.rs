//! RDAP domain responses (RFC 9083) → [`crate::Registration`]. (stub; filled by the RDAP work)

/// Why an RDAP response could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RdapError {
    /// The body is not JSON.
    #[error("not JSON: {0}")]
    Json(String),
}
