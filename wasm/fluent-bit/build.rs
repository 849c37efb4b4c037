//! Link the wasm32-wasip1 cdylib as a WASI reactor that exports the C
//! allocator.
//!
//! - `_initialize`: a WASI reactor's entry point, which WAMR calls at
//!   instantiation (without it Fluent Bit warns that "a module with WASI apis
//!   should be either a command or a reactor"). It comes from wasi-libc's
//!   `crt1-reactor.o`, shipped in Rust's wasm32-wasip1 sysroot; stable rustc
//!   does not link it for a cdylib (`-Z wasi-exec-model=reactor` is
//!   nightly-only), so it is linked in by path.
//! - `malloc` / `free`: Fluent Bit's WAMR host copies the tag and the record
//!   into the module with `wasm_runtime_module_malloc`, which calls these
//!   exports when present (and then inserts no app heap of its own, so
//!   `wasm_heap_size` does not bound the record size).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.starts_with("wasm32-wasi") {
        return;
    }
    println!("cargo:rustc-link-arg-cdylib=--export=malloc");
    println!("cargo:rustc-link-arg-cdylib=--export=free");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let reactor = sysroot.map(|s| {
        s.join("lib/rustlib")
            .join(&target)
            .join("lib/self-contained/crt1-reactor.o")
    });
    match reactor {
        Some(path) if path.is_file() => {
            println!("cargo:rustc-link-arg-cdylib={}", path.display());
        }
        other => {
            println!(
                "cargo:warning=crt1-reactor.o not found ({other:?}): the module will lack _initialize"
            );
        }
    }
}
