//! Live RDAP lookups (feature `native`): the per-host politeness gate, the
//! HTTP client and the lookup service. The pure pieces they use (bootstrap,
//! cache, RDAP parsing) live in the core.

pub mod gate;
pub mod http;
pub mod pipeline;
pub mod service;
