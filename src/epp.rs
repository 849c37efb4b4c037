//! EPP status values and their RDAP names (RFC 8056). (stub; filled by the RDAP work)
