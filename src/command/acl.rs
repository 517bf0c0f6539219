//! ACL users, as Redis 7.0 has them: who may log in with which passwords, run which
//! commands (by name, `name|subcommand` or `@category`), and touch which keys and
//! pub/sub channels. The `default` user mirrors `requirepass`. Users live in memory,
//! in `user` lines of the config file (CONFIG REWRITE) or in an ACL file (`aclfile`,
//! ACL LOAD / SAVE, which the engine reads and writes); the ACL command and the
//! permission check are here, the check is called by [`super::dispatch`].

use std::collections::BTreeMap;
use std::sync::OnceLock;

use bytes::Bytes;

use super::table::{key_positions, Spec, COMMANDS};
use super::{Ctx, PersistRequest};

/// Redis's ACL categories, in Redis's order (ACL CAT, COMMAND INFO).
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Subcommands of container commands that have their own categories, so a user can be
/// given `CLIENT SETNAME` without `CLIENT KILL` (`+client|setname`, `-@dangerous`).
/// (parent, subcommand, categories), as Redis 7.0 assigns them.
pub static SUBCOMMANDS: &[(&str, &str, &str)] = &[
    ("acl", "cat", "@slow"),
    ("acl", "deluser", "@admin @slow @dangerous"),
    ("acl", "dryrun", "@admin @slow @dangerous"),
    ("acl", "genpass", "@slow"),
    ("acl", "getuser", "@admin @slow @dangerous"),
    ("acl", "help", "@slow"),
    ("acl", "list", "@admin @slow @dangerous"),
    ("acl", "load", "@admin @slow @dangerous"),
    ("acl", "log", "@admin @slow @dangerous"),
    ("acl", "save", "@admin @slow @dangerous"),
    ("acl", "setuser", "@admin @slow @dangerous"),
    ("acl", "users", "@admin @slow @dangerous"),
    ("acl", "whoami", "@slow"),
    ("client", "caching", "@slow @connection"),
    ("client", "getname", "@slow @connection"),
    ("client", "getredir", "@slow @connection"),
    ("client", "help", "@slow @connection"),
    ("client", "id", "@slow @connection"),
    ("client", "info", "@slow @connection"),
    ("client", "kill", "@admin @slow @dangerous @connection"),
    ("client", "list", "@admin @slow @dangerous @connection"),
    ("client", "no-evict", "@admin @slow @dangerous @connection"),
    ("client", "no-touch", "@slow @connection"),
    ("client", "pause", "@admin @slow @dangerous @connection"),
    ("client", "reply", "@slow @connection"),
    ("client", "setinfo", "@slow @connection"),
    ("client", "setname", "@slow @connection"),
    ("client", "tracking", "@slow @connection"),
    ("client", "trackinginfo", "@slow @connection"),
    ("client", "unblock", "@admin @slow @dangerous @connection"),
    ("client", "unpause", "@admin @slow @dangerous @connection"),
    ("command", "count", "@slow @connection"),
    ("command", "docs", "@slow @connection"),
    ("command", "getkeys", "@slow @connection"),
    ("command", "getkeysandflags", "@slow @connection"),
    ("command", "help", "@slow @connection"),
    ("command", "info", "@slow @connection"),
    ("command", "list", "@slow @connection"),
    ("config", "get", "@admin @slow @dangerous"),
    ("config", "help", "@slow"),
    ("config", "resetstat", "@admin @slow @dangerous"),
    ("config", "rewrite", "@admin @slow @dangerous"),
    ("config", "set", "@admin @slow @dangerous"),
    ("xgroup", "create", "@write @stream @slow"),
    ("xgroup", "setid", "@write @stream @slow"),
    ("xgroup", "destroy", "@write @stream @slow"),
    ("xgroup", "createconsumer", "@write @stream @slow"),
    ("xgroup", "delconsumer", "@write @stream @slow"),
    ("xgroup", "help", "@stream @slow"),
    ("xinfo", "stream", "@read @stream @slow"),
    ("xinfo", "groups", "@read @stream @slow"),
    ("xinfo", "consumers", "@read @stream @slow"),
    ("xinfo", "help", "@stream @slow"),
    ("object", "encoding", "@keyspace @read @slow"),
    ("object", "freq", "@keyspace @read @slow"),
    ("object", "help", "@keyspace @slow"),
    ("object", "idletime", "@keyspace @read @slow"),
    ("object", "refcount", "@keyspace @read @slow"),
    ("pubsub", "channels", "@pubsub @slow"),
    ("pubsub", "help", "@slow"),
    ("pubsub", "numpat", "@pubsub @slow"),
    ("pubsub", "numsub", "@pubsub @slow"),
    ("pubsub", "shardchannels", "@pubsub @slow"),
    ("pubsub", "shardnumsub", "@pubsub @slow"),
    ("memory", "doctor", "@slow"),
    ("memory", "help", "@slow"),
    ("memory", "malloc-stats", "@slow"),
    ("memory", "purge", "@slow"),
    ("memory", "stats", "@slow"),
    ("memory", "usage", "@read @slow"),
    ("function", "delete", "@write @slow @scripting"),
    ("function", "dump", "@slow @scripting"),
    ("function", "flush", "@write @slow @scripting"),
    ("function", "help", "@slow @scripting"),
    ("function", "kill", "@slow @scripting"),
    ("function", "list", "@slow @scripting"),
    ("function", "load", "@write @slow @scripting"),
    ("function", "restore", "@write @slow @scripting"),
    ("function", "stats", "@slow @scripting"),
    ("latency", "doctor", "@admin @slow @dangerous"),
    ("latency", "graph", "@admin @slow @dangerous"),
    ("latency", "help", "@slow"),
    ("latency", "histogram", "@admin @slow @dangerous"),
    ("latency", "history", "@admin @slow @dangerous"),
    ("latency", "latest", "@admin @slow @dangerous"),
    ("latency", "reset", "@admin @slow @dangerous"),
    ("script", "debug", "@slow @scripting"),
    ("script", "exists", "@slow @scripting"),
    ("script", "flush", "@slow @scripting"),
    ("script", "help", "@slow @scripting"),
    ("script", "kill", "@slow @scripting"),
    ("script", "load", "@slow @scripting"),
    ("slowlog", "get", "@admin @slow @dangerous"),
    ("slowlog", "help", "@slow"),
    ("slowlog", "len", "@admin @slow @dangerous"),
    ("slowlog", "reset", "@admin @slow @dangerous"),
];

pub(crate) fn cat_bit(name: &str) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| *c == name)
        .map(|i| 1u32 << i)
}

fn explicit_cats(s: &str) -> u32 {
    s.split_whitespace()
        .filter_map(|t| t.strip_prefix('@'))
        .filter_map(cat_bit)
        .fold(0, |a, b| a | b)
}

/// A command's ACL categories as a bit set over [`CATEGORIES`]: from its flags
/// (`write`, `readonly`, `fast`, `admin`, `blocking`, `pubsub`), its group, and the
/// explicit `@category` words in its flags.
pub fn categories(s: &Spec) -> u32 {
    let bit = |n: &str| cat_bit(n).expect("known category");
    let mut c = explicit_cats(s.flags);
    if s.is_write() {
        c |= bit("write");
    } else if s.has(super::flag::READONLY) && s.group != "scripting" {
        // (As Redis: a read-only script command is @scripting, not @read.)
        c |= bit("read");
    }
    c |= match s.group {
        "string" => bit("string"),
        "bitmap" => bit("bitmap"),
        "hyperloglog" => bit("hyperloglog"),
        "geo" => bit("geo"),
        "list" => bit("list"),
        "hash" => bit("hash"),
        "set" => bit("set"),
        "sorted-set" => bit("sortedset"),
        "stream" => bit("stream"),
        "keyspace" => bit("keyspace"),
        "pubsub" => bit("pubsub"),
        "transactions" => bit("transaction"),
        "connection" => bit("connection"),
        "scripting" => bit("scripting"),
        _ => 0,
    };
    c |= if s.has(super::flag::FAST) {
        bit("fast")
    } else {
        bit("slow")
    };
    if s.has(super::flag::ADMIN) {
        c |= bit("admin") | bit("dangerous");
    }
    if s.has(super::flag::BLOCKING) {
        c |= bit("blocking");
    }
    c
}

/// Category names (with `@`) of a bit set, in Redis's order.
pub fn category_names(bits: u32) -> Vec<String> {
    CATEGORIES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| format!("@{n}"))
        .collect()
}

/// One entry of the permission bit space: a command, or a subcommand of one.
struct Unit {
    /// `get`, or `client|kill`.
    full: String,
    cats: u32,
    /// Index of the command in [`COMMANDS`].
    cmd: usize,
}

fn units() -> &'static Vec<Unit> {
    static U: OnceLock<Vec<Unit>> = OnceLock::new();
    U.get_or_init(|| {
        let mut v: Vec<Unit> = COMMANDS
            .iter()
            .enumerate()
            .map(|(i, s)| Unit {
                full: s.name.to_string(),
                cats: categories(s),
                cmd: i,
            })
            .collect();
        for (parent, sub, cats) in SUBCOMMANDS {
            if let Some(i) = COMMANDS.iter().position(|s| s.name == *parent) {
                v.push(Unit {
                    full: format!("{parent}|{sub}"),
                    cats: explicit_cats(cats),
                    cmd: i,
                });
            }
        }
        v
    })
}

/// The permission unit a command line runs as: its subcommand's when it has a listed
/// one, else the command's.
fn unit_of(spec: &Spec, args: &[Bytes]) -> usize {
    let idx = super::table::index_of(spec);
    if let Some(sub) = args.get(1) {
        if SUBCOMMANDS.iter().any(|(p, _, _)| *p == spec.name) {
            let us = units();
            if let Some(j) = (COMMANDS.len()..us.len()).find(|&j| {
                us[j].cmd == idx
                    && us[j].full.as_bytes()[spec.name.len() + 1..].eq_ignore_ascii_case(sub)
            }) {
                return j;
            }
        }
    }
    idx
}

/// Redis's name for what `args` runs: `client|list` for a listed subcommand, else the
/// command's name (CLIENT LIST's `cmd=`).
pub fn full_name(spec: &Spec, args: &[Bytes]) -> &'static str {
    &units()[unit_of(spec, args)].full
}

/// The subcommands of `spec` that have their own ACL entry, with their categories
/// (`client|kill`, ...), in the table's order.
pub fn subcommands_with_categories(spec: &Spec) -> Vec<(&'static str, u32)> {
    let idx = super::table::index_of(spec);
    units()[COMMANDS.len()..]
        .iter()
        .filter(|u| u.cmd == idx)
        .map(|u| (u.full.as_str(), u.cats))
        .collect()
}

/// The ACL categories of the listed subcommand `args` names, if it names one (MONITOR
/// hides the `@admin` ones).
pub fn subcommand_categories(spec: &Spec, args: &[Bytes]) -> Option<u32> {
    let u = unit_of(spec, args);
    (u >= COMMANDS.len()).then(|| units()[u].cats)
}

/// SHA-256 (FIPS 180-4): passwords are kept and shown as their hashes, as in Redis.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for (i, c) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (a, b) in h.iter_mut().zip(v) {
            *a = a.wrapping_add(b);
        }
    }
    let mut out = [0u8; 32];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

fn parse_hash(s: &[u8]) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

/// A key pattern allows reading the keys it matches (`%R~`).
const READ: u8 = 1;
/// A key pattern allows writing the keys it matches (`%W~`).
const WRITE: u8 = 2;

/// The permissions and pattern of a `%<R|W|RW>~<pattern>` rule (after the `%`), as Redis
/// reads them: each letter once, in either case; without a `~` the pattern is empty.
fn key_permissions(rule: &[u8]) -> Result<(u8, &[u8]), AclError> {
    let mut perms = 0;
    for (i, &c) in rule.iter().enumerate() {
        let bit = match c.to_ascii_uppercase() {
            b'R' => READ,
            b'W' => WRITE,
            b'~' if perms != 0 => return Ok((perms, &rule[i + 1..])),
            _ => return Err(AclError::Syntax),
        };
        if perms & bit != 0 {
            return Err(AclError::Syntax);
        }
        perms |= bit;
    }
    if perms == 0 {
        return Err(AclError::Syntax);
    }
    Ok((perms, &[]))
}

/// Why an ACL SETUSER rule was refused (Redis's texts where Redis has the rule).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    #[error("Syntax error")]
    Syntax,
    #[error("Unknown command or category name in ACL")]
    Unknown,
    #[error("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns")]
    AfterAllKeys,
    #[error("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels")]
    AfterAllChannels,
    #[error("The password you are trying to remove from the user does not exist")]
    NoSuchPassword,
    #[error("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")]
    BadHash,
    #[error("{0} are not supported by Strata")]
    Unsupported(&'static str),
}

/// One ACL user.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// SHA-256 of each password.
    passwords: Vec<[u8; 32]>,
    /// Allowed units (commands, then subcommands), indexed as [`units`].
    allowed: Vec<bool>,
    /// The command rules as ACL LIST shows them (from the last `+@all`/`-@all`).
    cmd_rules: Vec<String>,
    pub all_keys: bool,
    /// Key patterns and what they allow ([`READ`] and/or [`WRITE`]: `~`, `%R~`, `%W~`).
    key_patterns: Vec<(Bytes, u8)>,
    pub all_channels: bool,
    channel_patterns: Vec<Bytes>,
    /// Every command on every key and channel: the check can be skipped.
    unrestricted: bool,
}

impl User {
    /// A new user: off, no password, no commands, keys or channels (Redis 7.0's
    /// defaults, `acl-pubsub-default resetchannels`).
    pub fn new(name: &str) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            passwords: Vec::new(),
            allowed: vec![false; units().len()],
            cmd_rules: vec!["-@all".into()],
            all_keys: false,
            key_patterns: Vec::new(),
            all_channels: false,
            channel_patterns: Vec::new(),
            unrestricted: false,
        }
    }

    fn set_units(&mut self, pick: impl Fn(&Unit) -> bool, on: bool) {
        for (i, u) in units().iter().enumerate() {
            if pick(u) {
                self.allowed[i] = on;
            }
        }
    }

    /// Apply one ACL SETUSER rule.
    pub fn apply(&mut self, rule: &[u8]) -> Result<(), AclError> {
        let lower = rule.to_ascii_lowercase();
        match lower.as_slice() {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"allkeys" => {
                self.all_keys = true;
                self.key_patterns = vec![(Bytes::from_static(b"*"), READ | WRITE)];
            }
            b"resetkeys" => {
                self.all_keys = false;
                self.key_patterns.clear();
            }
            b"allchannels" => {
                self.all_channels = true;
                self.channel_patterns = vec![Bytes::from_static(b"*")];
            }
            b"resetchannels" => {
                self.all_channels = false;
                self.channel_patterns.clear();
            }
            b"allcommands" => return self.apply(b"+@all"),
            b"nocommands" => return self.apply(b"-@all"),
            b"reset" => {
                for r in [
                    &b"resetpass"[..],
                    b"resetkeys",
                    b"resetchannels",
                    b"off",
                    b"-@all",
                ] {
                    self.apply(r)?;
                }
            }
            b"clearselectors" | b"sanitize-payload" | b"skip-sanitize-payload" => {}
            _ => self.apply_prefixed(rule, &lower)?,
        }
        self.unrestricted = self.all_keys && self.all_channels && self.allowed.iter().all(|&a| a);
        Ok(())
    }

    fn apply_prefixed(&mut self, rule: &[u8], lower: &[u8]) -> Result<(), AclError> {
        let rest = &rule[1..];
        match rule[0] {
            b'>' => {
                let h = sha256(rest);
                if !self.passwords.contains(&h) {
                    self.passwords.push(h);
                }
                self.nopass = false;
            }
            b'#' => {
                let h = parse_hash(rest).ok_or(AclError::BadHash)?;
                if !self.passwords.contains(&h) {
                    self.passwords.push(h);
                }
                self.nopass = false;
            }
            b'<' | b'!' => {
                let h = if rule[0] == b'<' {
                    sha256(rest)
                } else {
                    parse_hash(rest).ok_or(AclError::BadHash)?
                };
                let before = self.passwords.len();
                self.passwords.retain(|p| *p != h);
                if self.passwords.len() == before {
                    return Err(AclError::NoSuchPassword);
                }
            }
            b'~' | b'%' => {
                if self.all_keys {
                    return Err(AclError::AfterAllKeys);
                }
                let (perms, pattern) = if rule[0] == b'~' {
                    (READ | WRITE, rest)
                } else {
                    key_permissions(rest)?
                };
                if pattern == b"*" && perms == READ | WRITE {
                    return self.apply(b"allkeys");
                }
                // The same pattern again adds its permissions, as in Redis.
                match self.key_patterns.iter_mut().find(|(p, _)| p == pattern) {
                    Some((_, had)) => *had |= perms,
                    None => self
                        .key_patterns
                        .push((Bytes::copy_from_slice(pattern), perms)),
                }
            }
            b'&' => {
                if self.all_channels {
                    return Err(AclError::AfterAllChannels);
                }
                if rest == b"*" {
                    return self.apply(b"allchannels");
                }
                let p = Bytes::copy_from_slice(rest);
                if !self.channel_patterns.contains(&p) {
                    self.channel_patterns.push(p);
                }
            }
            b'(' => return Err(AclError::Unsupported("selectors")),
            b'+' | b'-' => {
                let on = rule[0] == b'+';
                let name = std::str::from_utf8(&lower[1..]).map_err(|_| AclError::Unknown)?;
                if let Some(cat) = name.strip_prefix('@') {
                    if cat == "all" {
                        self.set_units(|_| true, on);
                        self.cmd_rules = vec![format!("{}@all", rule[0] as char)];
                        return Ok(());
                    }
                    let bit = cat_bit(cat).ok_or(AclError::Unknown)?;
                    self.set_units(|u| u.cats & bit != 0, on);
                } else if name.contains('|') {
                    let i = units()
                        .iter()
                        .position(|u| u.full == name)
                        .ok_or(AclError::Unknown)?;
                    self.allowed[i] = on;
                } else {
                    let i = COMMANDS
                        .iter()
                        .position(|s| s.name == name)
                        .ok_or(AclError::Unknown)?;
                    // A container command with all its subcommands.
                    self.set_units(|u| u.cmd == i, on);
                }
                self.cmd_rules.push(format!("{}{}", rule[0] as char, name));
            }
            _ => return Err(AclError::Syntax),
        }
        Ok(())
    }

    /// Check a password (constant time per stored hash).
    pub fn password_ok(&self, pass: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let h = sha256(pass);
        let mut ok = false;
        for p in &self.passwords {
            ok |= super::server::constant_time_eq(p, &h);
        }
        ok
    }

    fn keys_desc(&self) -> Vec<String> {
        self.key_patterns
            .iter()
            .map(|(p, perms)| {
                let prefix = match *perms {
                    READ => "%R~",
                    WRITE => "%W~",
                    _ => "~",
                };
                format!("{prefix}{}", String::from_utf8_lossy(p))
            })
            .collect()
    }

    fn channels_desc(&self) -> Vec<String> {
        self.channel_patterns
            .iter()
            .map(|p| format!("&{}", String::from_utf8_lossy(p)))
            .collect()
    }

    /// The ACL LIST line.
    pub fn describe(&self) -> String {
        let mut w = vec![
            "user".to_string(),
            self.name.clone(),
            if self.enabled { "on" } else { "off" }.into(),
        ];
        if self.nopass {
            w.push("nopass".into());
        }
        w.extend(
            self.passwords
                .iter()
                .map(|p| format!("#{}", crate::util::hex(p))),
        );
        w.extend(self.keys_desc());
        if !self.all_channels {
            w.push("resetchannels".into());
        }
        w.extend(self.channels_desc());
        w.extend(self.cmd_rules.iter().cloned());
        w.join(" ")
    }

    /// Whether this user may run `spec` with `args`; what it may not touch if not.
    pub fn check(&self, spec: &Spec, args: &[Bytes]) -> Result<(), Denied> {
        if self.unrestricted {
            return Ok(());
        }
        let u = unit_of(spec, args);
        if !self.allowed[u] {
            return Err(Denied::Command(units()[u].full.to_string()));
        }
        if !self.all_keys {
            if self
                .key_patterns
                .iter()
                .all(|(_, perms)| *perms == READ | WRITE)
            {
                // Every pattern allows everything: only which arguments are keys matters.
                if let Some(i) = key_positions(spec, args)
                    .into_iter()
                    .find(|&i| !self.key_allowed(&args[i], 0))
                {
                    return Err(Denied::Key(args[i].clone()));
                }
            } else {
                // `%R~` / `%W~`: each key needs what the command does with it, read from
                // its key spec as Redis does (a line whose keys cannot be told apart
                // needs both).
                use super::keyspecs::{flags::*, keys_with_flags};
                let keys = keys_with_flags(spec, args).unwrap_or_else(|_| {
                    key_positions(spec, args)
                        .into_iter()
                        .map(|i| (i, F_ACCESS | F_UPDATE))
                        .collect()
                });
                for (i, flags) in keys {
                    let mut need = 0;
                    if flags & F_ACCESS != 0 {
                        need |= READ;
                    }
                    if flags & (F_INSERT | F_DELETE | F_UPDATE) != 0 {
                        need |= WRITE;
                    }
                    if !self.key_allowed(&args[i], need) {
                        return Err(Denied::Key(args[i].clone()));
                    }
                }
            }
        }
        if !self.all_channels {
            let channels: &[Bytes] = match spec.name {
                "publish" | "spublish" => &args[1..2],
                "subscribe" | "psubscribe" | "ssubscribe" => &args[1..],
                _ => &[],
            };
            let pattern = spec.name == "psubscribe";
            if let Some(c) = channels.iter().find(|c| !self.channel_allowed(c, pattern)) {
                return Err(Denied::Channel(c.clone()));
            }
        }
        Ok(())
    }

    /// Whether a key pattern that allows at least `need` ([`READ`], [`WRITE`]) matches `key`.
    fn key_allowed(&self, key: &[u8], need: u8) -> bool {
        self.key_patterns
            .iter()
            .any(|(p, perms)| perms & need == need && crate::util::glob_match(p, key, false))
    }

    /// Whether this user may use `channel`; a pattern subscription (`pattern`) needs the
    /// very pattern allowed, as in Redis.
    pub fn channel_allowed(&self, channel: &[u8], pattern: bool) -> bool {
        self.all_channels
            || self.channel_patterns.iter().any(|p| {
                if pattern {
                    p == channel
                } else {
                    crate::util::glob_match(p, channel, false)
                }
            })
    }
}

/// What a permission check refused: the command (Redis's full name, `config|get`), or
/// the key or channel it may not touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    Command(String),
    Key(Bytes),
    Channel(Bytes),
}

impl Denied {
    /// The NOPERM reply, as Redis 7.0 words it.
    pub fn message(&self) -> String {
        match self {
            Denied::Command(c) => {
                format!("NOPERM this user has no permissions to run the '{c}' command")
            }
            Denied::Key(_) => {
                "NOPERM this user has no permissions to access one of the keys used as arguments"
                    .into()
            }
            Denied::Channel(_) => {
                "NOPERM this user has no permissions to access one of the channels used as arguments"
                    .into()
            }
        }
    }

    /// The refusal of a command a script called, as Redis 7.0 words it.
    pub fn script_message(&self) -> &'static str {
        match self {
            Denied::Command(_) => {
                "ERR The user executing the script can't run this command or subcommand"
            }
            Denied::Key(_) => {
                "ERR The user executing the script can't access at least one of the keys \
                 mentioned in the command arguments"
            }
            Denied::Channel(_) => {
                "ERR The user executing the script can't publish to the channel mentioned in \
                 the command"
            }
        }
    }

    /// ACL DRYRUN's answer.
    fn dry_run_message(&self) -> String {
        let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
        match self {
            Denied::Command(c) => format!("This user has no permissions to run the '{c}' command"),
            Denied::Key(k) => format!(
                "This user has no permissions to access the '{}' key",
                text(k)
            ),
            Denied::Channel(c) => {
                format!(
                    "This user has no permissions to access the '{}' channel",
                    text(c)
                )
            }
        }
    }

    /// ACL LOG's `reason` and `object`.
    fn reason_and_object(&self) -> (&'static str, Bytes) {
        match self {
            Denied::Command(c) => ("command", Bytes::from(c.clone())),
            Denied::Key(k) => ("key", k.clone()),
            Denied::Channel(c) => ("channel", c.clone()),
        }
    }
}

/// ACL LOG: the latest refusals, newest first, as Redis keeps them: a refusal like one
/// of the 10 newest entries (same reason, context, object and user, within 60 s of it)
/// counts there instead of adding an entry; at most `acllog-max-len` entries.
#[derive(Debug, Default)]
pub struct AclLog {
    entries: std::collections::VecDeque<LogEntry>,
}

#[derive(Debug)]
struct LogEntry {
    count: u64,
    reason: &'static str,
    /// `toplevel` or `multi`.
    context: &'static str,
    object: Bytes,
    username: String,
    /// The client's CLIENT LIST line at the last refusal.
    client_info: String,
    /// When the last refusal happened (Unix ms).
    updated_ms: u64,
}

/// Entries of ACL LOG that count repeats instead of growing (Redis's grouping window).
const LOG_GROUPING_MS: u64 = 60_000;

/// Record in ACL LOG a refusal for `sess`: the command, key or channel `denied`, or with
/// None a failed AUTH of `username` whose first argument was `auth_cmd`; with the
/// client's CLIENT LIST line as it is now. `context` is Redis's: `toplevel`, `multi`
/// or `lua`.
pub fn log_refusal(
    st: &mut super::State,
    sess: &super::Session,
    denied: Option<&Denied>,
    auth_cmd: &[u8],
    context: &'static str,
    username: &str,
    now: u64,
) {
    let (reason, object) = match denied {
        Some(d) => d.reason_and_object(),
        None => ("auth", Bytes::copy_from_slice(auth_cmd)),
    };
    let entry = LogEntry {
        count: 1,
        reason,
        context,
        object,
        username: username.to_string(),
        client_info: super::server::client_info_now(st, sess, sess.last_cmd, now),
        updated_ms: now,
    };
    let max_len = st.config.acllog_max_len;
    st.acl_log.record(entry, max_len);
}

impl AclLog {
    /// Add `new` (a refusal with count 1), or count it on the like entry it repeats.
    fn record(&mut self, new: LogEntry, max_len: u64) {
        let same = |e: &LogEntry| {
            e.reason == new.reason
                && e.context == new.context
                && e.object == new.object
                && e.username == new.username
                && new.updated_ms.saturating_sub(e.updated_ms) <= LOG_GROUPING_MS
        };
        if let Some(i) = self.entries.iter().take(10).position(same) {
            let mut e = self.entries.remove(i).expect("found above");
            e.count += 1;
            e.client_info = new.client_info;
            e.updated_ms = new.updated_ms;
            self.entries.push_front(e);
            return;
        }
        self.entries.push_front(new);
        self.entries.truncate(max_len as usize);
    }

    /// ACL LOG [count]: the newest `count` entries (all by default).
    fn reply(&self, out: &mut crate::protocol::ReplyBuf, count: usize, now: u64) {
        let n = count.min(self.entries.len());
        out.array_len(n);
        for e in self.entries.iter().take(n) {
            out.map_len(7);
            out.bulk(b"count");
            out.int(e.count as i64);
            out.bulk(b"reason");
            out.bulk(e.reason.as_bytes());
            out.bulk(b"context");
            out.bulk(e.context.as_bytes());
            out.bulk(b"object");
            out.bulk(&e.object);
            out.bulk(b"username");
            out.bulk(e.username.as_bytes());
            out.bulk(b"age-seconds");
            out.double(now.saturating_sub(e.updated_ms) as f64 / 1000.0);
            out.bulk(b"client-info");
            out.bulk(e.client_info.as_bytes());
        }
    }
}

/// Every user, by name.
#[derive(Debug, Clone)]
pub struct Acl {
    pub users: BTreeMap<String, User>,
}

impl Acl {
    /// Only `default`: every command, key and channel; its password is `requirepass`.
    pub fn new(requirepass: Option<&str>) -> Acl {
        let mut d = User::new("default");
        for r in ["on", "~*", "&*", "+@all"] {
            d.apply(r.as_bytes()).expect("valid default rules");
        }
        let mut acl = Acl {
            users: BTreeMap::new(),
        };
        acl.users.insert("default".into(), d);
        acl.sync_requirepass(requirepass);
        acl
    }

    /// The users of a configuration: `requirepass` first, then the `user` lines in order.
    pub fn from_config(requirepass: Option<&str>, users: &[Vec<String>]) -> Result<Acl, String> {
        let mut acl = Acl::new(requirepass);
        let mut defined = std::collections::HashSet::new();
        for words in users {
            let Some((name, rules)) = words.split_first() else {
                continue;
            };
            if name.contains(' ') || name.is_empty() {
                return Err(format!("user '{name}': usernames can't contain spaces"));
            }
            // As Redis loads them: a user is defined once, and starts from a reset user,
            // the default user included (`user default on >pw +get` leaves only GET,
            // and drops the password `requirepass` gave).
            if !defined.insert(name.clone()) {
                return Err(format!(
                    "user '{name}': Duplicate user found. A user can only be defined once in config files"
                ));
            }
            let mut u = User::new(name);
            for r in rules {
                u.apply(r.as_bytes())
                    .map_err(|e| format!("user '{name}': error in ACL rule '{r}': {e}"))?;
            }
            acl.users.insert(name.clone(), u);
        }
        Ok(acl)
    }

    /// The users of an ACL file (`aclfile`, ACL LOAD), read as Redis 7.0 reads one: a
    /// `user <name> <rule>...` line per user (rules split on single spaces, blank lines
    /// skipped, each user defined once), all or nothing. The error lists every problem
    /// in Redis's words, `path:line` first. A file that does not define `default` gets
    /// the default user `requirepass` describes (Redis makes it `nopass` then, dropping
    /// `requirepass`; Strata keeps the password an operator configured).
    pub fn from_file_text(
        text: &str,
        path: &str,
        requirepass: Option<&str>,
    ) -> Result<Acl, String> {
        let mut acl = Acl::new(requirepass);
        let mut defined = std::collections::HashSet::new();
        let mut errors = String::new();
        for (i, line) in text.split('\n').enumerate() {
            let n = i + 1;
            let line = line.trim_matches([' ', '\t', '\r', '\n']);
            if line.is_empty() {
                continue;
            }
            let words: Vec<&str> = line.split(' ').collect();
            if words[0] != "user" || words.len() < 2 {
                errors += &format!(
                    "{path}:{n} should start with user keyword followed by the username. "
                );
                continue;
            }
            let name = words[1];
            if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace() || b == 0) {
                // (The stray quote is Redis's.)
                errors += &format!("'{path}:{n}: username '{name}' contains invalid characters. ");
                continue;
            }
            if !defined.insert(name.to_string()) {
                errors += &format!("WARNING: Duplicate user '{name}' found on line {n}. ");
                continue;
            }
            let mut user = User::new(name);
            let mut first_error = true;
            for rule in &words[2..] {
                let rule = rule.trim_matches(['\t', '\r', '\n']);
                if rule.is_empty() {
                    continue;
                }
                match user.apply(rule.as_bytes()) {
                    Ok(()) => {}
                    // Every unknown command is named; of other errors only the first
                    // (a later one may follow from it), as Redis reports them.
                    Err(e @ AclError::Unknown) => {
                        errors +=
                            &format!("{path}:{n}: Error in applying operation '{rule}': {e}. ");
                    }
                    Err(e) if std::mem::take(&mut first_error) => {
                        errors += &format!("{path}:{n}: {e}. ");
                    }
                    Err(_) => {}
                }
            }
            acl.users.insert(name.to_string(), user);
        }
        if errors.is_empty() {
            Ok(acl)
        } else {
            Err(errors
                + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed")
        }
    }

    /// ACL SAVE's file: one `user` line per user, as ACL LIST shows them.
    pub fn file_text(&self) -> String {
        let mut text = String::new();
        for u in self.users.values() {
            text += &u.describe();
            text.push('\n');
        }
        text
    }

    /// `requirepass` sets the default user's only password; empty makes it `nopass`.
    pub fn sync_requirepass(&mut self, requirepass: Option<&str>) {
        let d = self
            .users
            .get_mut("default")
            .expect("the default user exists");
        let rule = match requirepass {
            Some(p) => format!(">{p}"),
            None => "nopass".into(),
        };
        d.passwords.clear();
        d.apply(rule.as_bytes()).expect("valid password rule");
    }

    /// A new connection is logged in as `default` without AUTH when that user is on
    /// and needs no password.
    pub fn default_open(&self) -> bool {
        self.users
            .get("default")
            .is_some_and(|d| d.enabled && d.nopass)
    }

    /// AUTH: the user if the credentials are right and the user is on.
    pub fn authenticate(&self, user: &[u8], pass: &[u8]) -> Option<&User> {
        let u = self.users.get(std::str::from_utf8(user).ok()?)?;
        (u.password_ok(pass) && u.enabled).then_some(u)
    }

    /// The permission check for `user` (a deleted user may run nothing).
    pub fn check(&self, user: &str, spec: &Spec, args: &[Bytes]) -> Result<(), Denied> {
        match self.users.get(user) {
            Some(u) => u.check(spec, args),
            None => Err(Denied::Command(spec.name.to_string())),
        }
    }
}

/// Close the connections of `user` subscribed to a channel it may no longer use (as
/// Redis 7.0 does when a user's channel rules change); the calling one after its reply.
pub(crate) fn close_denied_subscribers(
    st: &mut super::State,
    sess: &mut super::Session,
    user: &User,
) {
    for id in super::pubsub::denied_subscribers(st, user) {
        if id == sess.id {
            sess.close = true;
        } else if let Some(kill) = st.clients.by_id.get(&id).and_then(|c| c.kill.clone()) {
            kill();
        }
    }
}

/// ACL <subcommand>.
pub fn acl(ctx: &mut Ctx) {
    let sub = ctx.args[1].to_ascii_lowercase();
    let n = ctx.args.len();
    let wrong = |ctx: &mut Ctx, sub: &str| {
        ctx.error(&format!(
            "ERR wrong number of arguments for 'acl|{sub}' command"
        ))
    };
    match sub.as_slice() {
        b"setuser" => {
            if n < 3 {
                return wrong(ctx, "setuser");
            }
            let name = String::from_utf8_lossy(&ctx.args[2]).into_owned();
            if name.contains(' ') || name.is_empty() {
                return ctx.error("ERR Usernames can't contain spaces or null characters");
            }
            let mut user = ctx
                .st
                .acl
                .users
                .get(&name)
                .cloned()
                .unwrap_or_else(|| User::new(&name));
            for r in &ctx.args[3..] {
                if r.is_empty() {
                    return ctx.error(&format!(
                        "ERR Error in ACL SETUSER modifier '': {}",
                        AclError::Syntax
                    ));
                }
                if let Err(e) = user.apply(r) {
                    let msg = format!(
                        "ERR Error in ACL SETUSER modifier '{}': {e}",
                        String::from_utf8_lossy(r)
                    );
                    return ctx.error(&msg);
                }
            }
            close_denied_subscribers(ctx.st, ctx.sess, &user);
            ctx.st.acl.users.insert(name, user);
            ctx.out.ok();
        }
        b"getuser" => {
            if n != 3 {
                return wrong(ctx, "getuser");
            }
            let name = String::from_utf8_lossy(&ctx.args[2]).into_owned();
            let Some(u) = ctx.st.acl.users.get(&name).cloned() else {
                return ctx.out.null();
            };
            ctx.out.map_len(6);
            ctx.out.bulk(b"flags");
            let mut flags = vec![if u.enabled { "on" } else { "off" }];
            if u.nopass {
                flags.push("nopass");
            }
            ctx.out.array_len(flags.len());
            for f in flags {
                ctx.out.bulk(f.as_bytes());
            }
            ctx.out.bulk(b"passwords");
            ctx.out.array_len(u.passwords.len());
            for p in &u.passwords {
                ctx.out.bulk(crate::util::hex(p).as_bytes());
            }
            ctx.out.bulk(b"commands");
            ctx.out.bulk(u.cmd_rules.join(" ").as_bytes());
            ctx.out.bulk(b"keys");
            ctx.out.bulk(u.keys_desc().join(" ").as_bytes());
            ctx.out.bulk(b"channels");
            ctx.out.bulk(u.channels_desc().join(" ").as_bytes());
            ctx.out.bulk(b"selectors");
            ctx.out.array_len(0);
        }
        b"deluser" => {
            if n < 3 {
                return wrong(ctx, "deluser");
            }
            let names: Vec<String> = ctx.args[2..]
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if names.iter().any(|n| n == "default") {
                return ctx.error("ERR The 'default' user cannot be removed");
            }
            let mut removed = 0;
            for name in &names {
                if ctx.st.acl.users.remove(name).is_some() {
                    removed += 1;
                    // As Redis, connections logged in as the user are closed.
                    for c in ctx.st.clients.by_id.values() {
                        if c.user == *name {
                            if let Some(k) = &c.kill {
                                k();
                            }
                        }
                    }
                    if ctx.sess.user == *name {
                        ctx.sess.close = true;
                    }
                }
            }
            ctx.out.int(removed);
        }
        b"list" | b"users" => {
            if n != 2 {
                return wrong(ctx, if sub == b"list" { "list" } else { "users" });
            }
            let lines: Vec<String> = ctx
                .st
                .acl
                .users
                .values()
                .map(|u| {
                    if sub == b"list" {
                        u.describe()
                    } else {
                        u.name.clone()
                    }
                })
                .collect();
            ctx.out.array_len(lines.len());
            for l in lines {
                ctx.out.bulk(l.as_bytes());
            }
        }
        b"whoami" => {
            if n != 2 {
                return wrong(ctx, "whoami");
            }
            let u = ctx.sess.user.clone();
            ctx.out.bulk(u.as_bytes());
        }
        b"cat" => match n {
            2 => {
                ctx.out.array_len(CATEGORIES.len());
                for c in CATEGORIES {
                    ctx.out.bulk(c.as_bytes());
                }
            }
            3 => {
                let c = String::from_utf8_lossy(&ctx.args[2]).to_ascii_lowercase();
                let Some(bit) = cat_bit(&c) else {
                    let msg = format!(
                        "ERR Unknown category '{}'",
                        String::from_utf8_lossy(&ctx.args[2])
                    );
                    return ctx.error(&msg);
                };
                let names: Vec<&str> = units()
                    .iter()
                    .filter(|u| u.cats & bit != 0)
                    .map(|u| u.full.as_str())
                    .collect();
                ctx.out.array_len(names.len());
                for name in names {
                    ctx.out.bulk(name.as_bytes());
                }
            }
            _ => wrong(ctx, "cat"),
        },
        b"genpass" => {
            let bits = match ctx.args.get(2) {
                None => 256,
                Some(a) => match crate::util::parse_i64_strict(a) {
                    Some(b @ 1..=4096) => b as usize,
                    _ => {
                        return ctx.error(
                            "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
                        )
                    }
                },
            };
            let chars = bits.div_ceil(4);
            let s: String = (0..chars)
                .map(|_| {
                    let d = rand::Rng::gen_range(&mut ctx.st.rng, 0..16u32);
                    char::from_digit(d, 16).expect("hex digit")
                })
                .collect();
            ctx.out.bulk(s.as_bytes());
        }
        b"help" => {
            let lines = [
                "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CAT [<category>]",
                "    List all commands that belong to <category>, or all command categories",
                "    when no category is specified.",
                "DELUSER <username> [<username> ...]",
                "    Delete a list of users.",
                "DRYRUN <username> <command> [<arg> ...]",
                "    Returns whether the user can execute the given command without executing the command.",
                "GETUSER <username>",
                "    Get the user's details.",
                "GENPASS [<bits>]",
                "    Generate a secure 256-bit user password. The optional `bits` argument can",
                "    be used to specify a different size.",
                "LIST",
                "    Show users details in config file format.",
                "LOAD",
                "    Reload users from the ACL file.",
                "LOG [<count> | RESET]",
                "    Show the ACL log entries.",
                "SAVE",
                "    Save the current config to the ACL file.",
                "SETUSER <username> <attribute> [<attribute> ...]",
                "    Create or modify a user with the specified attributes.",
                "USERS",
                "    List all the registered usernames.",
                "WHOAMI",
                "    Return the current connection username.",
                "HELP",
                "    Prints this help.",
            ];
            ctx.help(&lines);
        }
        b"log" => {
            if n > 3 {
                return ctx.error(
                    "ERR unknown subcommand or wrong number of arguments for 'LOG'. Try ACL HELP.",
                );
            }
            let count = match ctx.args.get(2) {
                None => usize::MAX,
                Some(a) if a.eq_ignore_ascii_case(b"reset") => {
                    ctx.st.acl_log = AclLog::default();
                    return ctx.out.ok();
                }
                Some(_) => match ctx.int_arg(2) {
                    Some(c) => c.max(0) as usize,
                    None => return,
                },
            };
            ctx.st.acl_log.reply(ctx.out, count, ctx.now);
        }
        b"dryrun" => {
            if n < 4 {
                return wrong(ctx, "dryrun");
            }
            let name = String::from_utf8_lossy(&ctx.args[2]).into_owned();
            if !ctx.st.acl.users.contains_key(&name) {
                return ctx.error(&format!("ERR User '{name}' not found"));
            }
            let cmd = &ctx.args[3..];
            let Some(spec) = super::lookup(&cmd[0]) else {
                let msg = format!(
                    "ERR Command '{}' not found",
                    String::from_utf8_lossy(&cmd[0])
                );
                return ctx.error(&msg);
            };
            if !spec.arity_ok(cmd.len()) {
                let msg = format!("ERR wrong number of arguments for '{}' command", spec.name);
                return ctx.error(&msg);
            }
            // Nothing is logged: nothing was refused.
            match ctx.st.acl.check(&name, spec, cmd) {
                Ok(()) => ctx.out.ok(),
                Err(d) => ctx.out.bulk(d.dry_run_message().as_bytes()),
            }
        }
        b"load" | b"save" => {
            let load = sub == b"load";
            if n != 2 {
                return wrong(ctx, if load { "load" } else { "save" });
            }
            if ctx.st.config.aclfile.is_empty() {
                return ctx.error("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.");
            }
            // The engine reads or writes the file and answers (commands never touch files).
            ctx.request_persist(if load {
                PersistRequest::AclLoad
            } else {
                PersistRequest::AclSave
            });
        }
        _ => {
            let msg = format!(
                "ERR unknown subcommand '{}'. Try ACL HELP.",
                String::from_utf8_lossy(&ctx.args[1])
            );
            ctx.error(&msg);
        }
    }
}

#[cfg(test)]
mod tests {
    /// A config file's `user default ...` line starts from a reset user, as Redis loads
    /// it: the password `requirepass` gave and the default's `+@all` are gone (it used to
    /// be applied on top of them, and `~*` after the default's `~*` was refused); a user
    /// defined twice is refused (the lines used to add up).
    #[test]
    fn config_user_lines_start_from_a_reset_user() {
        let words = |w: &str| w.split(' ').map(String::from).collect::<Vec<_>>();
        let acl = Acl::from_config(
            Some("old"),
            &[words("default on >pw +get ~*"), words("alice on >a +set")],
        )
        .unwrap();
        // #sha256("pw"), as `printf pw | sha256sum` gives it.
        assert_eq!(
            acl.users["default"].describe(),
            "user default on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~* resetchannels -@all +get"
        );
        assert!(acl.authenticate(b"default", b"old").is_none());
        assert!(acl.authenticate(b"default", b"pw").is_some());
        assert_eq!(
            acl.users["alice"].describe(),
            "user alice on #ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb resetchannels -@all +set"
        );
        // A user defined twice is refused, as Redis 7.0 refuses the file.
        assert_eq!(
            Acl::from_config(None, &[words("alice on"), words("alice +get")]).err(),
            Some(
                "user 'alice': Duplicate user found. A user can only be defined once in config files"
                    .to_string()
            )
        );
    }

    use super::*;

    #[test]
    fn sha256_known_vectors() {
        assert_eq!(
            crate::util::hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            crate::util::hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // The hash real Redis shows for '>pw'.
        assert_eq!(
            crate::util::hex(&sha256(b"pw")),
            "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(
            crate::util::hex(&sha256(&long)),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
    }

    #[test]
    fn rules_and_descriptions_like_redis() {
        let mut u = User::new("k2");
        for r in [
            "~a", "~b", "&c*", ">x", ">y", "+get", "-@all", "+@hash", "-hset", "allkeys",
        ] {
            u.apply(r.as_bytes()).unwrap();
        }
        assert_eq!(u.describe(), "user k2 off #2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 #a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa ~* resetchannels &c* -@all +@hash -hset");
        assert_eq!(u.apply(b"~x"), Err(AclError::AfterAllKeys));
        assert_eq!(u.apply(b"+nosuch"), Err(AclError::Unknown));
        assert_eq!(u.apply(b"<nopw"), Err(AclError::NoSuchPassword));
        assert_eq!(u.apply(b"#abc"), Err(AclError::BadHash));
        assert_eq!(u.apply(b"foo"), Err(AclError::Syntax));
        assert_eq!(User::new("e").describe(), "user e off resetchannels -@all");
    }
}
