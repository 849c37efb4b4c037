//! The host side of Fluent Bit's `filter_wasm` calling convention.
//!
//! What Fluent Bit 5.1 does (plugins/filter_wasm, src/wasm/flb_wasm.c, on
//! WAMR), and this host mimics:
//!
//! - the module is instantiated with WASI: no arguments, no environment,
//!   the `accessible_paths` directories preopened under their own (absolute)
//!   names; a reactor's `_initialize` runs first;
//! - per record: the tag and the record (the event as a JSON object) are
//!   copied into the module's memory with `wasm_runtime_module_dup_data`,
//!   which allocates through the module's exported `malloc` when it has one,
//!   each followed by a NUL; the filter function is called with
//!   `(tag, tag_len, time_sec, time_nsec, record, record_len)`, the lengths
//!   without the NUL; the NUL-terminated string at the returned address is
//!   copied out (an empty one drops the record); both copies are freed.
//!
//! The memory and wasm stack limits stand in for the host's sizes; stderr
//! is captured so tests can read the module's log lines.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use wasmtime::{
    Config, Engine, Instance, Linker, Memory, Module, Store, StoreLimits, StoreLimitsBuilder,
    TypedFunc,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// The environment variable naming the module, else [`default_module_path`].
pub const MODULE_ENV: &str = "DOMREG_FLUENT_BIT_WASM";

/// The filter function domreg's module exports (Fluent Bit's `function_name`).
pub const FUNCTION_NAME: &str = "domreg_filter";

/// Where `cargo build --profile wasm --target wasm32-wasip1 -p
/// domreg-fluent-bit` puts the module, from the workspace root.
pub fn default_module_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/wasm32-wasip1/wasm/domreg_fluent_bit.wasm")
}

/// The module to test: `$DOMREG_FLUENT_BIT_WASM` or the default path. An
/// error that says how to build it when it is missing.
pub fn module_path() -> Result<PathBuf> {
    let path = std::env::var_os(MODULE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(default_module_path);
    if !path.is_file() {
        bail!(
            "the Fluent Bit module {} is missing: build it with \
             `cargo build --profile wasm --target wasm32-wasip1 -p domreg-fluent-bit` \
             (or point {MODULE_ENV} at it)",
            path.display()
        );
    }
    Ok(path)
}

/// A compiled module, shareable between hosts (compiling is the slow part).
#[derive(Clone)]
pub struct Compiled {
    engine: Engine,
    module: Module,
}

impl Compiled {
    /// Compile the module at `path`; `max_wasm_stack` bounds the native
    /// stack wasm code may use (wasmtime's default when `None`).
    pub fn load(path: &Path, max_wasm_stack: Option<usize>) -> Result<Compiled> {
        let mut config = Config::new();
        if let Some(bytes) = max_wasm_stack {
            config.max_wasm_stack(bytes);
        }
        let engine = Engine::new(&config)?;
        let module = Module::from_file(&engine, path)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("compiling {}", path.display()))?;
        Ok(Compiled { engine, module })
    }

    /// The module's export names.
    pub fn exports(&self) -> Vec<String> {
        self.module
            .exports()
            .map(|e| e.name().to_string())
            .collect()
    }
}

/// How to instantiate: Fluent Bit's `accessible_paths`, `function_name`, and
/// a cap on linear memory.
#[derive(Debug, Clone)]
pub struct Options {
    /// Host directories preopened under their own names (use absolute
    /// paths, as Fluent Bit needs).
    pub accessible_paths: Vec<PathBuf>,
    /// The exported filter function.
    pub function_name: String,
    /// The most linear memory the module may grow to, in bytes.
    pub memory_limit: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            accessible_paths: Vec::new(),
            function_name: FUNCTION_NAME.to_string(),
            memory_limit: None,
        }
    }
}

struct HostState {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
}

/// One instance of the filter module, called as Fluent Bit calls it.
pub struct FluentBitHost {
    store: Store<HostState>,
    memory: Memory,
    malloc: TypedFunc<i32, i32>,
    free: TypedFunc<i32, ()>,
    filter: TypedFunc<(i32, i32, i32, i32, i32, i32), i32>,
    stats: Option<TypedFunc<(), i32>>,
    instance: Instance,
    stderr: MemoryOutputPipe,
}

impl FluentBitHost {
    /// Instantiate `compiled` with WASI and run its `_initialize`.
    pub fn new(compiled: &Compiled, options: &Options) -> Result<FluentBitHost> {
        let stderr = MemoryOutputPipe::new(1 << 20);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stderr(stderr.clone());
        for dir in &options.accessible_paths {
            let guest = dir
                .to_str()
                .ok_or_else(|| anyhow!("{} is not UTF-8", dir.display()))?;
            wasi.preopened_dir(dir, guest, FsPerms::ReadOnly)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("preopening {}", dir.display()))?;
        }
        let mut limits = StoreLimitsBuilder::new();
        if let Some(bytes) = options.memory_limit {
            limits = limits.memory_size(bytes);
        }
        let state = HostState {
            wasi: wasi.build_p1(),
            limits: limits.build(),
        };
        let mut store = Store::new(&compiled.engine, state);
        store.limiter(|s| &mut s.limits);
        let mut linker: Linker<HostState> = Linker::new(&compiled.engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s| &mut s.wasi)?;
        let instance = linker.instantiate(&mut store, &compiled.module)?;
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ())?;
        }
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| anyhow!("the module exports no memory"))?;
        let malloc = instance.get_typed_func(&mut store, "malloc")?;
        let free = instance.get_typed_func(&mut store, "free")?;
        let filter = instance.get_typed_func(&mut store, &options.function_name)?;
        let stats = instance.get_typed_func(&mut store, "domreg_stats").ok();
        Ok(FluentBitHost {
            store,
            memory,
            malloc,
            free,
            filter,
            stats,
            instance,
            stderr,
        })
    }

    /// Call the filter with one record, as Fluent Bit does; the string it
    /// returned (without the NUL). `Err` on a trap or a bad answer.
    pub fn call(
        &mut self,
        tag: &str,
        time_sec: u32,
        time_nsec: u32,
        record: &[u8],
    ) -> Result<Vec<u8>> {
        let tag_ptr = self.dup_data(tag.as_bytes())?;
        let record_ptr = self.dup_data(record)?;
        let result = self.filter.call(
            &mut self.store,
            (
                tag_ptr,
                len_i32(tag.len())?,
                time_sec as i32,
                time_nsec as i32,
                record_ptr,
                len_i32(record.len())?,
            ),
        );
        let out = result
            .map_err(anyhow::Error::from)
            .and_then(|ptr| self.read_cstr(ptr));
        self.free.call(&mut self.store, tag_ptr)?;
        self.free.call(&mut self.store, record_ptr)?;
        out
    }

    /// The module's counters (`domreg_stats`), JSON.
    pub fn stats(&mut self) -> Result<String> {
        let f = self
            .stats
            .clone()
            .ok_or_else(|| anyhow!("the module exports no domreg_stats"))?;
        let ptr = f.call(&mut self.store, ())?;
        Ok(String::from_utf8(self.read_cstr(ptr)?)?)
    }

    /// The size of the module's linear memory, in bytes.
    pub fn memory_size(&self) -> usize {
        self.memory.data_size(&self.store)
    }

    /// What the module wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }

    /// The instance, for tests that look further.
    pub fn instance(&self) -> Instance {
        self.instance
    }

    /// `wasm_runtime_module_dup_data`: `malloc(len + 1)`, copy, NUL.
    fn dup_data(&mut self, bytes: &[u8]) -> Result<i32> {
        let ptr = self
            .malloc
            .call(&mut self.store, len_i32(bytes.len() + 1)?)?;
        if ptr == 0 {
            bail!("malloc({}) failed in the module", bytes.len() + 1);
        }
        let at = ptr as u32 as usize;
        self.memory.write(&mut self.store, at, bytes)?;
        self.memory.write(&mut self.store, at + bytes.len(), &[0])?;
        Ok(ptr)
    }

    /// The NUL-terminated string at `ptr`.
    fn read_cstr(&mut self, ptr: i32) -> Result<Vec<u8>> {
        if ptr == 0 {
            bail!("the filter returned NULL");
        }
        let data = self.memory.data(&self.store);
        let start = ptr as u32 as usize;
        let tail = data
            .get(start..)
            .ok_or_else(|| anyhow!("the filter returned {start:#x}, outside memory"))?;
        let len = tail
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| anyhow!("the filter's answer has no NUL"))?;
        Ok(tail.get(..len).unwrap_or_default().to_vec())
    }
}

fn len_i32(len: usize) -> Result<i32> {
    i32::try_from(len).map_err(|_| anyhow!("length {len} does not fit the ABI"))
}
