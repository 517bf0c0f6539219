//! Functions (Redis 7.0): libraries of named Lua functions, loaded once with FUNCTION LOAD
//! and called by name with FCALL / FCALL_RO. Unlike the script cache they are part of the
//! dataset: FUNCTION LOAD, DELETE, FLUSH and RESTORE are logged as they were received
//! (replaying one loads the same library again), and snapshots carry every library's code
//! (see `persistence::snapshot`), so functions survive restarts, log rewrites and DEBUG
//! RELOAD, as in Redis. FLUSHALL leaves them alone, as in Redis.
//!
//! A library is its code, whose first line names it: `#!lua name=<library>`. Loading runs
//! the code once, in an environment where only `redis.register_function`, `redis.log` and
//! the version constants exist (Redis's loading API), under a 500 ms limit; each
//! registered function is then called with its keys and arguments as two tables.
//! Function names are unique across libraries and compared without case; library names
//! keep their case.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use mlua::{MultiValue, Value};

use super::vm::{self, Kind, Vm};
use super::{Flags, Invocation};
use crate::command::Ctx;
use crate::keyspace::dump;

/// The function flags Redis 7.0 knows, in the order FUNCTION LIST shows them.
const FLAG_NAMES: [&str; 5] = [
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// Every loaded library and the interpreter their functions live in.
pub struct Functions {
    vm: Arc<Vm>,
    /// By name (case kept; iteration order is FUNCTION LIST's).
    libraries: BTreeMap<String, Library>,
    /// Lower-cased function name -> the function (FCALL's lookup).
    index: HashMap<String, Arc<Func>>,
    /// Bytes of the libraries' code (INFO `used_memory_functions`).
    code_bytes: usize,
}

struct Library {
    code: Bytes,
    /// Sorted by lower-cased name.
    funcs: Vec<Arc<Func>>,
}

/// One registered function.
pub struct Func {
    pub name: String,
    pub library: String,
    callback: Arc<vm::Stored>,
    /// Bits of [`FLAG_NAMES`].
    flags: u8,
    description: Option<String>,
}

impl Func {
    fn runner_flags(&self) -> Flags {
        Flags {
            no_writes: self.flags & 1 != 0,
            allow_oom: self.flags & 2 != 0,
        }
    }
}

impl Default for Functions {
    fn default() -> Self {
        Functions {
            // As for scripts: failing to set up fixed code means no memory at all.
            vm: Arc::new(Vm::new(Kind::Functions).expect("create the Lua interpreter")),
            libraries: BTreeMap::new(),
            index: HashMap::new(),
            code_bytes: 0,
        }
    }
}

impl std::fmt::Debug for Functions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Functions")
            .field("libraries", &self.libraries.len())
            .field("functions", &self.index.len())
            .finish()
    }
}

/// What a library's first line says.
struct Metadata<'a> {
    name: String,
    engine: String,
    /// The code after the first line, from its newline on (so line numbers stay).
    body: &'a [u8],
}

/// Read `#!<engine> name=<library>` as Redis 7.0 does, with its errors.
fn metadata(code: &[u8]) -> Result<Metadata<'_>, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = memchr::memchr(b'\n', code) else {
        return Err("ERR Invalid library metadata".into());
    };
    let line = String::from_utf8_lossy(&code[2..end]);
    let mut parts = line.split_ascii_whitespace();
    let engine = parts.next().unwrap_or_default().to_string();
    let mut name = None;
    for part in parts {
        match part.get(..5) {
            Some(key) if key.eq_ignore_ascii_case("name=") => {
                if name.is_some() {
                    return Err(
                        "ERR Invalid metadata value, name argument was given multiple times".into(),
                    );
                }
                name = Some(part[5..].to_string());
            }
            _ => return Err(format!("ERR Invalid metadata value given: {part}")),
        }
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    Ok(Metadata {
        name,
        engine,
        body: &code[end..],
    })
}

/// [`metadata`], then the library name and the engine checked, with Redis's errors.
fn checked_metadata(code: &[u8]) -> Result<Metadata<'_>, String> {
    let md = metadata(code)?;
    if !valid_name(md.name.as_bytes()) {
        return Err(format!("ERR {BAD_NAME}"));
    }
    if !md.engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{}' not found", md.engine));
    }
    Ok(md)
}

/// Redis's rule for library and function names.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Redis words a bad function name as a bad library name; so does Strata.
const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// What `redis.register_function` was given, checked.
struct Registration {
    name: String,
    callback: vm::Stored,
    flags: u8,
    description: Option<String>,
}

fn lua_err<T>(msg: &str) -> mlua::Result<T> {
    Err(mlua::Error::RuntimeError(msg.into()))
}

/// A Lua string or number as text (Lua's `lua_isstring`), else `None`.
fn text(lua: &mlua::Lua, v: &Value) -> mlua::Result<Option<String>> {
    Ok(match v {
        Value::String(_) | Value::Integer(_) | Value::Number(_) => {
            lua.coerce_string(v.clone())?.map(|s| s.to_string_lossy())
        }
        _ => None,
    })
}

/// `redis.register_function(name, callback)` or `redis.register_function{function_name=,
/// callback=, flags=, description=}`, with Redis 7.0's checks and messages.
fn registration(lua: &mlua::Lua, args: MultiValue) -> mlua::Result<Registration> {
    let args: Vec<Value> = args.into_iter().collect();
    let mut flags = 0u8;
    let mut description = None;
    let (name, callback) = match &args[..] {
        [Value::Table(t)] => {
            let mut name = None;
            let mut callback = None;
            for pair in t.clone().pairs::<Value, Value>() {
                let (k, v) = pair?;
                let Some(key) = text(lua, &k)? else {
                    return lua_err("named argument key given to redis.register_function is not a string");
                };
                match key.as_str() {
                    "function_name" => match text(lua, &v)? {
                        Some(n) => name = Some(n),
                        None => return lua_err("function_name argument given to redis.register_function must be a string"),
                    },
                    "description" => match text(lua, &v)? {
                        Some(d) => description = Some(d),
                        None => return lua_err("description argument given to redis.register_function must be a string"),
                    },
                    "callback" => match v {
                        Value::Function(f) => callback = Some(f),
                        _ => return lua_err("callback argument given to redis.register_function must be a function"),
                    },
                    "flags" => {
                        let Value::Table(list) = v else {
                            return lua_err("flags argument to redis.register_function must be a table representing function flags");
                        };
                        for f in list.sequence_values::<Value>() {
                            let f = text(lua, &f?)?.unwrap_or_default();
                            match FLAG_NAMES.iter().position(|n| *n == f) {
                                Some(i) => flags |= 1 << i,
                                None => return lua_err("unknown flag given"),
                            }
                        }
                    }
                    _ => return lua_err("unknown argument given to redis.register_function"),
                }
            }
            let Some(name) = name else {
                return lua_err("redis.register_function must get a function name argument");
            };
            let Some(callback) = callback else {
                return lua_err("redis.register_function must get a callback argument");
            };
            (name, callback)
        }
        [_] => return lua_err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."),
        [n, f] => {
            let Some(name) = text(lua, n)? else {
                return lua_err("first argument to redis.register_function must be a string");
            };
            let Value::Function(f) = f else {
                return lua_err("second argument to redis.register_function must be a function");
            };
            (name, f.clone())
        }
        _ => return lua_err("wrong number of arguments to redis.register_function"),
    };
    if !valid_name(name.as_bytes()) {
        return lua_err(BAD_NAME);
    }
    Ok(Registration {
        name,
        callback: vm::Stored::new(lua, callback)?,
        flags,
        description,
    })
}

/// How FUNCTION RESTORE treats libraries that exist already.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Policy {
    Append,
    Replace,
    Flush,
}

impl Functions {
    pub fn library_count(&self) -> usize {
        self.libraries.len()
    }

    pub fn function_count(&self) -> usize {
        self.index.len()
    }

    /// Bytes the interpreter holds (INFO `used_memory_vm_functions`).
    pub fn vm_bytes(&self) -> usize {
        self.vm.lua.used_memory()
    }

    pub fn code_bytes(&self) -> usize {
        self.code_bytes
    }

    /// Every library's code, in name order: what a snapshot keeps and FUNCTION DUMP
    /// writes.
    pub fn codes(&self) -> Vec<Bytes> {
        self.libraries.values().map(|l| l.code.clone()).collect()
    }

    /// The names of every function, in name order.
    pub fn names(&self) -> Vec<String> {
        self.libraries
            .values()
            .flat_map(|l| l.funcs.iter().map(|f| f.name.clone()))
            .collect()
    }

    /// The function FCALL names (any case).
    pub fn find(&self, name: &[u8]) -> Option<Arc<Func>> {
        let name = std::str::from_utf8(name).ok()?;
        self.index.get(&name.to_ascii_lowercase()).cloned()
    }

    /// Test harnesses only, as [`super::Scripts::set_hard_limit`].
    #[doc(hidden)]
    pub fn set_hard_limit(&self, limit: Option<std::time::Duration>) {
        self.vm.watch.set_hard_limit(limit);
    }

    /// Compile and run the code of library `md` read from `code` (within the load time
    /// limit if `limited`), returning its name and functions; nothing is installed (the
    /// caller checks collisions first).
    fn prepare(
        &self,
        code: &[u8],
        md: Metadata<'_>,
        limited: bool,
    ) -> Result<(String, Library), String> {
        let chunk = self
            .vm
            .compile(md.body)
            .map_err(|m| format!("ERR Error compiling function: {m}"))?;
        let env = self.vm.env.as_ref().expect("the function interpreter");
        let mut regs: Vec<Registration> = Vec::new();
        let ran = self.vm.lua.scope(|scope| {
            let register = scope.create_function_mut(|lua, args: MultiValue| {
                let r = registration(lua, args)?;
                // (Within a library Redis compares names with their case.)
                if regs.iter().any(|o| o.name == r.name) {
                    return lua_err::<()>("Function already exists in the library");
                }
                regs.push(r);
                Ok(())
            })?;
            env.load_redis.raw_set("register_function", register)?;
            let ran = self.vm.run_library(&chunk, limited);
            env.load_redis.raw_set("register_function", Value::Nil)?;
            ran
        });
        match ran {
            Ok((true, _)) => {}
            Ok((false, Value::Table(t))) => {
                let e: String = t.raw_get("err").unwrap_or_default();
                return Err(format!("ERR Error registering functions: {e}"));
            }
            Ok((false, other)) => {
                let e = other.to_string().unwrap_or_default();
                return Err(format!("ERR Error registering functions: {e}"));
            }
            Err(e) => {
                return Err(format!(
                    "ERR Error registering functions: {}",
                    vm::message(&e)
                ))
            }
        }
        if regs.is_empty() {
            return Err("ERR No functions registered".into());
        }
        regs.sort_by_key(|r| r.name.to_ascii_lowercase());
        let funcs = regs
            .into_iter()
            .map(|r| {
                Arc::new(Func {
                    name: r.name,
                    library: md.name.clone(),
                    callback: Arc::new(r.callback),
                    flags: r.flags,
                    description: r.description,
                })
            })
            .collect();
        let lib = Library {
            code: Bytes::copy_from_slice(code),
            funcs,
        };
        Ok((md.name, lib))
    }

    /// A function of `lib` whose name another library (not among `replaced`) has.
    fn collision(&self, lib: &Library, replaced: &[&str]) -> Option<String> {
        lib.funcs.iter().find_map(|f| {
            let owner = self.index.get(&f.name.to_ascii_lowercase())?;
            (!replaced.contains(&owner.library.as_str()))
                .then(|| format!("ERR Function {} already exists", f.name))
        })
    }

    fn install(&mut self, name: String, lib: Library) {
        self.remove(&name);
        for f in &lib.funcs {
            // Names differing only in case within one library: FCALL finds the first
            // registered, as in Redis.
            self.index
                .entry(f.name.to_ascii_lowercase())
                .or_insert_with(|| f.clone());
        }
        self.code_bytes += lib.code.len();
        self.libraries.insert(name, lib);
    }

    fn remove(&mut self, name: &str) -> bool {
        let Some(old) = self.libraries.remove(name) else {
            return false;
        };
        for f in &old.funcs {
            self.index.remove(&f.name.to_ascii_lowercase());
        }
        self.code_bytes -= old.code.len();
        drop(old);
        self.vm.release_dropped();
        true
    }

    /// FUNCTION LOAD: returns the library's name. `limited`: the code's run is stopped
    /// after 500 ms (a client's FUNCTION LOAD; not replay, which must load what was
    /// accepted).
    pub fn load(&mut self, code: &[u8], replace: bool, limited: bool) -> Result<String, String> {
        // Redis's order: metadata, names and engine, an existing library, then the code.
        let md = checked_metadata(code)?;
        if self.libraries.contains_key(&md.name) && !replace {
            return Err(format!("ERR Library '{}' already exists", md.name));
        }
        let (name, lib) = self.prepare(code, md, limited)?;
        if let Some(e) = self.collision(&lib, &[&name]) {
            return Err(e);
        }
        self.install(name.clone(), lib);
        Ok(name)
    }

    /// Load the libraries a snapshot kept (into an empty registry), without the time
    /// limit (`limited` for FUNCTION RESTORE).
    pub fn load_all(&mut self, codes: &[Vec<u8>], limited: bool) -> Result<(), String> {
        for code in codes {
            self.load(code, false, limited)?;
        }
        Ok(())
    }

    /// FUNCTION RESTORE: every library of `codes`, all or none.
    fn restore(&mut self, codes: &[Vec<u8>], policy: Policy, limited: bool) -> Result<(), String> {
        if policy == Policy::Flush {
            let mut fresh = Functions::default();
            fresh.set_hard_limit(self.vm.watch.hard_limit());
            fresh.load_all(codes, limited)?;
            *self = fresh;
            return Ok(());
        }
        let mut staged: Vec<(String, Library)> = Vec::new();
        for code in codes {
            let (name, lib) = self.prepare(code, checked_metadata(code)?, limited)?;
            if staged.iter().any(|(n, _)| *n == name) {
                return Err(format!("ERR Library '{name}' already exists"));
            }
            let clash = staged.iter().flat_map(|(_, l)| &l.funcs).find(|o| {
                lib.funcs
                    .iter()
                    .any(|f| f.name.eq_ignore_ascii_case(&o.name))
            });
            if let Some(f) = clash {
                return Err(format!("ERR Function {} already exists", f.name));
            }
            staged.push((name, lib));
        }
        let mut replaced = Vec::new();
        for (name, _) in &staged {
            if self.libraries.contains_key(name) {
                if policy == Policy::Append {
                    return Err(format!("ERR Library {name} already exists"));
                }
                replaced.push(name.as_str());
            }
        }
        for (_, lib) in &staged {
            if let Some(e) = self.collision(lib, &replaced) {
                return Err(e);
            }
        }
        for (name, lib) in staged {
            self.install(name, lib);
        }
        Ok(())
    }

    /// Drop every library (FUNCTION FLUSH; DEBUG RELOAD before loading them back).
    pub fn clear(&mut self) {
        let hard = self.vm.watch.hard_limit();
        *self = Functions::default();
        self.set_hard_limit(hard);
    }
}

// ---- FCALL ----------------------------------------------------------------------------

pub fn fcall(ctx: &mut Ctx) {
    call(ctx, false)
}

pub fn fcall_ro(ctx: &mut Ctx) {
    call(ctx, true)
}

fn call(ctx: &mut Ctx, read_only: bool) {
    super::feed_monitor(ctx);
    let Some(func) = ctx.st.functions.find(&ctx.args[1]) else {
        return ctx.error("ERR Function not found");
    };
    let Some(n) = crate::util::parse_i64_strict(&ctx.args[2]) else {
        return ctx.error("ERR Bad number of keys provided");
    };
    let Some(nkeys) = super::keys_in_range(ctx, n) else {
        return;
    };
    let vm = ctx.st.functions.vm.clone();
    super::invoke(
        ctx,
        Invocation {
            vm,
            func: func.callback.clone(),
            flags: Some(func.runner_flags()),
            name: &func.name,
            nkeys,
            read_only,
        },
    );
}

// ---- FUNCTION -------------------------------------------------------------------------

pub fn function(ctx: &mut Ctx) {
    let sub = ctx.args[1].to_ascii_lowercase();
    match sub.as_slice() {
        b"load" => load_command(ctx),
        b"delete" => {
            if !may_write(ctx, false) {
                return;
            }
            let name = String::from_utf8_lossy(&ctx.args[2]).into_owned();
            if !ctx.st.functions.remove(&name) {
                return ctx.error("ERR Library not found");
            }
            changed(ctx);
        }
        b"flush" => {
            match ctx.args.get(2).map(|a| a.to_ascii_lowercase()).as_deref() {
                None | Some(b"sync") | Some(b"async") if ctx.args.len() <= 3 => {}
                Some(_) if ctx.args.len() == 3 => {
                    return ctx.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
                }
                _ => return syntax(ctx),
            }
            if !may_write(ctx, false) {
                return;
            }
            ctx.st.functions.clear();
            changed(ctx);
        }
        b"restore" => restore_command(ctx),
        b"dump" => {
            let codes = ctx.st.functions.codes();
            let payload = dump::encode_functions(codes.iter().map(|c| c.as_ref()));
            ctx.out.bulk(&payload);
        }
        b"list" => list_command(ctx),
        b"stats" => {
            let f = &ctx.st.functions;
            let (libs, funcs) = (f.library_count() as i64, f.function_count() as i64);
            let out = &mut *ctx.out;
            out.map_len(2);
            out.bulk(b"running_script");
            out.null();
            out.bulk(b"engines");
            out.map_len(1);
            out.bulk(b"LUA");
            out.map_len(2);
            out.bulk(b"libraries_count");
            out.int(libs);
            out.bulk(b"functions_count");
            out.int(funcs);
        }
        // A function runs to its end before any other command is read (as scripts do).
        b"kill" => ctx.error("NOTBUSY No scripts in execution right now."),
        _ => ctx.help(HELP),
    }
}

/// Redis's reply for extra arguments, naming the subcommand as the client wrote it.
fn syntax(ctx: &mut Ctx) {
    let sub = String::from_utf8_lossy(&ctx.args[1]).into_owned();
    ctx.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try FUNCTION HELP."
    ))
}

/// The checks Redis's `write` (and, with `grows`, `denyoom`) flags give FUNCTION's
/// subcommands that change libraries: refused while the log refuses writes, or (those
/// that add code) above `maxmemory`. Replaying the log skips them.
fn may_write(ctx: &mut Ctx, grows: bool) -> bool {
    if ctx.st.replaying {
        return true;
    }
    if let Some(refusal) = ctx.st.write_refusal.clone() {
        ctx.error(&refusal);
        return false;
    }
    if grows && ctx.st.config.maxmemory > 0 && crate::command::evict::over_limit(ctx.st) {
        ctx.error(crate::command::OOM);
        return false;
    }
    true
}

/// Libraries changed: log the command as received, count a change, reply OK.
fn changed(ctx: &mut Ctx) {
    ctx.propagate_self();
    ctx.st.dirty += 1;
    ctx.out.ok();
}

fn load_command(ctx: &mut Ctx) {
    let last = ctx.args.len() - 1;
    if let Some(opt) = ctx.args[2..last]
        .iter()
        .find(|a| !a.eq_ignore_ascii_case(b"replace"))
    {
        let opt = String::from_utf8_lossy(opt).into_owned();
        return ctx.error(&format!("ERR Unknown option given: {opt}"));
    }
    let replace = last > 2;
    if !may_write(ctx, true) {
        return;
    }
    let code = ctx.args[last].clone();
    let limited = !ctx.st.replaying;
    match ctx.st.functions.load(&code, replace, limited) {
        Ok(name) => {
            ctx.propagate_self();
            ctx.st.dirty += 1;
            ctx.out.bulk(name.as_bytes());
        }
        Err(e) => ctx.error(&e),
    }
}

fn restore_command(ctx: &mut Ctx) {
    let policy =
        match ctx.args.get(3).map(|a| a.to_ascii_lowercase()).as_deref() {
            _ if ctx.args.len() > 4 => return syntax(ctx),
            None | Some(b"append") => Policy::Append,
            Some(b"replace") => Policy::Replace,
            Some(b"flush") => Policy::Flush,
            Some(_) => return ctx.error(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ),
        };
    let codes = match dump::decode_functions(&ctx.args[2]) {
        Ok(c) => c,
        Err(e) => return ctx.error(&format!("ERR {e}")),
    };
    if !may_write(ctx, true) {
        return;
    }
    let limited = !ctx.st.replaying;
    match ctx.st.functions.restore(&codes, policy, limited) {
        Ok(()) => changed(ctx),
        Err(e) => ctx.error(&e),
    }
}

fn list_command(ctx: &mut Ctx) {
    let mut pattern: Option<Bytes> = None;
    let mut with_code = false;
    let mut i = 2;
    while i < ctx.args.len() {
        let a = &ctx.args[i];
        if a.eq_ignore_ascii_case(b"withcode") && !with_code {
            with_code = true;
        } else if a.eq_ignore_ascii_case(b"libraryname") && pattern.is_none() {
            let Some(p) = ctx.args.get(i + 1) else {
                return ctx.error("ERR library name argument was not given");
            };
            pattern = Some(p.clone());
            i += 1;
        } else {
            let a = String::from_utf8_lossy(a).into_owned();
            return ctx.error(&format!("ERR Unknown argument {a}"));
        }
        i += 1;
    }
    let f = &ctx.st.functions;
    let libs: Vec<(&String, &Library)> = f
        .libraries
        .iter()
        .filter(|(name, _)| {
            pattern
                .as_ref()
                .is_none_or(|p| crate::util::glob_match(p, name.as_bytes(), false))
        })
        .collect();
    let out = &mut *ctx.out;
    out.array_len(libs.len());
    for (name, lib) in libs {
        out.map_len(3 + usize::from(with_code));
        out.bulk(b"library_name");
        out.bulk(name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array_len(lib.funcs.len());
        for func in &lib.funcs {
            out.map_len(3);
            out.bulk(b"name");
            out.bulk(func.name.as_bytes());
            out.bulk(b"description");
            match &func.description {
                Some(d) => out.bulk(d.as_bytes()),
                None => out.null(),
            }
            out.bulk(b"flags");
            let flags: Vec<&str> = FLAG_NAMES
                .iter()
                .enumerate()
                .filter(|(i, _)| func.flags & (1 << i) != 0)
                .map(|(_, n)| *n)
                .collect();
            // (Status strings, as Redis sends them.)
            out.set_len(flags.len());
            for flag in flags {
                out.simple(flag);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
}

const HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];
