//! The host side of the proxy-wasm ABI (the functions domreg's filter imports).
