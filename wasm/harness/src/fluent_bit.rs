//! The host side of Fluent Bit's `filter_wasm` calling convention.
