//! The command table: name, arity, flags, key positions and handler of every command.
//! COMMAND INFO/DOCS/COUNT and the dispatcher read it; nothing else lists commands.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{
    acl, bitmaps, dump, geo, hashes, hyperloglog, keys, latency, lists, monitor, pubsub, scripting,
    server, sets, slowlog, sort, streams, strings, transactions, wait, zsets, Ctx,
};

pub type Handler = fn(&mut Ctx);

pub struct Spec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: exact argument count including the name, or `-n` for "at least n".
    pub arity: i32,
    /// Space-separated Redis flags (`write readonly denyoom fast admin no_auth ...`).
    pub flags: &'static str,
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    /// Redis ACL category / COMMAND DOCS group (`string`, `keyspace`, `server`, ...).
    pub group: &'static str,
    pub summary: &'static str,
    pub handler: Handler,
    /// The [`flag`] bits of `flags`, parsed when the table is compiled: the dispatcher
    /// asks several of them for every command.
    pub bits: u32,
    /// A container command's subcommands (name, Redis arity), which the dispatcher
    /// checks before the command runs or is queued, as Redis does; empty for the others
    /// (ACL and DEBUG parse their own).
    pub subs: &'static [(&'static str, i32)],
}

/// Bits of [`Spec::bits`], one per Redis flag the server acts on.
pub mod flag {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const FAST: u32 = 1 << 3;
    pub const ADMIN: u32 = 1 << 4;
    pub const NO_AUTH: u32 = 1 << 5;
    pub const NO_MULTI: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const BLOCKING: u32 = 1 << 8;
    pub const SKIP_SLOWLOG: u32 = 1 << 9;
    /// Not a Redis flag: the command has [`super::Spec::subs`] for the dispatcher to
    /// check (a bit, so that the check costs no extra load per command).
    pub const CONTAINER: u32 = 1 << 10;
    pub const NOSCRIPT: u32 = 1 << 11;
    pub const SKIP_MONITOR: u32 = 1 << 12;

    pub(super) const NAMES: &[(&str, u32)] = &[
        ("write", WRITE),
        ("readonly", READONLY),
        ("denyoom", DENYOOM),
        ("fast", FAST),
        ("admin", ADMIN),
        ("no_auth", NO_AUTH),
        ("no_multi", NO_MULTI),
        ("loading", LOADING),
        ("blocking", BLOCKING),
        ("skip_slowlog", SKIP_SLOWLOG),
        ("noscript", NOSCRIPT),
        ("skip_monitor", SKIP_MONITOR),
    ];
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The [`flag`] bits of a space-separated flag list (other words are ignored).
const fn flag_bits(flags: &str) -> u32 {
    let b = flags.as_bytes();
    let mut bits = 0;
    let mut start = 0;
    while start < b.len() {
        let mut end = start;
        while end < b.len() && b[end] != b' ' {
            end += 1;
        }
        let word = b.split_at(end).0.split_at(start).1;
        let mut k = 0;
        while k < flag::NAMES.len() {
            if same(word, flag::NAMES[k].0.as_bytes()) {
                bits |= flag::NAMES[k].1;
            }
            k += 1;
        }
        start = end + 1;
    }
    bits
}

impl Spec {
    pub fn arity_ok(&self, n: usize) -> bool {
        let a = self.arity;
        if a >= 0 {
            n == a as usize
        } else {
            n >= (-a) as usize
        }
    }

    /// Redis's command flags (the `@category` words of `flags` are ACL categories).
    pub fn redis_flags(&self) -> impl Iterator<Item = &'static str> {
        self.flags
            .split_whitespace()
            .filter(|f| !f.starts_with('@'))
    }

    /// Whether `flags` has the word `f` (for flags without a [`flag`] bit; prefer
    /// [`Spec::has`] on hot paths).
    pub fn has_flag(&self, f: &str) -> bool {
        match flag::NAMES.iter().find(|(n, _)| *n == f) {
            Some(&(_, bit)) => self.has(bit),
            None => self.flags.split_whitespace().any(|x| x == f),
        }
    }

    /// Whether any of the [`flag`] bits `bits` is set.
    #[inline]
    pub fn has(&self, bits: u32) -> bool {
        self.bits & bits != 0
    }

    /// Redis's refusal of a container command's subcommand, checked before it runs or
    /// is queued: `(false, message)` for an unknown subcommand (Redis then counts no
    /// command), `(true, message)` for a wrong argument count (counted as a rejected
    /// call of the subcommand).
    pub fn subcommand_refusal(&self, args: &[bytes::Bytes]) -> Option<(bool, String)> {
        let sub = args.get(1).filter(|_| !self.subs.is_empty())?;
        let Some(&(name, arity)) = self
            .subs
            .iter()
            .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(sub))
        else {
            let msg = format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                String::from_utf8_lossy(&sub[..sub.len().min(128)]),
                self.name.to_uppercase()
            );
            return Some((false, msg));
        };
        let n = args.len();
        let ok = if arity >= 0 {
            n == arity as usize
        } else {
            n >= arity.unsigned_abs() as usize
        };
        (!ok).then(|| {
            let msg = format!(
                "ERR wrong number of arguments for '{}|{name}' command",
                self.name
            );
            (true, msg)
        })
    }

    pub fn is_write(&self) -> bool {
        self.has(flag::WRITE)
    }

    pub fn no_auth(&self) -> bool {
        self.has(flag::NO_AUTH)
    }

    /// Commands that act immediately instead of being queued inside MULTI.
    pub fn runs_in_multi(&self) -> bool {
        matches!(
            self.name,
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        )
    }
}

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:literal, $keys:expr, $group:literal, $summary:literal, $h:expr) => {
        Spec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $keys.0,
            last_key: $keys.1,
            step: $keys.2,
            group: $group,
            summary: $summary,
            handler: $h,
            bits: flag_bits($flags)
                | if subcommands_of($name).is_empty() {
                    0
                } else {
                    flag::CONTAINER
                },
            subs: subcommands_of($name),
        }
    };
}

/// The container commands whose subcommands the dispatcher checks.
const CONTAINERS: &[(&str, &[(&str, i32)])] = &[
    ("client", CLIENT_SUBS),
    ("command", COMMAND_SUBS),
    ("config", CONFIG_SUBS),
    ("latency", LATENCY_SUBS),
    ("memory", MEMORY_SUBS),
    ("object", OBJECT_SUBS),
    ("xgroup", XGROUP_SUBS),
    ("xinfo", XINFO_SUBS),
    ("pubsub", PUBSUB_SUBS),
    ("function", FUNCTION_SUBS),
    ("script", SCRIPT_SUBS),
    ("slowlog", SLOWLOG_SUBS),
];

/// [`Spec::subs`] of the command `name`.
const fn subcommands_of(name: &str) -> &'static [(&'static str, i32)] {
    let mut i = 0;
    while i < CONTAINERS.len() {
        if same(name.as_bytes(), CONTAINERS[i].0.as_bytes()) {
            return CONTAINERS[i].1;
        }
        i += 1;
    }
    &[]
}

const XGROUP_SUBS: &[(&str, i32)] = &[
    ("create", -5),
    ("setid", -5),
    ("destroy", 4),
    ("createconsumer", 5),
    ("delconsumer", 5),
    ("help", 2),
];
const XINFO_SUBS: &[(&str, i32)] = &[("stream", -3), ("groups", 3), ("consumers", 4), ("help", 2)];
const OBJECT_SUBS: &[(&str, i32)] = &[
    ("encoding", 3),
    ("freq", 3),
    ("idletime", 3),
    ("refcount", 3),
    ("help", 2),
];
const LATENCY_SUBS: &[(&str, i32)] = &[
    ("latest", 2),
    ("history", 3),
    ("reset", -2),
    ("doctor", 2),
    ("graph", 3),
    ("histogram", -2),
    ("help", 2),
];
const PUBSUB_SUBS: &[(&str, i32)] = &[
    ("channels", -2),
    ("numsub", -2),
    ("numpat", 2),
    ("shardchannels", -2),
    ("shardnumsub", -2),
    ("help", 2),
];
const CLIENT_SUBS: &[(&str, i32)] = &[
    ("id", 2),
    ("getname", 2),
    ("setname", 3),
    ("setinfo", 4),
    ("list", -2),
    ("info", 2),
    ("kill", -3),
    ("no-evict", 3),
    ("reply", 3),
    ("unblock", -3),
    ("no-touch", 3),
    ("pause", -3),
    ("unpause", 2),
    ("tracking", -3),
    ("caching", 3),
    ("trackinginfo", 2),
    ("getredir", 2),
    ("help", 2),
];
const MEMORY_SUBS: &[(&str, i32)] = &[
    ("usage", -3),
    ("stats", 2),
    ("doctor", 2),
    ("malloc-stats", 2),
    ("purge", 2),
    ("help", 2),
];
const CONFIG_SUBS: &[(&str, i32)] = &[
    ("get", -3),
    ("set", -4),
    ("resetstat", 2),
    ("rewrite", 2),
    ("help", 2),
];
const COMMAND_SUBS: &[(&str, i32)] = &[
    ("count", 2),
    ("list", -2),
    ("info", -2),
    ("docs", -2),
    ("getkeys", -4),
    ("getkeysandflags", -4),
    ("help", 2),
];
const FUNCTION_SUBS: &[(&str, i32)] = &[
    ("delete", 3),
    ("dump", 2),
    ("flush", -2),
    ("kill", 2),
    ("list", -2),
    ("load", -3),
    ("restore", -3),
    ("stats", 2),
    ("help", 2),
];
const SCRIPT_SUBS: &[(&str, i32)] = &[
    ("debug", 3),
    ("exists", -3),
    ("flush", -2),
    ("kill", 2),
    ("load", 3),
    ("help", 2),
];
const SLOWLOG_SUBS: &[(&str, i32)] = &[("get", -2), ("len", 2), ("reset", 2), ("help", 2)];

const NOKEY: (i32, i32, i32) = (0, 0, 0);
const KEY1: (i32, i32, i32) = (1, 1, 1);

pub static COMMANDS: &[Spec] = &[
    // connection
    cmd!("ping", -1, "fast stale", NOKEY, "connection", "Returns the server's liveliness response.", server::ping),
    cmd!("echo", 2, "fast", NOKEY, "connection", "Returns the given string.", server::echo),
    cmd!("quit", -1, "no_auth noscript fast stale", NOKEY, "connection", "Closes the connection.", server::quit),
    cmd!("select", 2, "loading stale fast", NOKEY, "connection", "Changes the selected database.", server::select),
    cmd!("auth", -2, "no_auth noscript loading stale fast", NOKEY, "connection", "Authenticates the connection.", server::auth),
    cmd!("hello", -1, "no_auth noscript loading stale fast", NOKEY, "connection", "Handshakes with the Redis server.", server::hello),
    cmd!("client", -2, "loading stale", NOKEY, "connection", "A container for client connection commands.", server::client),
    cmd!("acl", -2, "loading stale", NOKEY, "server", "A container for Access List Control commands.", acl::acl),
    cmd!("reset", 1, "no_auth noscript loading stale fast", NOKEY, "connection", "Resets the connection.", server::reset),
    // server
    cmd!("dbsize", 1, "readonly fast @keyspace", NOKEY, "server", "Returns the number of keys in the database.", server::dbsize),
    cmd!("flushdb", -1, "write @keyspace @dangerous", NOKEY, "server", "Removes all keys from the current database.", server::flushdb),
    cmd!("flushall", -1, "write @keyspace @dangerous", NOKEY, "server", "Removes all keys from all databases.", server::flushall),
    cmd!("swapdb", 3, "write fast @keyspace @dangerous", NOKEY, "server", "Swaps two Redis databases.", server::swapdb),
    cmd!("info", -1, "loading stale @dangerous", NOKEY, "server", "Returns information and statistics about the server.", server::info),
    cmd!("config", -2, "admin loading stale", NOKEY, "server", "A container for server configuration commands.", server::config),
    cmd!("command", -1, "loading stale @connection", NOKEY, "server", "Returns detailed information about all commands.", server::command),
    cmd!("time", 1, "loading stale fast", NOKEY, "server", "Returns the server time.", server::time),
    cmd!("debug", -2, "admin noscript loading stale", NOKEY, "server", "A container for debugging commands.", server::debug),
    cmd!("shutdown", -1, "admin noscript loading stale no_multi", NOKEY, "server", "Synchronously saves the database(s) to disk and shuts down the Redis server.", server::shutdown),
    cmd!("lastsave", 1, "loading stale fast @admin @dangerous", NOKEY, "server", "Returns the Unix timestamp of the last successful save to disk.", server::lastsave),
    cmd!("save", 1, "admin noscript no_multi", NOKEY, "server", "Synchronously saves the database(s) to disk.", server::save),
    cmd!("bgsave", -1, "admin noscript no_multi", NOKEY, "server", "Asynchronously saves the database(s) to disk.", server::bgsave),
    cmd!("bgrewriteaof", 1, "admin noscript no_multi", NOKEY, "server", "Asynchronously rewrites the append-only file to disk.", server::bgrewriteaof),
    cmd!("wait", 3, "noscript @connection", NOKEY, "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", wait::wait),
    cmd!("waitaof", 4, "noscript @connection", NOKEY, "generic", "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the master and/or replicas.", wait::waitaof),
    cmd!("latency", -2, "", NOKEY, "server", "A container for latency diagnostics commands.", latency::latency),
    cmd!("monitor", 1, "admin noscript loading stale", NOKEY, "server", "Listen for all requests received by the server in real time", monitor::monitor),
    cmd!("slowlog", -2, "", NOKEY, "server", "A container for slow log commands.", slowlog::slowlog),
    cmd!("memory", -2, "", NOKEY, "server", "A container for memory diagnostics commands.", server::memory),
    // strings
    cmd!("get", 2, "readonly fast", KEY1, "string", "Returns the string value of a key.", strings::get),
    cmd!("set", -3, "write denyoom", KEY1, "string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", strings::set),
    cmd!("setnx", 3, "write denyoom fast", KEY1, "string", "Set the string value of a key only when the key doesn't exist.", strings::setnx),
    cmd!("setex", 4, "write denyoom", KEY1, "string", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", strings::setex),
    cmd!("psetex", 4, "write denyoom", KEY1, "string", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", strings::psetex),
    cmd!("getset", 3, "write denyoom fast", KEY1, "string", "Returns the previous string value of a key after setting it to a new value.", strings::getset),
    cmd!("getdel", 2, "write fast", KEY1, "string", "Returns the string value of a key after deleting the key.", strings::getdel),
    cmd!("getex", -2, "write fast", KEY1, "string", "Returns the string value of a key after setting its expiration time.", strings::getex),
    cmd!("mget", -2, "readonly fast", (1, -1, 1), "string", "Atomically returns the string values of one or more keys.", strings::mget),
    cmd!("mset", -3, "write denyoom", (1, -1, 2), "string", "Atomically creates or modifies the string values of one or more keys.", strings::mset),
    cmd!("msetnx", -3, "write denyoom", (1, -1, 2), "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.", strings::msetnx),
    cmd!("append", 3, "write denyoom fast", KEY1, "string", "Appends a string to the value of a key. Creates the key if it doesn't exist.", strings::append),
    cmd!("strlen", 2, "readonly fast", KEY1, "string", "Returns the length of a string value.", strings::strlen),
    cmd!("getrange", 4, "readonly", KEY1, "string", "Returns a substring of the string stored at a key.", strings::getrange),
    cmd!("substr", 4, "readonly", KEY1, "string", "Returns a substring from a string value.", strings::getrange),
    cmd!("setrange", 4, "write denyoom", KEY1, "string", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", strings::setrange),
    cmd!("incr", 2, "write denyoom fast", KEY1, "string", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", strings::incr),
    cmd!("decr", 2, "write denyoom fast", KEY1, "string", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", strings::decr),
    cmd!("incrby", 3, "write denyoom fast", KEY1, "string", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", strings::incrby),
    cmd!("decrby", 3, "write denyoom fast", KEY1, "string", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", strings::decrby),
    cmd!("incrbyfloat", 3, "write denyoom fast", KEY1, "string", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", strings::incrbyfloat),
    cmd!("lcs", -3, "readonly", (1, 2, 1), "string", "Finds the longest common substring.", strings::lcs),
    // bitmaps
    cmd!("setbit", 4, "write denyoom", KEY1, "bitmap", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", bitmaps::setbit),
    cmd!("getbit", 3, "readonly fast", KEY1, "bitmap", "Returns a bit value by offset.", bitmaps::getbit),
    cmd!("bitcount", -2, "readonly", KEY1, "bitmap", "Counts the number of set bits (population counting) in a string.", bitmaps::bitcount),
    cmd!("bitpos", -3, "readonly", KEY1, "bitmap", "Finds the first set (1) or clear (0) bit in a string.", bitmaps::bitpos),
    cmd!("bitop", -4, "write denyoom", (2, -1, 1), "bitmap", "Performs bitwise operations on multiple strings, and stores the result.", bitmaps::bitop),
    cmd!("bitfield", -2, "write denyoom", KEY1, "bitmap", "Performs arbitrary bitfield integer operations on strings.", bitmaps::bitfield),
    cmd!("bitfield_ro", -2, "readonly fast", KEY1, "bitmap", "Performs arbitrary read-only bitfield integer operations on strings.", bitmaps::bitfield_ro),
    // hyperloglog
    cmd!("pfadd", -2, "write denyoom fast", KEY1, "hyperloglog", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.", hyperloglog::pfadd),
    cmd!("pfcount", -2, "readonly", (1, -1, 1), "hyperloglog", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).", hyperloglog::pfcount),
    cmd!("pfmerge", -2, "write denyoom", (1, -1, 1), "hyperloglog", "Merges one or more HyperLogLog values into a single key.", hyperloglog::pfmerge),
    // geo
    cmd!("geoadd", -5, "write denyoom", KEY1, "geo", "Adds one or more members to a geospatial index. The key is created if it doesn't exist.", geo::geoadd),
    cmd!("geopos", -2, "readonly", KEY1, "geo", "Returns the longitude and latitude of members from a geospatial index.", geo::geopos),
    cmd!("geodist", -4, "readonly", KEY1, "geo", "Returns the distance between two members of a geospatial index.", geo::geodist),
    cmd!("geohash", -2, "readonly", KEY1, "geo", "Returns members from a geospatial index as geohash strings.", geo::geohash),
    cmd!("georadius", -6, "write denyoom movablekeys", KEY1, "geo", "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.", geo::georadius),
    cmd!("georadius_ro", -6, "readonly", KEY1, "geo", "Returns members from a geospatial index that are within a distance from a coordinate.", geo::georadius_ro),
    cmd!("georadiusbymember", -5, "write denyoom movablekeys", KEY1, "geo", "Queries a geospatial index for members within a distance from a member, optionally stores the result.", geo::georadiusbymember),
    cmd!("georadiusbymember_ro", -5, "readonly", KEY1, "geo", "Returns members from a geospatial index that are within a distance from a member.", geo::georadiusbymember_ro),
    cmd!("geosearch", -7, "readonly", KEY1, "geo", "Queries a geospatial index for members inside an area of a box or a circle.", geo::geosearch),
    cmd!("geosearchstore", -8, "write denyoom", (1, 2, 1), "geo", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.", geo::geosearchstore),
    // keys
    cmd!("del", -2, "write", (1, -1, 1), "keyspace", "Deletes one or more keys.", keys::del),
    cmd!("unlink", -2, "write fast", (1, -1, 1), "keyspace", "Asynchronously deletes one or more keys.", keys::unlink),
    cmd!("exists", -2, "readonly fast", (1, -1, 1), "keyspace", "Determines whether one or more keys exist.", keys::exists),
    cmd!("type", 2, "readonly fast", KEY1, "keyspace", "Determines the type of value stored at a key.", keys::type_),
    cmd!("rename", 3, "write", (1, 2, 1), "keyspace", "Renames a key and overwrites the destination.", keys::rename),
    cmd!("renamenx", 3, "write fast", (1, 2, 1), "keyspace", "Renames a key only when the target key name doesn't exist.", keys::renamenx),
    cmd!("keys", 2, "readonly @dangerous", NOKEY, "keyspace", "Returns all key names that match a pattern.", keys::keys),
    cmd!("scan", -2, "readonly", NOKEY, "keyspace", "Iterates over the key names in the database.", keys::scan),
    cmd!("randomkey", 1, "readonly", NOKEY, "keyspace", "Returns a random key name from the database.", keys::randomkey),
    cmd!("touch", -2, "readonly fast", (1, -1, 1), "keyspace", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", keys::touch),
    cmd!("copy", -3, "write denyoom", (1, 2, 1), "keyspace", "Copies the value of a key to a new key.", keys::copy),
    cmd!("dump", 2, "readonly", KEY1, "keyspace", "Returns a serialized representation of the value stored at a key.", dump::dump),
    cmd!("restore", -4, "write denyoom @dangerous", KEY1, "keyspace", "Creates a key from the serialized representation of a value.", dump::restore),
    cmd!("move", 3, "write fast", KEY1, "keyspace", "Moves a key to another database.", keys::move_),
    cmd!("object", -2, "readonly", (2, 2, 1), "keyspace", "A container for object introspection commands.", keys::object),
    cmd!("sort", -2, "write denyoom movablekeys @set @sortedset @list @dangerous", KEY1, "generic", "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.", sort::sort),
    cmd!("sort_ro", -2, "readonly movablekeys @set @sortedset @list @dangerous", KEY1, "generic", "Returns the sorted elements of a list, a set, or a sorted set.", sort::sort_ro),
    cmd!("expire", -3, "write fast", KEY1, "keyspace", "Sets the expiration time of a key in seconds.", keys::expire),
    cmd!("pexpire", -3, "write fast", KEY1, "keyspace", "Sets the expiration time of a key in milliseconds.", keys::pexpire),
    cmd!("expireat", -3, "write fast", KEY1, "keyspace", "Sets the expiration time of a key to a Unix timestamp.", keys::expireat),
    cmd!("pexpireat", -3, "write fast", KEY1, "keyspace", "Sets the expiration time of a key to a Unix milliseconds timestamp.", keys::pexpireat),
    cmd!("ttl", 2, "readonly fast", KEY1, "keyspace", "Returns the expiration time in seconds of a key.", keys::ttl),
    cmd!("pttl", 2, "readonly fast", KEY1, "keyspace", "Returns the expiration time in milliseconds of a key.", keys::pttl),
    cmd!("expiretime", 2, "readonly fast", KEY1, "keyspace", "Returns the expiration time of a key as a Unix timestamp.", keys::expiretime),
    cmd!("pexpiretime", 2, "readonly fast", KEY1, "keyspace", "Returns the expiration time of a key as a Unix milliseconds timestamp.", keys::pexpiretime),
    cmd!("persist", 2, "write fast", KEY1, "keyspace", "Removes the expiration time of a key.", keys::persist),
    // transactions
    cmd!("eval", -3, "noscript stale skip_monitor no_mandatory_keys movablekeys", NOKEY, "scripting", "Executes a server-side Lua script.", scripting::eval),
    cmd!("evalsha", -3, "noscript stale skip_monitor no_mandatory_keys movablekeys", NOKEY, "scripting", "Executes a server-side Lua script by SHA1 digest.", scripting::evalsha),
    cmd!("eval_ro", -3, "readonly noscript stale skip_monitor no_mandatory_keys movablekeys", NOKEY, "scripting", "Executes a read-only server-side Lua script.", scripting::eval_ro),
    cmd!("evalsha_ro", -3, "readonly noscript stale skip_monitor no_mandatory_keys movablekeys", NOKEY, "scripting", "Executes a read-only server-side Lua script by SHA1 digest.", scripting::evalsha_ro),
    cmd!("script", -2, "", NOKEY, "scripting", "A container for Lua scripts management commands.", scripting::script),
    cmd!("fcall", -3, "noscript stale skip_monitor no_mandatory_keys movablekeys", NOKEY, "scripting", "Invokes a function.", scripting::fcall),
    cmd!("fcall_ro", -3, "readonly noscript stale skip_monitor no_mandatory_keys movablekeys", NOKEY, "scripting", "Invokes a read-only function.", scripting::fcall_ro),
    cmd!("function", -2, "", NOKEY, "scripting", "A container for function commands.", scripting::function),
    cmd!("multi", 1, "noscript loading stale fast", NOKEY, "transactions", "Starts a transaction.", transactions::multi),
    cmd!("exec", 1, "noscript loading stale skip_slowlog", NOKEY, "transactions", "Executes all commands in a transaction.", transactions::exec),
    cmd!("discard", 1, "noscript loading stale fast", NOKEY, "transactions", "Discards a transaction.", transactions::discard),
    cmd!("watch", -2, "noscript loading stale fast", (1, -1, 1), "transactions", "Monitors changes to keys to determine the execution of a transaction.", transactions::watch),
    cmd!("unwatch", 1, "noscript loading stale fast", NOKEY, "transactions", "Forgets about watched keys of a transaction.", transactions::unwatch),
    // pubsub
    cmd!("subscribe", -2, "pubsub noscript loading stale", NOKEY, "pubsub", "Listens for messages published to channels.", pubsub::subscribe),
    cmd!("unsubscribe", -1, "pubsub noscript loading stale", NOKEY, "pubsub", "Stops listening to messages posted to channels.", pubsub::unsubscribe),
    cmd!("psubscribe", -2, "pubsub noscript loading stale", NOKEY, "pubsub", "Listens for messages published to channels that match one or more patterns.", pubsub::psubscribe),
    cmd!("punsubscribe", -1, "pubsub noscript loading stale", NOKEY, "pubsub", "Stops listening to messages published to channels that match one or more patterns.", pubsub::punsubscribe),
    cmd!("publish", 3, "pubsub loading stale fast", NOKEY, "pubsub", "Posts a message to a channel.", pubsub::publish),
    cmd!("pubsub", -2, "", NOKEY, "pubsub", "A container for Pub/Sub commands.", pubsub::pubsub),
    // Shard channels sit where cluster keys do (COMMAND INFO says so), but are no keys.
    cmd!("ssubscribe", -2, "pubsub noscript loading stale", (1, -1, 1), "pubsub", "Listens for messages published to shard channels.", pubsub::ssubscribe),
    cmd!("sunsubscribe", -1, "pubsub noscript loading stale", (1, -1, 1), "pubsub", "Stops listening to messages posted to shard channels.", pubsub::sunsubscribe),
    cmd!("spublish", 3, "pubsub loading stale fast", (1, 1, 1), "pubsub", "Post a message to a shard channel", pubsub::spublish),
    // lists
    cmd!("lpush", -3, "write denyoom fast", KEY1, "list", "Prepend one or multiple elements to a list", lists::lpush),
    cmd!("rpush", -3, "write denyoom fast", KEY1, "list", "Append one or multiple elements to a list", lists::rpush),
    cmd!("lpushx", -3, "write denyoom fast", KEY1, "list", "Prepend an element to a list, only if the list exists", lists::lpushx),
    cmd!("rpushx", -3, "write denyoom fast", KEY1, "list", "Append an element to a list, only if the list exists", lists::rpushx),
    cmd!("lpop", -2, "write fast", KEY1, "list", "Remove and get the first elements in a list", lists::lpop),
    cmd!("rpop", -2, "write fast", KEY1, "list", "Remove and get the last elements in a list", lists::rpop),
    cmd!("llen", 2, "readonly fast", KEY1, "list", "Get the length of a list", lists::llen),
    cmd!("lrange", 4, "readonly", KEY1, "list", "Get a range of elements from a list", lists::lrange),
    cmd!("lindex", 3, "readonly", KEY1, "list", "Get an element from a list by its index", lists::lindex),
    cmd!("lset", 4, "write denyoom", KEY1, "list", "Set the value of an element in a list by its index", lists::lset),
    cmd!("linsert", 5, "write denyoom", KEY1, "list", "Insert an element before or after another element in a list", lists::linsert),
    cmd!("lrem", 4, "write", KEY1, "list", "Remove elements from a list", lists::lrem),
    cmd!("ltrim", 4, "write", KEY1, "list", "Trim a list to the specified range", lists::ltrim),
    cmd!("lpos", -3, "readonly", KEY1, "list", "Return the index of matching elements on a list", lists::lpos),
    cmd!("lmove", 5, "write denyoom", (1, 2, 1), "list", "Pop an element from a list, push it to another list and return it", lists::lmove),
    cmd!("rpoplpush", 3, "write denyoom", (1, 2, 1), "list", "Remove the last element in a list, prepend it to another list and return it", lists::rpoplpush),
    cmd!("lmpop", -4, "write movablekeys", NOKEY, "list", "Pop elements from a list", lists::lmpop),
    cmd!("blpop", -3, "write noscript blocking", (1, -2, 1), "list", "Remove and get the first element in a list, or block until one is available", lists::blpop),
    cmd!("brpop", -3, "write noscript blocking", (1, -2, 1), "list", "Remove and get the last element in a list, or block until one is available", lists::brpop),
    cmd!("blmove", 6, "write denyoom noscript blocking", (1, 2, 1), "list", "Pop an element from a list, push it to another list and return it; or block until one is available", lists::blmove),
    cmd!("brpoplpush", 4, "write denyoom noscript blocking", (1, 2, 1), "list", "Pop an element from a list, push it to another list and return it; or block until one is available", lists::brpoplpush),
    cmd!("blmpop", -5, "write blocking movablekeys", NOKEY, "list", "Pop elements from a list, or block until one is available", lists::blmpop),
    // end lists
    // hashes
    cmd!("hset", -4, "write denyoom fast", KEY1, "hash", "Set the string value of a hash field", hashes::hset),
    cmd!("hsetnx", 4, "write denyoom fast", KEY1, "hash", "Set the value of a hash field, only if the field does not exist", hashes::hsetnx),
    cmd!("hget", 3, "readonly fast", KEY1, "hash", "Get the value of a hash field", hashes::hget),
    cmd!("hmget", -3, "readonly fast", KEY1, "hash", "Get the values of all the given hash fields", hashes::hmget),
    cmd!("hmset", -4, "write denyoom fast", KEY1, "hash", "Set multiple hash fields to multiple values", hashes::hmset),
    cmd!("hdel", -3, "write fast", KEY1, "hash", "Delete one or more hash fields", hashes::hdel),
    cmd!("hlen", 2, "readonly fast", KEY1, "hash", "Get the number of fields in a hash", hashes::hlen),
    cmd!("hstrlen", 3, "readonly fast", KEY1, "hash", "Get the length of the value of a hash field", hashes::hstrlen),
    cmd!("hexists", 3, "readonly fast", KEY1, "hash", "Determine if a hash field exists", hashes::hexists),
    cmd!("hkeys", 2, "readonly", KEY1, "hash", "Get all the fields in a hash", hashes::hkeys),
    cmd!("hvals", 2, "readonly", KEY1, "hash", "Get all the values in a hash", hashes::hvals),
    cmd!("hgetall", 2, "readonly", KEY1, "hash", "Get all the fields and values in a hash", hashes::hgetall),
    cmd!("hincrby", 4, "write denyoom fast", KEY1, "hash", "Increment the integer value of a hash field by the given number", hashes::hincrby),
    cmd!("hincrbyfloat", 4, "write denyoom fast", KEY1, "hash", "Increment the float value of a hash field by the given amount", hashes::hincrbyfloat),
    cmd!("hrandfield", -2, "readonly", KEY1, "hash", "Get one or multiple random fields from a hash", hashes::hrandfield),
    cmd!("hscan", -3, "readonly", KEY1, "hash", "Incrementally iterate hash fields and associated values", hashes::hscan),
    // end hashes
    // sets
    cmd!("sadd", -3, "write denyoom fast", KEY1, "set", "Adds one or more members to a set. Creates the key if it doesn't exist.", sets::sadd),
    cmd!("srem", -3, "write fast", KEY1, "set", "Removes one or more members from a set. Deletes the set if the last member was removed.", sets::srem),
    cmd!("smove", 4, "write fast", (1, 2, 1), "set", "Moves a member from one set to another.", sets::smove),
    cmd!("sismember", 3, "readonly fast", KEY1, "set", "Determines whether a member belongs to a set.", sets::sismember),
    cmd!("smismember", -3, "readonly fast", KEY1, "set", "Determines whether multiple members belong to a set.", sets::smismember),
    cmd!("scard", 2, "readonly fast", KEY1, "set", "Returns the number of members in a set.", sets::scard),
    cmd!("spop", -2, "write fast", KEY1, "set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", sets::spop),
    cmd!("srandmember", -2, "readonly", KEY1, "set", "Get one or multiple random members from a set", sets::srandmember),
    cmd!("sinter", -2, "readonly", (1, -1, 1), "set", "Returns the intersect of multiple sets.", sets::sinter),
    cmd!("sintercard", -3, "readonly movablekeys", NOKEY, "set", "Returns the number of members of the intersect of multiple sets.", sets::sintercard),
    cmd!("sinterstore", -3, "write denyoom", (1, -1, 1), "set", "Stores the intersect of multiple sets in a key.", sets::sinterstore),
    cmd!("sunion", -2, "readonly", (1, -1, 1), "set", "Returns the union of multiple sets.", sets::sunion),
    cmd!("sunionstore", -3, "write denyoom", (1, -1, 1), "set", "Stores the union of multiple sets in a key.", sets::sunionstore),
    cmd!("sdiff", -2, "readonly", (1, -1, 1), "set", "Returns the difference of multiple sets.", sets::sdiff),
    cmd!("sdiffstore", -3, "write denyoom", (1, -1, 1), "set", "Stores the difference of multiple sets in a key.", sets::sdiffstore),
    cmd!("smembers", 2, "readonly", KEY1, "set", "Returns all members of a set.", sets::smembers),
    cmd!("sscan", -3, "readonly", KEY1, "set", "Iterates over members of a set.", sets::sscan),
    // end sets
    // sorted sets
    cmd!("zadd", -4, "write denyoom fast", KEY1, "sorted-set", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", zsets::zadd),
    cmd!("zincrby", 4, "write denyoom fast", KEY1, "sorted-set", "Increments the score of a member in a sorted set.", zsets::zincrby),
    cmd!("zrem", -3, "write fast", KEY1, "sorted-set", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", zsets::zrem),
    cmd!("zremrangebyscore", 4, "write", KEY1, "sorted-set", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", zsets::zremrangebyscore),
    cmd!("zremrangebyrank", 4, "write", KEY1, "sorted-set", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", zsets::zremrangebyrank),
    cmd!("zremrangebylex", 4, "write", KEY1, "sorted-set", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", zsets::zremrangebylex),
    cmd!("zunionstore", -4, "write denyoom movablekeys", KEY1, "sorted-set", "Stores the union of multiple sorted sets in a key.", zsets::zunionstore),
    cmd!("zinterstore", -4, "write denyoom movablekeys", KEY1, "sorted-set", "Stores the intersect of multiple sorted sets in a key.", zsets::zinterstore),
    cmd!("zdiffstore", -4, "write denyoom movablekeys", KEY1, "sorted-set", "Stores the difference of multiple sorted sets in a key.", zsets::zdiffstore),
    cmd!("zunion", -3, "readonly movablekeys", NOKEY, "sorted-set", "Returns the union of multiple sorted sets.", zsets::zunion),
    cmd!("zinter", -3, "readonly movablekeys", NOKEY, "sorted-set", "Returns the intersect of multiple sorted sets.", zsets::zinter),
    cmd!("zdiff", -3, "readonly movablekeys", NOKEY, "sorted-set", "Returns the difference between multiple sorted sets.", zsets::zdiff),
    cmd!("zrange", -4, "readonly", KEY1, "sorted-set", "Returns members in a sorted set within a range of indexes.", zsets::zrange),
    cmd!("zrangestore", -5, "write denyoom", (1, 2, 1), "sorted-set", "Stores a range of members from sorted set in a key.", zsets::zrangestore),
    cmd!("zrangebyscore", -4, "readonly", KEY1, "sorted-set", "Returns members in a sorted set within a range of scores.", zsets::zrangebyscore),
    cmd!("zrevrangebyscore", -4, "readonly", KEY1, "sorted-set", "Returns members in a sorted set within a range of scores in reverse order.", zsets::zrevrangebyscore),
    cmd!("zrangebylex", -4, "readonly", KEY1, "sorted-set", "Returns members in a sorted set within a lexicographical range.", zsets::zrangebylex),
    cmd!("zrevrangebylex", -4, "readonly", KEY1, "sorted-set", "Returns members in a sorted set within a lexicographical range in reverse order.", zsets::zrevrangebylex),
    cmd!("zrevrange", -4, "readonly", KEY1, "sorted-set", "Returns members in a sorted set within a range of indexes in reverse order.", zsets::zrevrange),
    cmd!("zcount", 4, "readonly fast", KEY1, "sorted-set", "Returns the count of members in a sorted set that have scores within a range.", zsets::zcount),
    cmd!("zlexcount", 4, "readonly fast", KEY1, "sorted-set", "Returns the number of members in a sorted set within a lexicographical range.", zsets::zlexcount),
    cmd!("zcard", 2, "readonly fast", KEY1, "sorted-set", "Returns the number of members in a sorted set.", zsets::zcard),
    cmd!("zscore", 3, "readonly fast", KEY1, "sorted-set", "Returns the score of a member in a sorted set.", zsets::zscore),
    cmd!("zmscore", -3, "readonly fast", KEY1, "sorted-set", "Returns the score of one or more members in a sorted set.", zsets::zmscore),
    cmd!("zrank", 3, "readonly fast", KEY1, "sorted-set", "Returns the index of a member in a sorted set ordered by ascending scores.", zsets::zrank),
    cmd!("zrevrank", 3, "readonly fast", KEY1, "sorted-set", "Returns the index of a member in a sorted set ordered by descending scores.", zsets::zrevrank),
    cmd!("zscan", -3, "readonly", KEY1, "sorted-set", "Iterates over members and scores of a sorted set.", zsets::zscan),
    cmd!("zpopmin", -2, "write fast", KEY1, "sorted-set", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zsets::zpopmin),
    cmd!("zpopmax", -2, "write fast", KEY1, "sorted-set", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zsets::zpopmax),
    cmd!("bzpopmin", -3, "write noscript blocking fast", (1, -2, 1), "sorted-set", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", zsets::bzpopmin),
    cmd!("xadd", -5, "write denyoom fast", KEY1, "stream", "Appends a new entry to a stream", streams::xadd),
    cmd!("xlen", 2, "readonly fast", KEY1, "stream", "Return the number of entries in a stream", streams::xlen),
    cmd!("xrange", -4, "readonly", KEY1, "stream", "Return a range of elements in a stream, with IDs matching the specified IDs interval", streams::xrange),
    cmd!("xrevrange", -4, "readonly", KEY1, "stream", "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE", streams::xrevrange),
    cmd!("xdel", -3, "write fast", KEY1, "stream", "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.", streams::xdel),
    cmd!("xtrim", -4, "write", KEY1, "stream", "Trims the stream to (approximately if '~' is passed) a certain size", streams::xtrim),
    cmd!("xsetid", -3, "write denyoom fast", KEY1, "stream", "An internal command for replicating stream values", streams::xsetid),
    cmd!("xread", -4, "readonly blocking movablekeys", NOKEY, "stream", "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.", streams::xread),
    cmd!("xreadgroup", -7, "write blocking movablekeys", NOKEY, "stream", "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.", streams::xreadgroup),
    cmd!("xgroup", -2, "", (2, 2, 1), "stream", "A container for consumer groups commands", streams::xgroup),
    cmd!("xack", -4, "write fast", KEY1, "stream", "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.", streams::xack),
    cmd!("xpending", -3, "readonly", KEY1, "stream", "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.", streams::xpending),
    cmd!("xclaim", -6, "write fast", KEY1, "stream", "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.", streams::xclaim),
    cmd!("xautoclaim", -6, "write fast", KEY1, "stream", "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.", streams::xautoclaim),
    cmd!("xinfo", -2, "", (2, 2, 1), "stream", "A container for stream introspection commands", streams::xinfo),
    cmd!("bzpopmax", -3, "write noscript blocking fast", (1, -2, 1), "sorted-set", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise. Deletes the sorted set if the last element was popped.", zsets::bzpopmax),
    cmd!("zmpop", -4, "write movablekeys", NOKEY, "sorted-set", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", zsets::zmpop),
    cmd!("bzmpop", -5, "write blocking movablekeys", NOKEY, "sorted-set", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", zsets::bzmpop),
    cmd!("zintercard", -3, "readonly movablekeys", NOKEY, "sorted-set", "Returns the number of members of the intersect of multiple sorted sets.", zsets::zintercard),
    cmd!("zrandmember", -2, "readonly", KEY1, "sorted-set", "Returns one or more random members from a sorted set.", zsets::zrandmember),
    // end sorted sets
];

/// SSUBSCRIBE, SUNSUBSCRIBE and SPUBLISH: their "keys" are shard channels (Redis's
/// `not_key` key specs): no key permission, tracking or GETKEYS applies to them.
pub fn channels_not_keys(spec: &Spec) -> bool {
    matches!(spec.name, "ssubscribe" | "sunsubscribe" | "spublish")
}

/// The argument positions holding key names: from `first_key`/`last_key`/`step` (a
/// negative last counts from the end), or, for `movablekeys` commands, from their
/// `numkeys` argument. ACL key patterns are checked against these.
pub fn key_positions(spec: &Spec, args: &[bytes::Bytes]) -> Vec<usize> {
    // A `numkeys` that is not a count of arguments that follow gives the keys there are.
    let numkeys = |at: usize, start: usize| -> Vec<usize> {
        let k = args.get(at).and_then(|a| crate::util::parse_i64_strict(a));
        let k = k.unwrap_or(0).clamp(0, args.len() as i64) as usize;
        (start..start + k).filter(|&i| i < args.len()).collect()
    };
    key_positions_of(spec, args, &numkeys)
}

fn key_positions_of(
    spec: &Spec,
    args: &[bytes::Bytes],
    numkeys: &impl Fn(usize, usize) -> Vec<usize>,
) -> Vec<usize> {
    match spec.name {
        "zunionstore" | "zinterstore" | "zdiffstore" => {
            let mut v = vec![1];
            v.extend(numkeys(2, 3));
            v
        }
        "zunion" | "zinter" | "zdiff" | "sintercard" | "zintercard" | "lmpop" | "zmpop" => {
            numkeys(1, 2)
        }
        "blmpop" | "bzmpop" | "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall"
        | "fcall_ro" => numkeys(2, 3),
        "memory"
            if args
                .get(1)
                .is_some_and(|a| a.eq_ignore_ascii_case(b"usage")) =>
        {
            (2..3.min(args.len())).collect()
        }
        // Their key specs find the keys after STREAMS, as Redis's ACL check does.
        "xread" | "xreadgroup" => super::keyspecs::keys_with_flags(spec, args)
            .map(|keys| keys.into_iter().map(|(i, _)| i).collect())
            .unwrap_or_default(),
        // The source key and STORE/STOREDIST's destination.
        "georadius" | "georadiusbymember" => {
            let mut v = vec![1];
            let last = args.len().saturating_sub(1);
            for (i, a) in args.iter().enumerate().take(last).skip(2) {
                if a.eq_ignore_ascii_case(b"store") || a.eq_ignore_ascii_case(b"storedist") {
                    v.push(i + 1);
                }
            }
            v
        }
        // The sorted key and the last STORE's destination (BY/GET keys come from the
        // data, and Redis does not report them either).
        "sort" | "sort_ro" => super::keyspecs::sort_keys(args, spec.name == "sort_ro")
            .into_iter()
            .map(|(i, _)| i)
            .collect(),
        _ if spec.first_key <= 0 || channels_not_keys(spec) => Vec::new(),
        _ => {
            let n = args.len() as i32;
            let last = if spec.last_key < 0 {
                n + spec.last_key
            } else {
                spec.last_key.min(n - 1)
            };
            (spec.first_key..=last)
                .step_by(spec.step.max(1) as usize)
                .map(|i| i as usize)
                .collect()
        }
    }
}

/// Name -> command. foldhash, not SipHash: every command pays this lookup (SipHash cost
/// ~370 instructions per command in the profile, docs/PROFILE.md).
type Index = HashMap<&'static [u8], &'static Spec, foldhash::fast::RandomState>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| COMMANDS.iter().map(|s| (s.name.as_bytes(), s)).collect())
}

/// Why a `rename-command` line cannot apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenameError {
    #[error("rename-command: no such command '{0}'")]
    Unknown(String),
    #[error("rename-command: '{0}' is already the name of a command; pick another name")]
    Taken(String),
}

/// Check `rename-command` lines against the command table (at startup, so a typo stops
/// the server instead of leaving a command exposed).
pub fn check_renames(renames: &[(String, String)]) -> Result<(), RenameError> {
    for (from, to) in renames {
        if lookup(from.as_bytes()).is_none() {
            return Err(RenameError::Unknown(from.clone()));
        }
        if !to.is_empty()
            && lookup(to.as_bytes()).is_some()
            && !renames.iter().any(|(f, _)| f == to)
        {
            return Err(RenameError::Taken(to.clone()));
        }
    }
    Ok(())
}

/// The incoming-name map of `rename-command` lines (see `State::renames`); lines that
/// name no command are skipped here ([`check_renames`] refuses them at startup).
pub fn renames(lines: &[(String, String)]) -> HashMap<Vec<u8>, Option<&'static Spec>> {
    let mut map = HashMap::new();
    for (from, _) in lines {
        map.insert(from.as_bytes().to_vec(), None);
    }
    for (from, to) in lines {
        if let (Some(spec), false) = (lookup(from.as_bytes()), to.is_empty()) {
            map.insert(to.as_bytes().to_vec(), Some(spec));
        }
    }
    map
}

/// Find a command by name, case-insensitively.
/// The position of `spec` in [`COMMANDS`]. Every `Spec` is an element of that table (the
/// dispatcher, renames and lookups all hand out references into it).
pub fn index_of(spec: &Spec) -> usize {
    let i = (spec as *const Spec as usize).wrapping_sub(COMMANDS.as_ptr() as usize)
        / std::mem::size_of::<Spec>();
    debug_assert!(i < COMMANDS.len() && std::ptr::eq(&COMMANDS[i], spec));
    i
}

pub fn lookup(name: &[u8]) -> Option<&'static Spec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    index().get(&*lower).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The subcommands the dispatcher checks are the ones COMMAND DOCS documents and
    /// commandstats counts one by one, for every container.
    #[test]
    fn checked_subcommands_are_the_documented_ones() {
        for spec in COMMANDS.iter().filter(|s| !s.subs.is_empty()) {
            let mut checked: Vec<&str> = spec.subs.iter().map(|(n, _)| *n).collect();
            let mut documented: Vec<&str> = super::super::docs::DOCS
                .iter()
                .filter_map(|d| d.name.strip_prefix(spec.name)?.strip_prefix('|'))
                .collect();
            checked.sort_unstable();
            documented.sort_unstable();
            assert_eq!(checked, documented, "{}", spec.name);
            assert!(spec.has(flag::CONTAINER), "{}", spec.name);
        }
    }

    /// The compile-time bits say exactly what the flag words say, for every command.
    #[test]
    fn flag_bits_match_the_flag_words() {
        for s in COMMANDS {
            for &(name, bit) in flag::NAMES {
                let word = s.flags.split_whitespace().any(|w| w == name);
                assert_eq!(s.has(bit), word, "{} {name}", s.name);
            }
        }
        assert_eq!(flag_bits("write  fast @string"), flag::WRITE | flag::FAST);
        assert_eq!(flag_bits(""), 0);
        assert_eq!(flag_bits("writeable fastest"), 0);
    }
}
