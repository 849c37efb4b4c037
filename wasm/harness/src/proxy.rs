//! The host side of the proxy-wasm ABI 0.2.1, as Envoy plays it, for the
//! functions domreg's filter (`wasm/proxy`) imports.
//!
//! [`ProxyHost`] loads the compiled `.wasm` once; [`ProxyHost::vm`] starts a
//! VM (one Envoy worker thread: its own instance, root context and plugin
//! configuration). All VMs of a host share one [`SharedData`] store (with
//! CAS, as Envoy's `proxy_get_shared_data`/`proxy_set_shared_data`) and one
//! clock. A test drives a VM as Envoy would: [`Vm::request`] creates an HTTP
//! context and calls `proxy_on_request_headers`; [`Vm::calls`] lists the
//! `dispatch_http_call`s the filter made and [`Vm::respond`] answers one
//! (`proxy_on_http_call_response` with the response headers and body
//! readable through `proxy_get_header_map_*` and `proxy_get_buffer_bytes`);
//! [`Vm::tick`] calls `proxy_on_tick`. What the filter did to a request is in
//! its [`Stream`]: the request headers, the properties it set, the local
//! response it sent, and how often it resumed the request.
//!
//! Every `env` import of the module is defined: the ones the filter uses as
//! Envoy behaves, the rest (gRPC, queues, foreign functions) answer
//! `Unimplemented`. WASI preview 1 comes from `wasmtime-wasi`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use wasmtime::error::Context as _;
use wasmtime::{Caller, Config, Engine, Instance, Linker, Memory, Module, OptLevel, Store};
use wasmtime::{Result, bail, format_err as anyhow};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

/// proxy-wasm status codes.
mod status {
    pub const OK: i32 = 0;
    pub const NOT_FOUND: i32 = 1;
    pub const BAD_ARGUMENT: i32 = 2;
    pub const CAS_MISMATCH: i32 = 8;
    pub const UNIMPLEMENTED: i32 = 12;
}

/// `MapType` values.
const MAP_REQUEST_HEADERS: i32 = 0;
const MAP_HTTP_CALL_RESPONSE_HEADERS: i32 = 6;
/// `BufferType` values.
const BUFFER_HTTP_CALL_RESPONSE_BODY: i32 = 4;
const BUFFER_VM_CONFIGURATION: i32 = 6;
const BUFFER_PLUGIN_CONFIGURATION: i32 = 7;

/// Where the filter is built: `DOMREG_PROXY_WASM`, else
/// `target/wasm32-wasip1/wasm/domreg_proxy_wasm.wasm` in the workspace.
pub fn wasm_path() -> PathBuf {
    if let Some(path) = std::env::var_os("DOMREG_PROXY_WASM") {
        return PathBuf::from(path);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/wasm32-wasip1/wasm/domreg_proxy_wasm.wasm")
}

/// A value in [`SharedData`] and its CAS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedValue {
    /// The bytes.
    pub value: Vec<u8>,
    /// Changes on every write (never 0).
    pub cas: u32,
}

#[derive(Debug, Default)]
struct SharedInner {
    map: HashMap<String, SharedValue>,
    next_cas: u32,
    /// Writes another worker makes right after the next read of the key.
    interpose: HashMap<String, Vec<u8>>,
    reads: u64,
    writes: u64,
    mismatches: u64,
}

/// The host's shared data: one store for all VMs, as Envoy's is for all
/// workers. `set` with a CAS fails with `CasMismatch` when the value was
/// written since that CAS was read; CAS 0 writes unconditionally.
#[derive(Debug, Clone, Default)]
pub struct SharedData(Arc<Mutex<SharedInner>>);

impl SharedData {
    fn lock(&self) -> std::sync::MutexGuard<'_, SharedInner> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<SharedValue> {
        self.lock().map.get(key).cloned()
    }

    /// Write `value` under `key` unconditionally (another worker's write).
    pub fn put(&self, key: &str, value: &[u8]) {
        let mut inner = self.lock();
        inner.next_cas += 1;
        let cas = inner.next_cas;
        inner.map.insert(
            key.to_owned(),
            SharedValue {
                value: value.to_vec(),
                cas,
            },
        );
    }

    /// Make another worker write `value` under `key` just after the next
    /// read of `key` by any VM, so the reader's CAS write fails.
    pub fn interpose(&self, key: &str, value: &[u8]) {
        self.lock().interpose.insert(key.to_owned(), value.to_vec());
    }

    /// Reads, writes and CAS mismatches so far.
    pub fn counters(&self) -> (u64, u64, u64) {
        let inner = self.lock();
        (inner.reads, inner.writes, inner.mismatches)
    }

    fn read(&self, key: &str) -> Option<SharedValue> {
        let mut inner = self.lock();
        inner.reads += 1;
        let found = inner.map.get(key).cloned();
        if let Some(value) = inner.interpose.remove(key) {
            inner.next_cas += 1;
            let cas = inner.next_cas;
            inner.map.insert(key.to_owned(), SharedValue { value, cas });
        }
        found
    }

    fn write(&self, key: &str, value: &[u8], cas: u32) -> i32 {
        let mut inner = self.lock();
        let current = inner.map.get(key).map(|v| v.cas);
        if cas != 0 && current.is_some_and(|c| c != cas) {
            inner.mismatches += 1;
            return status::CAS_MISMATCH;
        }
        inner.writes += 1;
        inner.next_cas += 1;
        let cas = inner.next_cas;
        inner.map.insert(
            key.to_owned(),
            SharedValue {
                value: value.to_vec(),
                cas,
            },
        );
        status::OK
    }
}

/// A local response the filter sent (`proxy_send_local_response`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    /// The HTTP status.
    pub status: u32,
    /// The details string.
    pub details: String,
    /// The response headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// One request (HTTP context) as the filter left it.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    /// The request headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Properties the filter set, by path (segments joined with `.`).
    pub properties: BTreeMap<String, Vec<u8>>,
    /// The local response, when the filter sent one.
    pub local_response: Option<LocalResponse>,
    /// `proxy_continue_stream` calls for the request.
    pub resumed: u32,
    /// `proxy_on_request_headers` returned `Continue` (0) or `Pause` (1).
    pub action: Option<i32>,
    /// The context was deleted.
    pub deleted: bool,
}

impl Stream {
    /// The first value of request header `name` as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    /// Every request header whose name starts with `prefix`.
    pub fn headers_with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(k, _)| k.to_ascii_lowercase().starts_with(prefix))
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }

    /// A property as text.
    pub fn property(&self, path: &str) -> Option<String> {
        self.properties
            .get(path)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// True when the request went on: `Continue`, or resumed after a pause,
    /// and no local response.
    pub fn continued(&self) -> bool {
        self.local_response.is_none() && (self.action == Some(0) || self.resumed > 0)
    }
}

/// A `dispatch_http_call` the filter made and the host has not answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCall {
    /// The token the filter got.
    pub token: u32,
    /// The context that dispatched it (where the answer goes).
    pub context: u32,
    /// The cluster (upstream) name.
    pub cluster: String,
    /// The request headers (`:method`, `:path`, `:authority`, ...).
    pub headers: Vec<(String, String)>,
    /// The timeout, in milliseconds.
    pub timeout_ms: u32,
}

impl HttpCall {
    /// A header of the call.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The answer to a call, as the filter reads it.
#[derive(Debug, Clone, Default)]
struct CallReply {
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// Per-VM host state.
pub struct HostState {
    wasi: WasiP1Ctx,
    clock: Arc<AtomicU64>,
    shared: SharedData,
    root_id: u32,
    effective: u32,
    plugin_config: Vec<u8>,
    streams: HashMap<u32, Stream>,
    root_properties: BTreeMap<String, Vec<u8>>,
    calls: Vec<HttpCall>,
    calls_made: u64,
    next_token: u32,
    reply: Option<CallReply>,
    tick_ms: u32,
    logs: Vec<(i32, String)>,
}

/// The loaded filter, ready to start VMs.
pub struct ProxyHost {
    engine: Engine,
    module: Module,
    linker: Linker<HostState>,
    shared: SharedData,
    clock: Arc<AtomicU64>,
}

impl ProxyHost {
    /// Compile the filter at [`wasm_path`] quickly, without Cranelift's
    /// optimisations (for behaviour tests).
    pub fn load_default() -> Result<ProxyHost> {
        ProxyHost::load(&existing_wasm()?, OptLevel::None)
    }

    /// Compile the filter at [`wasm_path`] with Cranelift's optimisations,
    /// as a production host would (for measurements).
    pub fn load_default_optimized() -> Result<ProxyHost> {
        ProxyHost::load(&existing_wasm()?, OptLevel::Speed)
    }

    /// Compile the filter at `path` with Cranelift at `opt`.
    pub fn load(path: &Path, opt: OptLevel) -> Result<ProxyHost> {
        let mut config = Config::new();
        config.cranelift_opt_level(opt);
        let engine = Engine::new(&config)?;
        let module = Module::from_file(&engine, path)
            .with_context(|| format!("compiling {}", path.display()))?;
        let mut linker = Linker::new(&engine);
        linker.allow_shadowing(true);
        // Every `env` import answers Unimplemented unless defined below.
        for import in module.imports() {
            if let (true, Some(ty)) = (import.module() == "env", import.ty().func()) {
                linker.func_new(
                    "env",
                    import.name(),
                    ty.clone(),
                    |_caller, _params, results| {
                        for r in results.iter_mut() {
                            *r = wasmtime::Val::I32(status::UNIMPLEMENTED);
                        }
                        Ok(())
                    },
                )?;
            }
        }
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut HostState| &mut s.wasi)?;
        add_proxy_functions(&mut linker)?;
        Ok(ProxyHost {
            engine,
            module,
            linker,
            shared: SharedData::default(),
            clock: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The same compiled filter with its own shared data and clock (a
    /// separate host), without compiling again.
    pub fn fork(&self) -> ProxyHost {
        ProxyHost {
            engine: self.engine.clone(),
            module: self.module.clone(),
            linker: self.linker.clone(),
            shared: SharedData::default(),
            clock: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The module's imports, as `module.name`.
    pub fn imports(&self) -> Vec<String> {
        self.module
            .imports()
            .map(|i| format!("{}.{}", i.module(), i.name()))
            .collect()
    }

    /// The shared data all VMs see.
    pub fn shared(&self) -> &SharedData {
        &self.shared
    }

    /// Set the clock (`proxy_get_current_time_nanoseconds`) of all VMs, in
    /// seconds since the Unix epoch.
    pub fn set_time(&self, unix_secs: i64) {
        let ns = u64::try_from(unix_secs)
            .unwrap_or(0)
            .saturating_mul(1_000_000_000);
        self.clock.store(ns, Ordering::SeqCst);
    }

    /// Move the clock on.
    pub fn advance_ms(&self, ms: u64) {
        self.clock
            .fetch_add(ms.saturating_mul(1_000_000), Ordering::SeqCst);
    }

    /// Start a VM: instantiate, `_initialize`, create the root context and
    /// call `proxy_on_vm_start` and `proxy_on_configure` with
    /// `plugin_config`. [`Vm::configured`] says what `on_configure` returned.
    pub fn vm(&self, plugin_config: &str) -> Result<Vm> {
        let mut state = dummy_state();
        state.clock = self.clock.clone();
        state.shared = self.shared.clone();
        state.plugin_config = plugin_config.as_bytes().to_vec();
        state.root_id = 1;
        state.effective = 1;
        let mut store = Store::new(&self.engine, state);
        let instance = self.linker.instantiate(&mut store, &self.module)?;
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ())?;
        }
        let mut vm = Vm {
            store,
            instance,
            next_id: 2,
            configured: false,
        };
        vm.call2("proxy_on_context_create", 1, 0)?;
        vm.call_ret2("proxy_on_vm_start", 1, 0)?;
        let size = i32::try_from(plugin_config.len())?;
        vm.configured = vm.call_ret2("proxy_on_configure", 1, size)? != 0;
        Ok(vm)
    }
}

/// [`wasm_path`], or an error saying how to build it.
fn existing_wasm() -> Result<PathBuf> {
    let path = wasm_path();
    if !path.exists() {
        bail!(
            "the proxy-wasm filter is not built: {} is missing. Build it with \
             `rustup target add wasm32-wasip1 && cargo build -p domreg-proxy-wasm \
             --target wasm32-wasip1 --profile wasm`, or point DOMREG_PROXY_WASM at it.",
            path.display()
        );
    }
    Ok(path)
}

fn dummy_state() -> HostState {
    HostState {
        wasi: WasiCtxBuilder::new().inherit_stderr().build_p1(),
        clock: Arc::new(AtomicU64::new(0)),
        shared: SharedData::default(),
        root_id: 1,
        effective: 1,
        plugin_config: Vec::new(),
        streams: HashMap::new(),
        root_properties: BTreeMap::new(),
        calls: Vec::new(),
        calls_made: 0,
        next_token: 1,
        reply: None,
        tick_ms: 0,
        logs: Vec::new(),
    }
}

/// One VM (an Envoy worker's instance of the filter).
pub struct Vm {
    store: Store<HostState>,
    instance: Instance,
    next_id: u32,
    configured: bool,
}

impl Vm {
    /// What `proxy_on_configure` returned.
    pub fn configured(&self) -> bool {
        self.configured
    }

    fn call2(&mut self, name: &str, a: i32, b: i32) -> Result<()> {
        let f = self
            .instance
            .get_typed_func::<(i32, i32), ()>(&mut self.store, name)?;
        f.call(&mut self.store, (a, b))
    }

    fn call_ret2(&mut self, name: &str, a: i32, b: i32) -> Result<i32> {
        let f = self
            .instance
            .get_typed_func::<(i32, i32), i32>(&mut self.store, name)?;
        f.call(&mut self.store, (a, b))
    }

    fn call1(&mut self, name: &str, a: i32) -> Result<()> {
        let f = self
            .instance
            .get_typed_func::<i32, ()>(&mut self.store, name)?;
        f.call(&mut self.store, a)
    }

    /// A new request with `headers`: `proxy_on_context_create` and
    /// `proxy_on_request_headers` (end of stream). Returns the context id.
    pub fn request(&mut self, headers: &[(&str, &str)]) -> Result<u32> {
        let owned: Vec<(String, Vec<u8>)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect();
        self.request_bytes(owned)
    }

    /// [`Vm::request`] with raw header values.
    pub fn request_bytes(&mut self, headers: Vec<(String, Vec<u8>)>) -> Result<u32> {
        let id = self.next_id;
        self.next_id += 1;
        let n = i32::try_from(headers.len())?;
        let root = self.store.data().root_id;
        self.store.data_mut().streams.insert(
            id,
            Stream {
                headers,
                ..Stream::default()
            },
        );
        self.store.data_mut().effective = id;
        self.call2("proxy_on_context_create", to_i32(id), to_i32(root))?;
        self.store.data_mut().effective = id;
        let f = self
            .instance
            .get_typed_func::<(i32, i32, i32), i32>(&mut self.store, "proxy_on_request_headers")?;
        let action = f.call(&mut self.store, (to_i32(id), n, 1))?;
        if let Some(s) = self.store.data_mut().streams.get_mut(&id) {
            s.action = Some(action);
        }
        Ok(id)
    }

    /// Request body data for request `id` (`proxy_on_request_body`); the
    /// action the filter returned (0 `Continue`, 1 `Pause`).
    pub fn request_body(&mut self, id: u32, size: u32, end_of_stream: bool) -> Result<i32> {
        self.store.data_mut().effective = id;
        let f = self
            .instance
            .get_typed_func::<(i32, i32, i32), i32>(&mut self.store, "proxy_on_request_body")?;
        f.call(
            &mut self.store,
            (to_i32(id), to_i32(size), i32::from(end_of_stream)),
        )
    }

    /// End a request as Envoy does: `proxy_on_done`, `proxy_on_log`,
    /// `proxy_on_delete`.
    pub fn finish(&mut self, id: u32) -> Result<()> {
        self.store.data_mut().effective = id;
        self.call_ret1("proxy_on_done", to_i32(id))?;
        self.call1("proxy_on_log", to_i32(id))?;
        self.call1("proxy_on_delete", to_i32(id))?;
        if let Some(s) = self.store.data_mut().streams.get_mut(&id) {
            s.deleted = true;
        }
        Ok(())
    }

    /// [`Vm::finish`] and forget the request's record.
    pub fn finish_and_drop(&mut self, id: u32) -> Result<()> {
        self.finish(id)?;
        self.store.data_mut().streams.remove(&id);
        Ok(())
    }

    fn call_ret1(&mut self, name: &str, a: i32) -> Result<i32> {
        let f = self
            .instance
            .get_typed_func::<i32, i32>(&mut self.store, name)?;
        f.call(&mut self.store, a)
    }

    /// The request `id` as the filter left it.
    pub fn stream(&self, id: u32) -> Option<&Stream> {
        self.store.data().streams.get(&id)
    }

    /// The calls not answered yet.
    pub fn calls(&self) -> &[HttpCall] {
        &self.store.data().calls
    }

    /// Calls dispatched since the VM started.
    pub fn calls_made(&self) -> u64 {
        self.store.data().calls_made
    }

    /// Log lines (level, message) the filter wrote.
    pub fn logs(&self) -> &[(i32, String)] {
        &self.store.data().logs
    }

    /// The tick period the filter asked for, in milliseconds.
    pub fn tick_period_ms(&self) -> u32 {
        self.store.data().tick_ms
    }

    /// Answer call `token` with `status` (`None`: the call failed with no
    /// response, as Envoy reports a timeout or reset), extra `headers` and
    /// `body`.
    pub fn respond(
        &mut self,
        token: u32,
        status: Option<u16>,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<()> {
        let data = self.store.data_mut();
        let pos = data
            .calls
            .iter()
            .position(|c| c.token == token)
            .ok_or_else(|| anyhow!("no pending call with token {token}"))?;
        let call = data.calls.remove(pos);
        let mut reply = CallReply::default();
        if let Some(status) = status {
            reply
                .headers
                .push((":status".to_owned(), status.to_string().into_bytes()));
            for (k, v) in headers {
                reply.headers.push(((*k).to_owned(), v.as_bytes().to_vec()));
            }
            reply.body = body.to_vec();
        }
        let n = i32::try_from(reply.headers.len())?;
        let len = i32::try_from(reply.body.len())?;
        data.reply = Some(reply);
        data.effective = call.context;
        let f = self
            .instance
            .get_typed_func::<(i32, i32, i32, i32, i32), ()>(
                &mut self.store,
                "proxy_on_http_call_response",
            )?;
        let result = f.call(
            &mut self.store,
            (to_i32(call.context), to_i32(token), n, len, 0),
        );
        self.store.data_mut().reply = None;
        result
    }

    /// `proxy_on_tick` on the root context.
    pub fn tick(&mut self) -> Result<()> {
        let root = self.store.data().root_id;
        self.store.data_mut().effective = root;
        self.call1("proxy_on_tick", to_i32(root))
    }
}

fn to_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn to_u32(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

fn memory(caller: &mut Caller<'_, HostState>) -> Result<Memory> {
    caller
        .get_export("memory")
        .and_then(|e| e.into_memory())
        .ok_or_else(|| anyhow!("the module exports no memory"))
}

fn read(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> Result<Vec<u8>> {
    let mem = memory(caller)?;
    let start = usize::try_from(ptr)?;
    let end = start + usize::try_from(len)?;
    mem.data(&caller)
        .get(start..end)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| anyhow!("guest pointer out of bounds"))
}

fn read_str(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> Result<String> {
    Ok(String::from_utf8_lossy(&read(caller, ptr, len)?).into_owned())
}

fn write_bytes(caller: &mut Caller<'_, HostState>, at: i32, bytes: &[u8]) -> Result<()> {
    let mem = memory(caller)?;
    mem.write(caller, usize::try_from(at)?, bytes)?;
    Ok(())
}

/// Copy `data` into guest memory (allocated with `proxy_on_memory_allocate`)
/// and store its address and size at `ptr_out` and `size_out`.
fn give(
    caller: &mut Caller<'_, HostState>,
    data: &[u8],
    ptr_out: i32,
    size_out: i32,
) -> Result<()> {
    let alloc = caller
        .get_export("proxy_on_memory_allocate")
        .and_then(|e| e.into_func())
        .ok_or_else(|| anyhow!("no proxy_on_memory_allocate"))?
        .typed::<i32, i32>(&caller)?;
    let size = i32::try_from(data.len())?;
    let ptr = alloc.call(&mut *caller, size)?;
    write_bytes(caller, ptr, data)?;
    write_bytes(caller, ptr_out, &ptr.to_le_bytes())?;
    write_bytes(caller, size_out, &size.to_le_bytes())?;
    Ok(())
}

/// The proxy-wasm map serialisation: count, (key length, value length)
/// pairs, then each key and value with a NUL after it.
fn serialize_map(map: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&u32::try_from(map.len()).unwrap_or(0).to_le_bytes());
    for (k, v) in map {
        out.extend_from_slice(&u32::try_from(k.len()).unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&u32::try_from(v.len()).unwrap_or(0).to_le_bytes());
    }
    for (k, v) in map {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v);
        out.push(0);
    }
    out
}

fn deserialize_map(bytes: &[u8]) -> Result<Vec<(String, String)>> {
    let u32_at = |at: usize| -> Result<usize> {
        let b: [u8; 4] = bytes
            .get(at..at + 4)
            .ok_or_else(|| anyhow!("short map"))?
            .try_into()?;
        Ok(usize::try_from(u32::from_le_bytes(b))?)
    };
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let n = u32_at(0)?;
    let mut p = 4 + n * 8;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (kl, vl) = (u32_at(4 + i * 8)?, u32_at(8 + i * 8)?);
        let k = bytes.get(p..p + kl).ok_or_else(|| anyhow!("short map"))?;
        p += kl + 1;
        let v = bytes.get(p..p + vl).ok_or_else(|| anyhow!("short map"))?;
        p += vl + 1;
        out.push((
            String::from_utf8_lossy(k).into_owned(),
            String::from_utf8_lossy(v).into_owned(),
        ));
    }
    Ok(out)
}

impl HostState {
    /// The header map `map_type` of the effective context.
    fn map(&mut self, map_type: i32) -> Option<&mut Vec<(String, Vec<u8>)>> {
        match map_type {
            MAP_REQUEST_HEADERS => self
                .streams
                .get_mut(&self.effective)
                .map(|s| &mut s.headers),
            MAP_HTTP_CALL_RESPONSE_HEADERS => self.reply.as_mut().map(|r| &mut r.headers),
            _ => None,
        }
    }
}

fn add_proxy_functions(linker: &mut Linker<HostState>) -> Result<()> {
    linker.func_wrap(
        "env",
        "proxy_log",
        |mut c: Caller<'_, HostState>, level: i32, ptr: i32, len: i32| -> Result<i32> {
            let msg = read_str(&mut c, ptr, len)?;
            c.data_mut().logs.push((level, msg));
            Ok(status::OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_log_level",
        |mut c: Caller<'_, HostState>, out: i32| -> Result<i32> {
            write_bytes(&mut c, out, &0i32.to_le_bytes())?;
            Ok(status::OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut c: Caller<'_, HostState>, out: i32| -> Result<i32> {
            let now = c.data().clock.load(Ordering::SeqCst);
            write_bytes(&mut c, out, &now.to_le_bytes())?;
            Ok(status::OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        |mut c: Caller<'_, HostState>, ms: i32| -> i32 {
            c.data_mut().tick_ms = to_u32(ms);
            status::OK
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut c: Caller<'_, HostState>,
         kind: i32,
         start: i32,
         max: i32,
         ptr_out: i32,
         size_out: i32|
         -> Result<i32> {
            let data = match kind {
                BUFFER_PLUGIN_CONFIGURATION => c.data().plugin_config.clone(),
                BUFFER_VM_CONFIGURATION => Vec::new(),
                BUFFER_HTTP_CALL_RESPONSE_BODY => match &c.data().reply {
                    Some(r) => r.body.clone(),
                    None => return Ok(status::NOT_FOUND),
                },
                _ => return Ok(status::NOT_FOUND),
            };
            let start = usize::try_from(start)?.min(data.len());
            let end = start.saturating_add(usize::try_from(max)?).min(data.len());
            let slice = data.get(start..end).unwrap_or_default().to_vec();
            give(&mut c, &slice, ptr_out, size_out)?;
            Ok(status::OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut c: Caller<'_, HostState>, kind: i32, ptr_out: i32, size_out: i32| -> Result<i32> {
            let bytes = match c.data_mut().map(kind) {
                Some(map) => serialize_map(map),
                None => serialize_map(&[]),
            };
            give(&mut c, &bytes, ptr_out, size_out)?;
            Ok(status::OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut c: Caller<'_, HostState>,
         kind: i32,
         kp: i32,
         kl: i32,
         ptr_out: i32,
         size_out: i32|
         -> Result<i32> {
            let key = read_str(&mut c, kp, kl)?;
            let value = c.data_mut().map(kind).and_then(|m| {
                m.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&key))
                    .map(|(_, v)| v.clone())
            });
            match value {
                Some(v) => {
                    give(&mut c, &v, ptr_out, size_out)?;
                    Ok(status::OK)
                }
                None => Ok(status::NOT_FOUND),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_add_header_map_value",
        |mut c: Caller<'_, HostState>,
         kind: i32,
         kp: i32,
         kl: i32,
         vp: i32,
         vl: i32|
         -> Result<i32> {
            let key = read_str(&mut c, kp, kl)?;
            let value = read(&mut c, vp, vl)?;
            match c.data_mut().map(kind) {
                Some(m) => {
                    m.push((key, value));
                    Ok(status::OK)
                }
                None => Ok(status::BAD_ARGUMENT),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        |mut c: Caller<'_, HostState>,
         kind: i32,
         kp: i32,
         kl: i32,
         vp: i32,
         vl: i32|
         -> Result<i32> {
            let key = read_str(&mut c, kp, kl)?;
            let value = read(&mut c, vp, vl)?;
            match c.data_mut().map(kind) {
                Some(m) => {
                    m.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
                    m.push((key, value));
                    Ok(status::OK)
                }
                None => Ok(status::BAD_ARGUMENT),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut c: Caller<'_, HostState>, kind: i32, kp: i32, kl: i32| -> Result<i32> {
            let key = read_str(&mut c, kp, kl)?;
            match c.data_mut().map(kind) {
                Some(m) => {
                    m.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
                    Ok(status::OK)
                }
                None => Ok(status::BAD_ARGUMENT),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_header_map_pairs",
        |mut c: Caller<'_, HostState>, kind: i32, p: i32, l: i32| -> Result<i32> {
            let bytes = read(&mut c, p, l)?;
            let pairs = deserialize_map(&bytes)?;
            match c.data_mut().map(kind) {
                Some(m) => {
                    *m = pairs
                        .into_iter()
                        .map(|(k, v)| (k, v.into_bytes()))
                        .collect();
                    Ok(status::OK)
                }
                None => Ok(status::BAD_ARGUMENT),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |mut c: Caller<'_, HostState>,
         pp: i32,
         pl: i32,
         ptr_out: i32,
         size_out: i32|
         -> Result<i32> {
            let path = read_str(&mut c, pp, pl)?.replace('\0', ".");
            let data = c.data();
            let value = match data.streams.get(&data.effective) {
                Some(s) => s.properties.get(&path).cloned(),
                None => data.root_properties.get(&path).cloned(),
            };
            match value {
                Some(v) => {
                    give(&mut c, &v, ptr_out, size_out)?;
                    Ok(status::OK)
                }
                None => Ok(status::NOT_FOUND),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_property",
        |mut c: Caller<'_, HostState>, pp: i32, pl: i32, vp: i32, vl: i32| -> Result<i32> {
            let path = read_str(&mut c, pp, pl)?.replace('\0', ".");
            let value = read(&mut c, vp, vl)?;
            let data = c.data_mut();
            let effective = data.effective;
            match data.streams.get_mut(&effective) {
                Some(s) => {
                    s.properties.insert(path, value);
                }
                None => {
                    data.root_properties.insert(path, value);
                }
            }
            Ok(status::OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut c: Caller<'_, HostState>,
         kp: i32,
         kl: i32,
         ptr_out: i32,
         size_out: i32,
         cas_out: i32|
         -> Result<i32> {
            let key = read_str(&mut c, kp, kl)?;
            match c.data().shared.read(&key) {
                Some(v) => {
                    give(&mut c, &v.value, ptr_out, size_out)?;
                    write_bytes(&mut c, cas_out, &v.cas.to_le_bytes())?;
                    Ok(status::OK)
                }
                None => Ok(status::NOT_FOUND),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_shared_data",
        |mut c: Caller<'_, HostState>,
         kp: i32,
         kl: i32,
         vp: i32,
         vl: i32,
         cas: i32|
         -> Result<i32> {
            let key = read_str(&mut c, kp, kl)?;
            let value = read(&mut c, vp, vl)?;
            Ok(c.data().shared.write(&key, &value, to_u32(cas)))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_http_call",
        |mut c: Caller<'_, HostState>,
         up: i32,
         ul: i32,
         hp: i32,
         hl: i32,
         _bp: i32,
         _bl: i32,
         _tp: i32,
         _tl: i32,
         timeout: i32,
         token_out: i32|
         -> Result<i32> {
            let cluster = read_str(&mut c, up, ul)?;
            let headers = deserialize_map(&read(&mut c, hp, hl)?)?;
            if cluster.is_empty() {
                return Ok(status::BAD_ARGUMENT);
            }
            let data = c.data_mut();
            let token = data.next_token;
            data.next_token += 1;
            data.calls_made += 1;
            let context = data.effective;
            data.calls.push(HttpCall {
                token,
                context,
                cluster,
                headers,
                timeout_ms: to_u32(timeout),
            });
            write_bytes(&mut c, token_out, &token.to_le_bytes())?;
            Ok(status::OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut c: Caller<'_, HostState>,
         code: i32,
         dp: i32,
         dl: i32,
         bp: i32,
         bl: i32,
         hp: i32,
         hl: i32,
         _grpc: i32|
         -> Result<i32> {
            let details = read_str(&mut c, dp, dl)?;
            let body = read(&mut c, bp, bl)?;
            let headers = deserialize_map(&read(&mut c, hp, hl)?)?;
            let data = c.data_mut();
            let effective = data.effective;
            match data.streams.get_mut(&effective) {
                Some(s) => {
                    s.local_response = Some(LocalResponse {
                        status: to_u32(code),
                        details,
                        headers,
                        body,
                    });
                    Ok(status::OK)
                }
                None => Ok(status::BAD_ARGUMENT),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_continue_stream",
        |mut c: Caller<'_, HostState>, _stream: i32| -> i32 {
            let data = c.data_mut();
            let effective = data.effective;
            match data.streams.get_mut(&effective) {
                Some(s) => {
                    s.resumed += 1;
                    status::OK
                }
                None => status::BAD_ARGUMENT,
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_effective_context",
        |mut c: Caller<'_, HostState>, id: i32| -> i32 {
            let id = to_u32(id);
            let data = c.data_mut();
            let live = id == data.root_id || data.streams.get(&id).is_some_and(|s| !s.deleted);
            if live {
                data.effective = id;
                status::OK
            } else {
                status::BAD_ARGUMENT
            }
        },
    )?;
    linker.func_wrap("env", "proxy_done", |_c: Caller<'_, HostState>| -> i32 {
        status::OK
    })?;
    Ok(())
}
