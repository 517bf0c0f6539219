//! Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, and functions (FUNCTION,
//! FCALL, FCALL_RO), as Redis 7.0 runs them.
//!
//! A script runs to completion with the keyspace to itself (nothing else runs meanwhile:
//! it is atomic). The commands it calls run as they would for its client (same ACL user,
//! its own database selection, blocking commands refused) and record their effects as
//! usual; those effects, not the script, go to the log, bracketed like a transaction so
//! recovery applies all of a script's writes or none (Redis 7.0's effects replication).
//! So replaying never runs Lua, and a script's randomness or clock reads are already
//! resolved in what was logged.
//!
//! Submodules: `vm` (the interpreter, its sandbox and time limit), `libs` (`redis`,
//! `bit`, `cjson`), `structs` and `msgpack` (the `struct` and `cmsgpack` libraries),
//! `auxlib` (Lua's argument checks and errors for them), `convert` (replies to Lua
//! values and back), `functions` (libraries, FCALL and FUNCTION; a script and a function
//! run the same way, through [`invoke`]).

mod auxlib;
mod convert;
mod functions;
mod libs;
mod msgpack;
mod structs;
mod vm;

pub use functions::{fcall, fcall_ro, function, Functions};

use std::collections::HashMap;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use mlua::{MultiValue, Value};

use super::{flag, lookup, Ctx, Session, State};
use crate::protocol::{Frame, ReplyBuf};

pub use libs::sha1_hex;

/// The script cache and the interpreter that holds the compiled scripts.
pub struct Scripts {
    /// Shared so that a running script holds its handles without cloning each one (a
    /// clone of an mlua handle is a new registry reference).
    vm: Arc<vm::Vm>,
    /// SHA-1 (lower-case hex) -> compiled body.
    cache: HashMap<Digest, Cached, foldhash::fast::RandomState>,
    /// Bytes of the cached bodies (INFO `used_memory_scripts`).
    body_bytes: usize,
    /// The session scripts' commands run in, kept between scripts (see
    /// [`script_session`]).
    spare: Option<Session>,
}

/// A compiled script and what its shebang line declared.
#[derive(Clone)]
struct Cached {
    func: Arc<vm::Stored>,
    shebang: Option<Flags>,
}

/// The flags of a `#!lua flags=...` line (Redis 7.0); the cluster and replica ones
/// (`no-cluster`, `allow-cross-slot-keys`, `allow-stale`) change nothing here.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
struct Flags {
    no_writes: bool,
    allow_oom: bool,
}

/// Read a body's shebang line, Redis's way: `None` without one; else its flags and the
/// body to compile (the line blanked, so line numbers stay).
fn shebang(body: &[u8]) -> Result<Option<(Flags, Vec<u8>)>, String> {
    if !body.starts_with(b"#!") {
        return Ok(None);
    }
    let Some(end) = memchr::memchr(b'\n', body) else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let engine = words.next().unwrap_or_default();
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = Flags::default();
    for word in words {
        let Some(list) = word.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {word}"));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            match f {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => return Err(format!("ERR Unexpected flag in script shebang: {other}")),
            }
        }
    }
    Ok(Some((flags, body[end..].to_vec())))
}

/// A script's SHA-1 in lower-case hex.
type Digest = [u8; 40];

/// `text` as a digest (any case), if it can be one.
fn digest(text: &[u8]) -> Option<Digest> {
    let mut d: Digest = text.try_into().ok()?;
    d.make_ascii_lowercase();
    Some(d)
}

impl Default for Scripts {
    fn default() -> Self {
        Scripts {
            // Setting up a fresh interpreter runs only fixed code; failing means the
            // process cannot allocate, and nothing else could run either.
            vm: Arc::new(vm::Vm::new(vm::Kind::Scripts).expect("create the Lua interpreter")),
            cache: HashMap::default(),
            body_bytes: 0,
            spare: None,
        }
    }
}

impl std::fmt::Debug for Scripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripts")
            .field("cached", &self.cache.len())
            .finish()
    }
}

impl Scripts {
    /// Number of cached scripts (INFO `number_of_cached_scripts`).
    pub fn count(&self) -> usize {
        self.cache.len()
    }

    /// Bytes the interpreter holds (INFO `used_memory_lua`).
    pub fn vm_bytes(&self) -> usize {
        self.vm.lua.used_memory()
    }

    pub fn body_bytes(&self) -> usize {
        self.body_bytes
    }

    /// Compile `body` into the cache (if it is not there) and return its SHA-1.
    fn load(&mut self, body: &[u8]) -> Result<Digest, String> {
        let sha = digest(sha1_hex(body).as_bytes()).expect("a SHA-1 has 40 hex digits");
        if !self.cache.contains_key(&sha) {
            let (func, shebang) = match shebang(body)? {
                Some((flags, rest)) => (self.vm.compile(&rest), Some(flags)),
                None => (self.vm.compile(body), None),
            };
            let func =
                func.map_err(|m| format!("ERR Error compiling script (new function): {m}"))?;
            let func = Arc::new(
                vm::Stored::new(&self.vm.lua, func)
                    .map_err(|e| format!("ERR Error compiling script (new function): {e}"))?,
            );
            self.cache.insert(sha, Cached { func, shebang });
            self.body_bytes += body.len();
        }
        Ok(sha)
    }

    /// Test harnesses only: stop any script after `limit`, even one that wrote (a
    /// fuzzer's script may loop forever after writing). Kept across SCRIPT FLUSH.
    #[doc(hidden)]
    pub fn set_hard_limit(&self, limit: Option<std::time::Duration>) {
        self.vm.watch.set_hard_limit(limit);
    }

    fn flush(&mut self) {
        let hard = self.vm.watch.hard_limit();
        *self = Scripts::default();
        self.set_hard_limit(hard);
    }
}

pub fn eval(ctx: &mut Ctx) {
    run(ctx, false, false)
}

pub fn evalsha(ctx: &mut Ctx) {
    run(ctx, true, false)
}

pub fn eval_ro(ctx: &mut Ctx) {
    run(ctx, false, true)
}

pub fn evalsha_ro(ctx: &mut Ctx) {
    run(ctx, true, true)
}

/// `script numkeys key... arg...` -> the number of keys, after checking it as Redis does.
fn numkeys(ctx: &mut Ctx) -> Option<usize> {
    let n = ctx.int_arg(2)?;
    keys_in_range(ctx, n)
}

/// `n`, the number of keys of an EVAL or FCALL, if the arguments hold that many (else
/// Redis's error is replied).
fn keys_in_range(ctx: &mut Ctx, n: i64) -> Option<usize> {
    if n > (ctx.args.len() - 3) as i64 {
        ctx.error("ERR Number of keys can't be greater than number of args");
        return None;
    }
    if n < 0 {
        ctx.error("ERR Number of keys can't be negative");
        return None;
    }
    Some(n as usize)
}

/// MONITOR shows a script or function call before the commands it runs (the EVAL and
/// FCALL families are flagged `skip_monitor`).
fn feed_monitor(ctx: &mut Ctx) {
    if let Some(spec) = ctx.st.current_spec {
        super::monitor::feed(ctx.st, ctx.sess, spec, ctx.args);
    }
}

fn run(ctx: &mut Ctx, by_sha: bool, read_only: bool) {
    feed_monitor(ctx);
    let Some(nkeys) = numkeys(ctx) else { return };
    let sha = if by_sha {
        digest(&ctx.args[1])
    } else {
        match ctx.st.scripts.load(&ctx.args[1]) {
            Ok(sha) => Some(sha),
            Err(e) => return ctx.error(&e),
        }
    };
    let Some((sha, script)) = sha.and_then(|d| Some((d, ctx.st.scripts.cache.get(&d)?.clone())))
    else {
        return ctx.error("NOSCRIPT No matching script. Please use EVAL.");
    };
    let vm = ctx.st.scripts.vm.clone();
    invoke(
        ctx,
        Invocation {
            vm,
            func: script.func,
            flags: script.shebang,
            name: std::str::from_utf8(&sha).unwrap_or_default(),
            nkeys,
            read_only,
        },
    );
}

/// A script or function about to run, for [`invoke`].
struct Invocation<'a> {
    vm: Arc<vm::Vm>,
    func: Arc<vm::Stored>,
    /// A script's shebang flags, or a function's (always declared).
    flags: Option<Flags>,
    /// What error replies name: a script's SHA-1, a function's name.
    name: &'a str,
    /// `ctx.args[3..3 + nkeys]` are its keys, the rest after them its arguments.
    nkeys: usize,
    /// Called as EVAL_RO / EVALSHA_RO / FCALL_RO.
    read_only: bool,
}

/// Run a script or function for the command in `ctx` and reply with what it returned.
fn invoke(ctx: &mut Ctx, inv: Invocation) {
    let keys = &ctx.args[3..3 + inv.nkeys];
    let argv = &ctx.args[3 + inv.nkeys..];
    // Redis decides once, before the script, whether memory is over the limit: then a
    // script without a shebang may not start writing with a command that can grow
    // memory, and one with declared flags (unless `no-writes` or `allow-oom`) does not
    // run.
    let oom = ctx.st.config.maxmemory > 0 && super::evict::over_limit(ctx.st);
    let mut read_only = inv.read_only;
    let mut oom_applies = oom;
    if let Some(flags) = inv.flags {
        if read_only && !flags.no_writes {
            return ctx.error("ERR Can not execute a script with write flag using *_ro command.");
        }
        if oom && !flags.no_writes && !flags.allow_oom {
            return ctx.error(super::OOM);
        }
        read_only |= flags.no_writes;
        oom_applies = false;
    }
    // Inside EXEC the transaction's bracket covers the script's effects too.
    let nested = ctx.sess.in_exec();
    let first_effect = ctx.st.effects.len();
    let mut sess = script_session(ctx.st.scripts.spare.take(), ctx.sess);
    let vm = inv.vm;
    let mut call = Caller {
        st: &mut *ctx.st,
        sess: &mut sess,
        vm: vm.clone(),
        now: ctx.now,
        read_only,
        oom: oom_applies,
    };
    let result = execute(&mut call, inv.func, keys, argv);
    if vm.watch.stop() {
        // (Only fails if the interpreter cannot allocate; the faster hook stays then.)
        let _ = vm.reset_hook();
    }
    let name = inv.name;
    match result {
        Ok((true, v)) => {
            let resp3 = vm.resp3.load(Ordering::Relaxed);
            if let Err(e) = convert::reply_from_lua(&v, ctx.out, resp3) {
                ctx.error(&format!("ERR {}", vm::message(&e)));
            }
            ctx.st.stats.calls.reply_error_counted = counted_already(&v);
        }
        Ok((false, v)) => {
            ctx.error(&failure(&v, name));
            ctx.st.stats.calls.reply_error_counted = counted_already(&v);
        }
        Err(e) => ctx.error(&format!("ERR {} script: {name}", vm::message(&e))),
    }
    if !nested {
        super::transactions::bracket(ctx.st, first_effect);
    }
    ctx.st.scripts.spare = Some(sess);
}

/// The session a script's commands run in: its client's user and database, blocking
/// refused; SELECT inside the script changes only this one (as in Redis 7.0). `spare`,
/// the previous script's, is reused: what else a command could leave in a session
/// (MULTI, WATCH, subscriptions, CLIENT settings) comes from `noscript` commands.
fn script_session(spare: Option<Session>, caller: &Session) -> Session {
    let mut s = spare.unwrap_or_else(|| Session::new(caller.id, true));
    s.id = caller.id;
    if s.user != caller.user {
        s.user.clone_from(&caller.user);
    }
    s.db = caller.db;
    s.local = caller.local;
    // (For the CLIENT LIST line of an ACL LOG entry.)
    s.last_cmd = caller.last_cmd;
    s.name.clone_from(&caller.name);
    s.resp3 = false;
    s.blocking.deny = true;
    s
}

/// What `redis.call` needs while one script runs.
struct Caller<'a> {
    st: &'a mut State,
    sess: &'a mut Session,
    /// The interpreter running it (scripts' or functions').
    vm: Arc<vm::Vm>,
    now: u64,
    read_only: bool,
    /// Memory was over `maxmemory` when the script started.
    oom: bool,
}

/// Run `func`, a script with KEYS and ARGV set or a function given its keys and
/// arguments: `(true, value)` it returned, `(false, error table)` it raised.
fn execute(
    call: &mut Caller,
    func: Arc<vm::Stored>,
    keys: &[Bytes],
    argv: &[Bytes],
) -> mlua::Result<(bool, Value)> {
    let vm = call.vm.clone();
    let func = vm.fetch(&func)?;
    let function = vm.env.is_some();
    if function {
        vm.bridge.raw_set("target", &func)?;
        vm.bridge.raw_set("keys", table_of(&vm, keys)?)?;
        vm.bridge.raw_set("args", table_of(&vm, argv)?)?;
    } else {
        vm.globals.raw_set("KEYS", table_of(&vm, keys)?)?;
        vm.globals.raw_set("ARGV", table_of(&vm, argv)?)?;
    }
    vm.resp3.store(false, Ordering::Relaxed);
    vm.watch
        .start(call.now, call.st.config.busy_reply_threshold);
    vm.lua.scope(|scope| {
        // `redis.call`: an error reply raises (through `bridge.raised`: see `vm::Vm`);
        // `redis.pcall` (Lua, in the prelude) catches that.
        let f = scope.create_function_mut(|lua, args: MultiValue| {
            let v = redis_call(lua, call, args, vm.resp3.load(Ordering::Relaxed))?;
            if let Value::Table(t) = &v {
                if let Value::String(e) = t.raw_get::<Value>("err")? {
                    let text = e.to_string_lossy();
                    vm.bridge.raw_set("raised", t)?;
                    return Err(mlua::Error::RuntimeError(text));
                }
            }
            Ok(v)
        })?;
        vm.redis.raw_set("call", &f)?;
        vm.bridge.raw_set("call", f)?;
        if function {
            let r = vm
                .xpcall
                .call::<(bool, Value)>((&vm.trampoline, &vm.handler));
            for slot in ["target", "keys", "args"] {
                vm.bridge.raw_set(slot, Value::Nil)?;
            }
            r
        } else {
            vm.xpcall.call::<(bool, Value)>((&func, &vm.handler))
        }
    })
}

/// A new table of `items` (KEYS, ARGV, a function's keys or arguments): fresh for each
/// call, as in Redis (a script may change them).
fn table_of(vm: &vm::Vm, items: &[Bytes]) -> mlua::Result<mlua::Table> {
    let t = vm.lua.create_table_with_capacity(items.len(), 0)?;
    for (i, s) in items.iter().enumerate() {
        t.raw_set(i + 1, vm.lua.create_string(s)?)?;
    }
    Ok(t)
}

/// The reply for a script that raised `err` (the handler's table): Redis's
/// `<error> script: <sha or function>, on @user_script:<line>.`
fn failure(err: &Value, sha: &str) -> String {
    let Value::Table(t) = err else {
        let text = err.to_string().unwrap_or_default();
        return format!("ERR {text} script: {sha}");
    };
    let text = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy(),
        _ => "ERR unknown error".into(),
    };
    match (
        t.raw_get::<Option<String>>("source"),
        t.raw_get::<Option<i64>>("line"),
    ) {
        (Ok(Some(source)), Ok(Some(line))) => {
            format!("{text} script: {sha}, on {source}:{line}.")
        }
        _ => format!("{text} script: {sha}"),
    }
}

/// `redis.call` / `redis.pcall`: run one command; its reply as a Lua value, an error
/// reply (or a refusal) as `{err = message}` (which `redis.call` raises).
fn redis_call(
    lua: &mlua::Lua,
    call: &mut Caller,
    args: MultiValue,
    resp3: bool,
) -> mlua::Result<Value> {
    let err = |msg: &str| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set("err", msg)?;
        Ok(Value::Table(t))
    };
    if args.is_empty() {
        return err("ERR Please specify at least one argument for this redis lib call");
    }
    let mut argv = Vec::with_capacity(args.len());
    for a in args {
        match a {
            Value::String(s) => argv.push(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(n) => argv.push(Bytes::from(n.to_string())),
            // "%.17g", as Redis converts numbers.
            Value::Number(n) => argv.push(Bytes::from(libs::format_g(n, 17))),
            _ => return err(ARG_TYPES),
        }
    }
    let mut out = ReplyBuf::new(resp3);
    call.sess.resp3 = resp3;
    let v = match script_command(call, argv, &mut out) {
        Err(refusal) => err(&refusal)?,
        Ok(()) => match Frame::decode(out.as_bytes(), usize::MAX) {
            Ok(Some((frame, _))) => convert::frame_to_lua(lua, frame)?,
            _ => err("ERR the command gave no reply")?,
        },
    };
    // Its error was counted in errorstats as the command's; the script passing it on
    // as its reply does not count it again (Redis's `ignore_error_stats_update`).
    if let Value::Table(t) = &v {
        if t.raw_get::<Value>("err")?.is_string() {
            t.raw_set(COUNTED, true)?;
        }
    }
    Ok(v)
}

/// The field marking an error table whose error errorstats counted already.
const COUNTED: &str = "ignore_error_stats_update";

/// Whether the script's error reply `v` is one errorstats counted already.
fn counted_already(v: &Value) -> bool {
    matches!(v, Value::Table(t) if t.raw_get::<bool>(COUNTED).unwrap_or(false))
}

const ARG_TYPES: &str = "ERR Lua redis lib command arguments must be strings or integers";

/// Check and run one command for a script, with Redis's refusals (in Redis's order).
fn script_command(call: &mut Caller, args: Vec<Bytes>, out: &mut ReplyBuf) -> Result<(), String> {
    let Some(spec) = lookup(&args[0]) else {
        return Err("ERR Unknown Redis command called from script".into());
    };
    if let Err(refusal) = script_refusal(call, spec, &args) {
        super::slowlog::record_script_rejection(call.st, spec, &args, &refusal);
        return Err(refusal);
    }
    if spec.is_write() {
        call.vm.watch.wrote();
    }
    let started = std::time::Instant::now();
    let at = out.len();
    super::run_for_script(call.st, call.sess, spec, &args, out, call.now);
    let nanos = started.elapsed().as_nanos() as u64;
    let error = match out.as_bytes().get(at..) {
        Some([b'-', rest @ ..]) => Some(rest),
        _ => None,
    };
    super::slowlog::record_script_call(call.st, spec, &args, nanos, error);
    Ok(())
}

/// Why a script may not run `spec` with `args` now, if it may not (an ACL refusal goes
/// to ACL LOG, context `lua`).
fn script_refusal(
    call: &mut Caller,
    spec: &'static super::Spec,
    args: &[Bytes],
) -> Result<(), String> {
    let st = &*call.st;
    if !spec.arity_ok(args.len()) {
        return Err("ERR Wrong number of args calling Redis command from script".into());
    }
    if spec.has(flag::NOSCRIPT) || noscript_subcommand(spec.name, args) {
        return Err("ERR This Redis command is not allowed from script".into());
    }
    if spec.has(flag::CONTAINER) {
        if let Some((_, msg)) = spec.subcommand_refusal(args) {
            return Err(msg);
        }
    }
    if let Err(denied) = st.acl.check(&call.sess.user, spec, args) {
        let user = call.sess.user.clone();
        super::acl::log_refusal(
            call.st,
            call.sess,
            Some(&denied),
            b"",
            "lua",
            &user,
            call.now,
        );
        return Err(denied.script_message().into());
    }
    if spec.is_write() {
        if call.read_only {
            return Err("ERR Write commands are not allowed from read-only scripts.".into());
        }
        if let Some(refusal) = &st.write_refusal {
            return Err(refusal.clone());
        }
    }
    if call.oom && !call.vm.watch.has_written() && spec.has(flag::DENYOOM) {
        return Err(super::OOM.into());
    }
    Ok(())
}

/// Containers whose subcommands Redis marks `noscript`, all but HELP (the table keeps
/// flags per command, not per subcommand).
fn noscript_subcommand(name: &str, args: &[Bytes]) -> bool {
    matches!(
        name,
        "client" | "config" | "latency" | "script" | "acl" | "function"
    ) && !args.get(1).is_some_and(|s| s.eq_ignore_ascii_case(b"help"))
}

// ---- SCRIPT -------------------------------------------------------------------------

pub fn script(ctx: &mut Ctx) {
    let sub = ctx.args[1].to_ascii_lowercase();
    match sub.as_slice() {
        b"load" => match ctx.st.scripts.load(&ctx.args[2]) {
            Ok(sha) => ctx.out.bulk(&sha),
            Err(e) => ctx.error(&e),
        },
        b"exists" => {
            ctx.out.array_len(ctx.args.len() - 2);
            for i in 2..ctx.args.len() {
                let known =
                    digest(&ctx.args[i]).is_some_and(|d| ctx.st.scripts.cache.contains_key(&d));
                ctx.out.int(known as i64);
            }
        }
        b"flush" => {
            match ctx.args.get(2).map(|a| a.to_ascii_lowercase()).as_deref() {
                None | Some(b"sync") | Some(b"async") if ctx.args.len() <= 3 => {}
                _ => {
                    return ctx.error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
                }
            }
            ctx.st.scripts.flush();
            ctx.out.ok();
        }
        // A script runs to its end before any other command is read (see `vm::Watch`).
        b"kill" => ctx.error("NOTBUSY No scripts in execution right now."),
        b"debug" => match ctx.args[2].to_ascii_lowercase().as_slice() {
            b"no" => ctx.out.ok(),
            b"yes" | b"sync" => ctx.error("ERR SCRIPT DEBUG (the Lua debugger) is not supported"),
            _ => ctx.error("ERR Use SCRIPT DEBUG YES/SYNC/NO"),
        },
        _ => ctx.help(&[
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed (only NO is supported).",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Prints this help.",
        ]),
    }
}

/// What [`check_libs`] runs: every entry point of the libraries that decode bytes a
/// script may have from anywhere (`cmsgpack`, `struct`), errors caught; an offset that
/// does not move forward, or a round trip that is not stable, raises.
const LIBS_PROBE: &str = r#"
local d = ...
pcall(cmsgpack.unpack, d)
local off = 0
while off ~= -1 do
  local ok, nxt = pcall(cmsgpack.unpack_one, d, off)
  if not ok then break end
  if nxt ~= -1 and (nxt <= off or nxt > #d) then error('unpack_one went from ' .. off .. ' to ' .. nxt) end
  off = nxt
end
pcall(cmsgpack.unpack_limit, d, 3, 1)
-- After one round trip (which turns arrays with holes into maps and cuts nesting at
-- 16), packing is stable: the same size each time (maps may list their keys in another
-- order).
local ok, v = pcall(cmsgpack.unpack, d)
if ok then
  local ok1, v1 = pcall(cmsgpack.unpack, cmsgpack.pack(v))
  if ok1 then
    local p1 = cmsgpack.pack(v1)
    local v2 = cmsgpack.unpack(p1)
    if #cmsgpack.pack(v2) ~= #p1 then error('a re-packed value changed size') end
  end
end
local n = (d:byte(1) or 0) % 24
local fmt, rest = d:sub(2, 1 + n), d:sub(2 + n)
pcall(struct.unpack, fmt, rest)
pcall(struct.unpack, fmt, rest, 2)
pcall(struct.size, fmt)
pcall(struct.pack, fmt, 1, -2, 'abc', 3.5, rest, 2^40, rest)
"#;

/// Fuzzing only: run `cmsgpack` and `struct` over `data` in a script interpreter (one
/// per thread). `Err` when the probe's own checks fail; a bug that panics panics.
#[doc(hidden)]
pub fn check_libs(data: &[u8]) -> Result<(), String> {
    thread_local! {
        static PROBE: (vm::Vm, mlua::Function) = {
            let vm = vm::Vm::new(vm::Kind::Scripts).expect("create the Lua interpreter");
            let f = vm.lua.load(LIBS_PROBE).into_function().expect("the probe compiles");
            (vm, f)
        };
    }
    PROBE.with(|(vm, f)| {
        let s = vm.lua.create_string(data).map_err(|e| e.to_string())?;
        f.call::<()>(s).map_err(|e| vm::message(&e))
    })
}
