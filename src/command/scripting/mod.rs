//! Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, as Redis 7.0 runs them.
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
//! `bit`, `cjson`), `convert` (replies to Lua values and back).

mod convert;
mod libs;
mod vm;

use std::collections::HashMap;

use bytes::Bytes;
use mlua::{Function, MultiValue, Value};

use super::{flag, lookup, Ctx, Session, State};
use crate::protocol::{Frame, ReplyBuf};

pub use libs::sha1_hex;

/// The script cache and the interpreter that holds the compiled scripts.
pub struct Scripts {
    vm: vm::Vm,
    /// SHA-1 (lower-case hex) -> compiled body.
    cache: HashMap<String, Function>,
    /// Bytes of the cached bodies (INFO `used_memory_scripts_eval`).
    body_bytes: usize,
}

impl Default for Scripts {
    fn default() -> Self {
        Scripts {
            // Setting up a fresh interpreter runs only fixed code; failing means the
            // process cannot allocate, and nothing else could run either.
            vm: vm::Vm::new().expect("create the Lua interpreter"),
            cache: HashMap::new(),
            body_bytes: 0,
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
    fn load(&mut self, body: &[u8]) -> Result<String, String> {
        let sha = sha1_hex(body);
        if !self.cache.contains_key(&sha) {
            let f = self.vm.compile(body)?;
            self.cache.insert(sha.clone(), f);
            self.body_bytes += body.len();
        }
        Ok(sha)
    }

    fn flush(&mut self) {
        *self = Scripts::default();
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

fn run(ctx: &mut Ctx, by_sha: bool, read_only: bool) {
    let Some(nkeys) = numkeys(ctx) else { return };
    let sha = if by_sha {
        let sha = String::from_utf8_lossy(&ctx.args[1]).to_ascii_lowercase();
        if !ctx.st.scripts.cache.contains_key(&sha) {
            return ctx.error("NOSCRIPT No matching script. Please use EVAL.");
        }
        sha
    } else {
        match ctx.st.scripts.load(&ctx.args[1]) {
            Ok(sha) => sha,
            Err(e) => return ctx.error(&e),
        }
    };
    let func = ctx.st.scripts.cache[&sha].clone();
    let keys = &ctx.args[3..3 + nkeys];
    let argv = &ctx.args[3 + nkeys..];
    // Redis decides once, before the script, whether memory is over the limit: then the
    // script may not start writing with a command that can grow memory.
    let oom = ctx.st.config.maxmemory > 0 && super::evict::over_limit(ctx.st);
    // Inside EXEC the transaction's bracket covers the script's effects too.
    let nested = ctx.sess.in_exec();
    let first_effect = ctx.st.effects.len();
    let mut sess = script_session(ctx.sess);
    let mut call = Caller {
        st: &mut *ctx.st,
        sess: &mut sess,
        now: ctx.now,
        read_only,
        oom,
        watch: None,
    };
    let result = execute(&mut call, func, keys, argv);
    let vm = &ctx.st.scripts.vm;
    if vm.watch.stop() {
        // (Only fails if the interpreter cannot allocate; the faster hook stays then.)
        let _ = vm.reset_hook();
    }
    match result {
        Ok((true, v)) => {
            let resp3 = vm.bridge.raw_get::<i64>("resp").is_ok_and(|r| r == 3);
            if let Err(e) = convert::reply_from_lua(&v, ctx.out, resp3) {
                ctx.error(&format!("ERR {}", vm::message(&e)));
            }
        }
        Ok((false, v)) => ctx.error(&failure(&v, &sha)),
        Err(e) => ctx.error(&format!("ERR {} script: {sha}", vm::message(&e))),
    }
    if !nested {
        super::transactions::bracket(ctx.st, first_effect);
    }
}

/// The session a script's commands run in: its client's user and database, blocking
/// refused; SELECT inside the script changes only this one (as in Redis 7.0).
fn script_session(caller: &Session) -> Session {
    let mut s = Session::new(caller.id, true);
    s.user = caller.user.clone();
    s.db = caller.db;
    s.local = caller.local;
    s.blocking.deny = true;
    s
}

/// What `redis.call` needs while one script runs.
struct Caller<'a> {
    st: &'a mut State,
    sess: &'a mut Session,
    now: u64,
    read_only: bool,
    /// Memory was over `maxmemory` when the script started.
    oom: bool,
    watch: Option<vm::Watch>,
}

/// Run `func` with KEYS and ARGV set: `(true, value)` it returned, `(false, error
/// table)` it raised.
fn execute(
    call: &mut Caller,
    func: Function,
    keys: &[Bytes],
    argv: &[Bytes],
) -> mlua::Result<(bool, Value)> {
    let scripts = &call.st.scripts;
    let lua = scripts.vm.lua.clone();
    let bridge = scripts.vm.bridge.clone();
    let redis = scripts.vm.redis.clone();
    let xpcall = scripts.vm.xpcall.clone();
    let handler = scripts.vm.handler.clone();
    let watch = scripts.vm.watch.clone();
    let globals = lua.globals();
    globals.raw_set("KEYS", strings(&lua, keys)?)?;
    globals.raw_set("ARGV", strings(&lua, argv)?)?;
    bridge.raw_set("resp", 2)?;
    bridge.raw_set("raised", Value::Nil)?;
    watch.start(call.st.config.busy_reply_threshold);
    call.watch = Some(watch);
    // Both closures need the caller; they never run at the same time.
    let call = std::cell::RefCell::new(call);
    lua.scope(|scope| {
        let pcall = scope.create_function(|lua, args: MultiValue| {
            let resp3 = bridge.raw_get::<i64>("resp")? == 3;
            redis_call(lua, &mut call.borrow_mut(), args, resp3)
        })?;
        // `redis.call` raises the error table (through `bridge.raised`: see `vm::Vm`).
        let raising = scope.create_function(|lua, args: MultiValue| {
            let resp3 = bridge.raw_get::<i64>("resp")? == 3;
            let v = redis_call(lua, &mut call.borrow_mut(), args, resp3)?;
            if let Value::Table(t) = &v {
                if let Value::String(e) = t.raw_get::<Value>("err")? {
                    let text = e.to_string_lossy();
                    bridge.raw_set("raised", t.clone())?;
                    return Err(mlua::Error::RuntimeError(text));
                }
            }
            Ok(v)
        })?;
        redis.raw_set("call", raising)?;
        redis.raw_set("pcall", pcall)?;
        let r = xpcall.call::<(bool, Value)>((func, handler));
        redis.raw_set("call", Value::Nil)?;
        redis.raw_set("pcall", Value::Nil)?;
        r
    })
}

fn strings(lua: &mlua::Lua, items: &[Bytes]) -> mlua::Result<mlua::Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, s) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(s)?)?;
    }
    Ok(t)
}

/// The reply for a script that raised `err` (the handler's table): Redis's
/// `<error> script: <sha>, on @user_script:<line>.`
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
    call: &mut &mut Caller,
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
            Value::Number(n) => argv.push(Bytes::from(format_g17(n))),
            _ => return err(ARG_TYPES),
        }
    }
    let mut out = ReplyBuf::new(resp3);
    call.sess.resp3 = resp3;
    match script_command(call, argv, &mut out) {
        Err(refusal) => err(&refusal),
        Ok(()) => match Frame::decode(out.as_bytes(), usize::MAX) {
            Ok(Some((frame, _))) => convert::frame_to_lua(lua, frame),
            _ => err("ERR the command gave no reply"),
        },
    }
}

/// C's `%.17g`: 17 significant digits, trailing zeros dropped, scientific notation
/// below 1e-4 or from 1e17 on.
fn format_g17(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{x:.16e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent");
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..17).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        trim(&format!("{x:.*}", (16 - exp) as usize))
    }
}

const ARG_TYPES: &str = "ERR Lua redis lib command arguments must be strings or integers";

/// Check and run one command for a script, with Redis's refusals (in Redis's order).
fn script_command(call: &mut Caller, args: Vec<Bytes>, out: &mut ReplyBuf) -> Result<(), String> {
    let st = &mut *call.st;
    let Some(spec) = lookup(&args[0]) else {
        return Err("ERR Unknown Redis command called from script".into());
    };
    if !spec.arity_ok(args.len()) {
        return Err("ERR Wrong number of args calling Redis command from script".into());
    }
    if spec.has(flag::NOSCRIPT) || noscript_subcommand(spec.name, &args) {
        return Err("ERR This Redis command is not allowed from script".into());
    }
    if spec.has(flag::CONTAINER) {
        if let Some((_, msg)) = spec.subcommand_refusal(&args) {
            return Err(msg);
        }
    }
    if let Err(denied) = st.acl.check(&call.sess.user, spec, &args) {
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
    let wrote = call.watch.as_ref().is_some_and(|w| w.has_written());
    if call.oom && !wrote && spec.has(flag::DENYOOM) {
        return Err(super::OOM.into());
    }
    if spec.is_write() {
        if let Some(w) = &call.watch {
            w.wrote();
        }
    }
    super::run_for_script(st, call.sess, spec, &args, out, call.now);
    Ok(())
}

/// Containers whose subcommands Redis marks `noscript`, all but HELP (the table keeps
/// flags per command, not per subcommand).
fn noscript_subcommand(name: &str, args: &[Bytes]) -> bool {
    matches!(name, "client" | "config" | "latency" | "script" | "acl")
        && !args.get(1).is_some_and(|s| s.eq_ignore_ascii_case(b"help"))
}

// ---- SCRIPT -------------------------------------------------------------------------

pub fn script(ctx: &mut Ctx) {
    let sub = ctx.args[1].to_ascii_lowercase();
    match sub.as_slice() {
        b"load" => match ctx.st.scripts.load(&ctx.args[2]) {
            Ok(sha) => ctx.out.bulk(sha.as_bytes()),
            Err(e) => ctx.error(&e),
        },
        b"exists" => {
            ctx.out.array_len(ctx.args.len() - 2);
            for i in 2..ctx.args.len() {
                let sha = String::from_utf8_lossy(&ctx.args[i]).to_ascii_lowercase();
                let known = ctx.st.scripts.cache.contains_key(&sha);
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

#[cfg(test)]
mod tests {
    use super::format_g17;

    #[test]
    fn numbers_format_as_c_percent_17g() {
        for (x, want) in [
            (0.1, "0.10000000000000001"),
            (1.0 / 3.0, "0.33333333333333331"),
            (3.0, "3"),
            (1e20, "1e+20"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (-2.5, "-2.5"),
        ] {
            assert_eq!(format_g17(x), want, "{x}");
        }
    }
}
