//! The Lua 5.1 interpreter scripts run in, set up as Redis 7.0 sets up its own: the base,
//! table, string and math libraries plus `redis`, `bit`, `cjson`, `struct` and `cmsgpack`;
//! no `io`, `os`, `debug`, `package`, `print`, `dofile`, `loadfile`, `getfenv`, `setfenv`
//! or `newproxy`; binary chunks refused; globals and the library tables read-only, and
//! reading a global that does not exist is an error. One interpreter serves every script
//! (compiled scripts stay in it, as in Redis) until SCRIPT FLUSH replaces it; functions
//! have an interpreter of their own (as in Redis 7.0), replaced by FUNCTION FLUSH, with
//! the loading environment of [`LoadEnv`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};

use super::libs;

/// How often (in VM instructions) the time limit is looked at: a fraction of a
/// millisecond of Lua.
const HOOK_EVERY: u32 = 100_000;

/// The name compiled scripts carry, which Lua puts in its error messages
/// (`user_script:1: ...`) and Redis's replies name (`on @user_script:1.`).
pub const SCRIPT_SOURCE: &str = "@user_script";
/// The same for function libraries.
pub const FUNCTION_SOURCE: &str = "@user_function";

/// How long a library's code may run while FUNCTION LOAD registers its functions
/// (Redis's fixed limit).
const LOAD_LIMIT: Duration = Duration::from_millis(500);

/// What the instruction hook needs to know about the script running now.
#[derive(Default)]
struct Running {
    /// Unix ms the script started (its command's clock: no clock read per script).
    started: Option<u64>,
    /// `busy-reply-threshold`; zero: no limit.
    limit: Duration,
    /// The script ran a write command: stopping it would leave half its writes.
    wrote: bool,
    warned: bool,
    /// Stopped for running too long: every later look raises again, so that a `pcall`
    /// in the script cannot swallow it.
    killed: bool,
    /// Test harnesses only (fuzzing): a limit that stops even a script that wrote.
    hard: Option<Duration>,
    /// A library's code is running for FUNCTION LOAD (stopped at [`LOAD_LIMIT`]).
    loading: bool,
}

/// The limit on a script's running time, shared with the VM's instruction hook.
#[derive(Default, Clone)]
pub struct Watch(Arc<Mutex<Running>>);

impl Watch {
    fn lock(&self) -> std::sync::MutexGuard<'_, Running> {
        // The hook never panics holding it; a poisoned lock still holds valid fields.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn start(&self, now_ms: u64, limit_ms: u64) {
        let mut r = self.lock();
        let hard = r.hard;
        *r = Running {
            hard,
            started: Some(now_ms),
            limit: Duration::from_millis(limit_ms),
            wrote: false,
            warned: false,
            killed: false,
            loading: false,
        };
    }

    /// A library's code starts running for FUNCTION LOAD: stopped at [`LOAD_LIMIT`] if
    /// `limited` (not when replaying: code accepted once must load again, however busy
    /// the machine is at startup). A test harness's hard limit applies either way.
    pub fn start_load(&self, limited: bool) {
        let mut r = self.lock();
        let hard = r.hard;
        let limit = match (limited, hard) {
            (true, Some(h)) => LOAD_LIMIT.min(h),
            (true, None) => LOAD_LIMIT,
            (false, h) => h.unwrap_or(Duration::ZERO),
        };
        *r = Running {
            hard,
            started: Some(crate::util::now_ms()),
            limit,
            loading: true,
            ..Running::default()
        };
    }

    pub fn set_hard_limit(&self, limit: Option<Duration>) {
        self.lock().hard = limit;
    }

    pub fn hard_limit(&self) -> Option<Duration> {
        self.lock().hard
    }

    pub fn wrote(&self) {
        self.lock().wrote = true;
    }

    pub fn has_written(&self) -> bool {
        self.lock().wrote
    }

    /// The script ended. Returns whether it was stopped for running too long.
    pub fn stop(&self) -> bool {
        let mut r = self.lock();
        r.started = None;
        std::mem::take(&mut r.killed)
    }

    /// Called by the instruction hook: past the limit, a script that has not written is
    /// stopped (the error it raises becomes its reply; `true` the first time, when the
    /// hook must start firing on every instruction). One that has written runs on, as
    /// Redis leaves it (SCRIPT KILL refuses it there too), with a warning.
    fn check(&self) -> (mlua::Result<VmState>, bool) {
        let mut r = self.lock();
        let Some(started) = r.started else {
            return (Ok(VmState::Continue), false);
        };
        let elapsed = Duration::from_millis(crate::util::now_ms().saturating_sub(started));
        if !r.killed && (r.limit.is_zero() || elapsed < r.limit) {
            return (Ok(VmState::Continue), false);
        }
        if r.loading {
            let first = !std::mem::replace(&mut r.killed, true);
            return (
                Err(mlua::Error::RuntimeError("FUNCTION LOAD timeout".into())),
                first,
            );
        }
        let hard = r.hard.is_some_and(|h| elapsed >= h);
        if !r.wrote || hard {
            let ms = r.limit.as_millis();
            let first = !std::mem::replace(&mut r.killed, true);
            let e = mlua::Error::RuntimeError(format!(
                "Script killed: it ran longer than busy-reply-threshold ({ms} ms) without \
                 writing. Strata runs scripts on the event loop, so it stops such a script \
                 itself instead of waiting for SCRIPT KILL; raise busy-reply-threshold (0: \
                 no limit) if it is meant to run this long"
            ));
            return (Err(e), first);
        }
        if !r.warned {
            r.warned = true;
            tracing::warn!(
                "a script has run for over {} ms after writing: it cannot be stopped without \
                 losing the atomicity of its writes; every client waits for it (kill -9 the \
                 server to give up: restart recovers the state before the script)",
                r.limit.as_millis()
            );
        }
        (Ok(VmState::Continue), false)
    }
}

/// Look at the time limit every `every` instructions, in every coroutine too (a global
/// hook is inherited by the threads a script creates).
pub fn install_hook(lua: &Lua, watch: Watch, every: u32) -> mlua::Result<()> {
    lua.set_global_hook(
        HookTriggers::new().every_nth_instruction(every),
        move |lua, _| {
            let (state, killed_now) = watch.check();
            if killed_now {
                install_hook(lua, watch.clone(), 1)?;
            }
            state
        },
    )
}

/// A function kept for later in the Lua registry. Not an mlua handle (`Function`):
/// each live handle holds one of the ~8,000 slots of mlua's auxiliary stack, so a cache
/// of handles made every EVAL fail for good from the 7,988th distinct script on.
pub struct Stored(mlua::RegistryKey);

impl Stored {
    /// Keep `f` for later calls (a cached script, a registered function).
    pub fn new(lua: &Lua, f: Function) -> mlua::Result<Stored> {
        lua.create_registry_value(f).map(Stored)
    }
}

/// The interpreter and the handles the runner needs each time.
pub struct Vm {
    pub lua: Lua,
    /// `call`, the running script's `redis.call` (which `redis.pcall` calls), and
    /// `raised`, the error table of the last failed `redis.call` (Rust cannot raise a
    /// table: the error raised is an mlua error, and `pcall`, `redis.pcall` and the
    /// handler look here for what it stands for).
    pub bridge: Table,
    /// The `redis` table, where each script's `call` is set.
    pub redis: Table,
    /// The globals table (a handle kept: each `Lua::globals` makes a new reference).
    pub globals: Table,
    /// `redis.setresp(3)` was called by the running script.
    pub resp3: Arc<AtomicBool>,
    pub xpcall: Function,
    /// xpcall's message handler: turns any error into `{err=..., source=..., line=...}`.
    pub handler: Function,
    /// Calls `bridge.target(bridge.keys, bridge.args)`: how a function gets its keys and
    /// arguments (xpcall in Lua 5.1 passes none).
    pub trampoline: Function,
    pub watch: Watch,
    /// The chunk name of the code it compiles ([`SCRIPT_SOURCE`] or [`FUNCTION_SOURCE`]).
    pub source: &'static str,
    /// The function interpreter's environment switch (`None` for scripts).
    pub env: Option<LoadEnv>,
}

/// What a function library sees. Its code is compiled with `env` as its environment (and
/// so are the functions it creates, Lua 5.1 closures inheriting it); `env` is an empty,
/// read-only table whose misses go to `meta.__index`: while FUNCTION LOAD runs the code,
/// `load_api` (a `redis` table with only `register_function`, `log` and the constants, as
/// Redis 7.0 offers), afterwards the interpreter's globals. Redis switches its globals'
/// metatable the same way.
pub struct LoadEnv {
    pub env: Table,
    meta: Table,
    load_api: Table,
    /// The loading `redis` table, where each load sets `register_function`.
    pub load_redis: Table,
}

/// Which interpreter [`Vm::new`] sets up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Scripts,
    Functions,
}

/// Lua run once in a new interpreter (its chunk name keeps its frames out of the
/// locations reported for script errors).
const PRELUDE: &str = r#"
local bridge = ...
local error, type, rawpcall = error, type, pcall
-- What an error raised from Rust (Lua sees a userdata) stands for: the error table of a
-- failed `redis.call`, else the message of a library written in Rust, as from C.
local function unwrap(e)
  local raised = bridge.raised
  bridge.raised = nil
  if type(e) ~= 'userdata' then return e end
  if raised ~= nil then return raised end
  return bridge.message(e)
end
-- Redis 7.0's pcall: an error table reaches the script as its message.
local function settle(ok, ...)
  if ok then return ok, ... end
  local e = unwrap((...))
  if type(e) == 'table' and type(e.err) == 'string' then return false, e.err end
  if type((...)) == 'userdata' then return false, e end
  return false, ...
end
pcall = function(...) return settle(rawpcall(...)) end
-- Redis 7.0's xpcall: the handler gets the error table or the message. The runner keeps
-- Lua's own.
local rawxpcall = xpcall
bridge.xpcall = rawxpcall
xpcall = function(f, handler)
  return rawxpcall(f, function(e) return handler(unwrap(e)) end)
end
redis.pcall = function(...)
  local ok, r = rawpcall(bridge.call, ...)
  if ok then return r end
  local t = bridge.raised
  bridge.raised = nil
  if t ~= nil then return t end
  return {err = 'ERR ' .. tostring(r)}
end
redis.error_reply = function(m)
  if type(m) ~= 'string' then error("wrong number or type of arguments", 2) end
  return {err = m}
end
redis.status_reply = function(m)
  if type(m) ~= 'string' then error("wrong number or type of arguments", 2) end
  return {ok = m}
end
redis.set_repl = function(flags)
  if type(flags) ~= 'number' then error("redis.set_repl() requires one argument.", 2) end
end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = "7.0.15", 0x07000f
for _, name in ipairs({'print', 'dofile', 'loadfile', 'getfenv', 'setfenv', 'newproxy',
                       'module', 'require'}) do
  _G[name] = nil
end
bridge.trampoline = function() return bridge.target(bridge.keys, bridge.args) end
local function missing(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
local function readonly() error("Attempt to modify a readonly table", 2) end
-- Redis 7.0 makes the library tables read-only too, so that no script changes what the
-- next one finds (`string.rep = nil`, `redis.call = f`). Lua 5.1 has no read-only
-- tables: each library becomes an empty proxy that reads through to it and refuses
-- writes, the string metatable reads through the string proxy and is itself behind one,
-- and `rawset` refuses the proxies and the globals table.
local function proxy(lib)
  return setmetatable({}, {__index = lib, __newindex = readonly, __metatable = false})
end
local protected = {[_G] = true}
for _, name in ipairs({'string', 'table', 'math', 'coroutine', 'redis', 'bit', 'cjson', 'struct', 'cmsgpack'}) do
  local p = proxy(rawget(_G, name))
  protected[p] = true
  rawset(_G, name, p)
end
local smeta = getmetatable('')
smeta.__index = rawget(_G, 'string')
smeta.__metatable = proxy(smeta)
protected[smeta.__metatable] = true
do
  local rawset = rawset
  rawset(_G, 'rawset', function(t, k, v)
    if protected[t] then error("Attempt to modify a readonly table", 0) end
    return rawset(t, k, v)
  end)
end
setmetatable(_G, {__index = missing, __newindex = readonly, __metatable = false})
-- For functions (see `LoadEnv`).
local strict = {__index = missing, __newindex = readonly, __metatable = false}
local load_redis = setmetatable({
  log = redis.log,
  LOG_DEBUG = redis.LOG_DEBUG, LOG_VERBOSE = redis.LOG_VERBOSE,
  LOG_NOTICE = redis.LOG_NOTICE, LOG_WARNING = redis.LOG_WARNING,
  REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
}, strict)
local load_api = setmetatable({redis = load_redis}, strict)
local meta = {__index = _G, __newindex = readonly, __metatable = false}
return setmetatable({}, meta), meta, load_api, load_redis
"#;

impl Vm {
    pub fn new(kind: Kind) -> mlua::Result<Vm> {
        // A Rust panic inside a script (a command's bug) must not become a Lua error the
        // script could catch: it propagates, and the engine treats it as fatal.
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::new().catch_rust_panics(false),
        )?;
        // Each script leaves a little garbage (its arguments, a callback): collecting
        // when the heap has grown 4x instead of 2x halves the collector's share of a
        // short script's time, on a heap of a few hundred KB.
        lua.gc_set_mode(mlua::prelude::LuaGcMode::Incremental(
            mlua::prelude::LuaGcIncParams::default().pause(400),
        ));
        let globals = lua.globals();
        let redis = libs::redis(&lua)?;
        globals.raw_set("redis", redis.clone())?;
        globals.raw_set("bit", libs::bit(&lua)?)?;
        globals.raw_set("cjson", libs::cjson(&lua)?)?;
        globals.raw_set("struct", super::structs::lib(&lua)?)?;
        globals.raw_set("cmsgpack", super::msgpack::cmsgpack(&lua)?)?;
        // Text only: crafted bytecode can break the VM's memory safety.
        let loadstring =
            lua.create_function(|lua, (code, name): (mlua::LuaString, Option<String>)| {
                let name = name.unwrap_or_else(|| "=(loadstring)".into());
                match lua
                    .load(code.as_bytes().to_vec())
                    .set_name(name)
                    .set_mode(mlua::chunk::ChunkMode::Text)
                    .into_function()
                {
                    Ok(f) => Ok((Value::Function(f), Value::Nil)),
                    Err(e) => Ok((Value::Nil, Value::String(lua.create_string(message(&e))?))),
                }
            })?;
        globals.raw_set("loadstring", loadstring)?;
        globals.raw_set("load", Value::Nil)?;
        let bridge = lua.create_table()?;
        // The message of an error a Rust function raised (Lua sees it as userdata).
        bridge.raw_set(
            "message",
            lua.create_function(|lua, v: Value| match v {
                Value::Error(e) => Ok(Value::String(lua.create_string(message(&e))?)),
                other => Ok(other),
            })?,
        )?;
        // In Rust, so that `return redis.setresp(4)` keeps the script's frame for the
        // error's location (a Lua function would replace it: a tail call).
        let resp3 = Arc::new(AtomicBool::new(false));
        let flag = resp3.clone();
        let setresp = lua.create_function(move |_, v: Value| {
            let n = match v {
                Value::Integer(n) => n as f64,
                Value::Number(n) => n,
                _ => 0.0,
            };
            if n != 2.0 && n != 3.0 {
                return Err(mlua::Error::RuntimeError(
                    "RESP version must be 2 or 3.".into(),
                ));
            }
            flag.store(n == 3.0, Ordering::Relaxed);
            Ok(())
        })?;
        redis.raw_set("setresp", setresp)?;
        let (env, meta, load_api, load_redis): (Table, Table, Table, Table) =
            lua.load(PRELUDE).set_name("=strata").call(bridge.clone())?;
        let xpcall: Function = bridge.raw_get("xpcall")?;
        let trampoline: Function = bridge.raw_get("trampoline")?;
        let raised = bridge.clone();
        let source = match kind {
            Kind::Scripts => SCRIPT_SOURCE,
            Kind::Functions => FUNCTION_SOURCE,
        };
        let handler =
            lua.create_function(move |lua, err: Value| error_table(lua, &raised, err, source))?;
        let watch = Watch::default();
        install_hook(&lua, watch.clone(), HOOK_EVERY)?;
        let env = (kind == Kind::Functions).then_some(LoadEnv {
            env,
            meta,
            load_api,
            load_redis,
        });
        Ok(Vm {
            lua,
            bridge,
            redis,
            globals,
            resp3,
            xpcall,
            handler,
            trampoline,
            watch,
            source,
            env,
        })
    }

    /// Back to the usual hook after a script was stopped.
    pub fn reset_hook(&self) -> mlua::Result<()> {
        install_hook(&self.lua, self.watch.clone(), HOOK_EVERY)
    }

    /// Compile a script's body or a library's code (as a function of no arguments, the
    /// way Redis wraps it; a library's in its [`LoadEnv`]). The error is Lua's message.
    pub fn compile(&self, body: &[u8]) -> Result<Function, String> {
        let chunk = self
            .lua
            .load(body)
            .set_name(self.source)
            .set_mode(mlua::chunk::ChunkMode::Text);
        let chunk = match &self.env {
            Some(e) => chunk.set_environment(e.env.clone()),
            None => chunk,
        };
        chunk.into_function().map_err(|e| message(&e))
    }

    /// A stored function, to call now.
    pub fn fetch(&self, s: &Stored) -> mlua::Result<Function> {
        self.lua.registry_value(&s.0)
    }

    /// Let the collector have the stored functions that were dropped.
    pub fn release_dropped(&self) {
        self.lua.expire_registry_values();
    }

    /// Run a library's compiled code in the loading environment (under the load time
    /// limit if `limited`): `(true, _)` it ran, `(false, error table)` it raised.
    pub fn run_library(&self, code: &Function, limited: bool) -> mlua::Result<(bool, Value)> {
        let Some(e) = &self.env else {
            return Err(mlua::Error::RuntimeError(
                "not a function interpreter".into(),
            ));
        };
        e.meta.raw_set("__index", &e.load_api)?;
        self.watch.start_load(limited);
        let result = self.xpcall.call::<(bool, Value)>((code, &self.handler));
        e.meta.raw_set("__index", &self.globals)?;
        if self.watch.stop() {
            self.reset_hook()?;
        }
        result
    }
}

/// The text of a Lua error without mlua's wrapping (callback tracebacks and the like).
pub fn message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => message(cause),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::MemoryError(m) => m.clone(),
        other => other.to_string(),
    }
}

/// xpcall's handler: any error becomes a table with `err` (prefixed `ERR ` unless it
/// already is an error table, as from `redis.call` or `error({err=...})`), and the
/// script's innermost frame as `source` and `line`.
fn error_table(lua: &Lua, bridge: &Table, err: Value, source: &str) -> mlua::Result<Table> {
    let raised = bridge.raw_get::<Value>("raised")?;
    bridge.raw_set("raised", Value::Nil)?;
    let t = match (err, raised) {
        (Value::Error(_), Value::Table(t)) => t,
        (Value::Table(t), _) if matches!(t.raw_get::<Value>("err")?, Value::String(_)) => t,
        (other, _) => {
            let text = match &other {
                Value::String(s) => s.to_string_lossy(),
                Value::Error(e) => message(e),
                v => v.to_string().unwrap_or_else(|_| v.type_name().to_string()),
            };
            let t = lua.create_table()?;
            t.raw_set("err", format!("ERR {text}"))?;
            t
        }
    };
    for level in 1..64 {
        let found = lua.inspect_stack(level, |d| {
            let src = d.source();
            (src.what != "C" && src.source.as_deref() == Some(source)).then(|| d.current_line())
        });
        match found {
            None => break,
            Some(Some(line)) => {
                t.raw_set("source", source)?;
                if let Some(line) = line {
                    t.raw_set("line", line)?;
                }
                break;
            }
            Some(None) => {}
        }
    }
    Ok(t)
}
