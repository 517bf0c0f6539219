//! COMMAND DOCS: what each command accepts, in the shape Redis 7 reports it.
//!
//! Every command's arguments are written once, as a compact syntax string in the form
//! redis-cli prints it (`key value [NX|XX] [GET] [EX seconds|PX milliseconds|...]`), and
//! parsed into the argument tree that `COMMAND DOCS` replies with. redis-cli 7 builds its
//! interactive hints and `help <command>` from that tree, so a command is documented by
//! adding one line to [`DOCS`]; a unit test fails for any command of the table that has
//! none.
//!
//! Syntax:
//! - words are separated by spaces; a word without lower-case letters (`NX`, `EX`,
//!   `LIB-NAME`, `0`) is a token the client types literally, any other word names an
//!   argument (`key`, `seconds`, `ip:port`);
//! - a token followed by an argument or a `( )` group introduces it (`EX seconds`); a token
//!   on its own is a pure token (`GET`); a group whose content is a token followed by
//!   several arguments is a block introduced by the token (`[AUTH username password]`);
//! - `[ ... ]` is optional, `( ... )` only groups (redis-cli shows its content without the
//!   parentheses), `a|b` is one of the alternatives (`|` binds looser than spaces:
//!   `[EX seconds|PX milliseconds]` offers `EX seconds` or `PX milliseconds`);
//! - `x [x ...]` repeats `x` (also a run of arguments: `key value [key value ...]`);
//!   `TOKEN arg [TOKEN arg ...]` repeats the token too (`multiple_token`), while
//!   `TOKEN arg [arg ...]` repeats only the argument;
//! - an argument's type comes from its name (`key`, `pattern`, `seconds`, `unix-time-*`,
//!   ...: see [`infer_kind`]) or from a `:type` suffix (`increment:double`) that redis-cli
//!   does not show;
//! - blocks and oneofs are named after their token (`auth`) or their members
//!   (`key-value`, `nx|xx`); redis-cli does not show these names either.
//!
//! `since` is the Redis version that introduced the command, as Redis 7.0 reports it, so
//! clients that compare it with the server version see what they would see with Redis.
//! DEBUG's subcommands, which Redis does not document, carry DEBUG's own `since`.

use std::sync::OnceLock;

use super::Spec;
use crate::protocol::ReplyBuf;

/// The documentation of one command or subcommand (`container|sub`).
pub struct Doc {
    /// Lower-case name, as in the command table; subcommands are `container|sub`.
    pub name: &'static str,
    /// The Redis version that introduced it.
    pub since: &'static str,
    pub complexity: &'static str,
    /// Summary of a subcommand (commands take theirs from the command table).
    pub summary: &'static str,
    /// Argument syntax (see the module documentation); empty for no arguments.
    pub syntax: &'static str,
}

macro_rules! doc {
    ($name:literal, $since:literal, $complexity:literal, $syntax:literal) => {
        Doc {
            name: $name,
            since: $since,
            complexity: $complexity,
            summary: "",
            syntax: $syntax,
        }
    };
    ($name:literal, $since:literal, $complexity:literal, $summary:literal, $syntax:literal) => {
        Doc {
            name: $name,
            since: $since,
            complexity: $complexity,
            summary: $summary,
            syntax: $syntax,
        }
    };
}

/// Every documented command and subcommand. Subcommands follow their container.
pub static DOCS: &[Doc] = &[
    // connection
    doc!("ping", "1.0.0", "O(1)", "[message]"),
    doc!("echo", "1.0.0", "O(1)", "message"),
    doc!("quit", "1.0.0", "O(1)", ""),
    doc!("select", "1.0.0", "O(1)", "index"),
    doc!("auth", "1.0.0", "O(1)", "[username] password"),
    doc!("hello", "6.0.0", "O(1)", "[protover [AUTH username password] [SETNAME clientname]]"),
    doc!("client", "2.4.0", "Depends on subcommand.", ""),
    doc!("client|id", "5.0.0", "O(1)", "Returns the unique client ID of the connection.", ""),
    doc!("client|getname", "2.6.9", "O(1)", "Returns the name of the connection.", ""),
    doc!("client|setname", "2.6.9", "O(1)", "Sets the connection name.", "connection-name"),
    doc!("client|setinfo", "7.2.0", "O(1)", "Sets information about the client library.", "LIB-NAME libname|LIB-VER libver"),
    doc!("client|info", "6.2.0", "O(1)", "Returns information about the connection.", ""),
    doc!("client|list", "2.4.0", "O(N) where N is the number of client connections", "Lists open connections.", "[TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID client-id [client-id ...]]"),
    doc!("client|kill", "2.4.0", "O(N) where N is the number of client connections", "Terminates open connections.", "ip:port|[ID client-id] [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [USER username] [ADDR ip:port] [LADDR ip:port] [SKIPME yes/no]"),
    doc!("client|unblock", "5.0.0", "O(log N) where N is the number of client connections", "Unblocks a client blocked by a blocking command from a different connection.", "client-id [TIMEOUT|ERROR]"),
    doc!("client|reply", "3.2.0", "O(1)", "Instructs the server whether to reply to commands.", "ON|OFF|SKIP"),
    doc!("client|no-evict", "7.0.0", "O(1)", "Accepted for compatibility: Strata does not evict clients.", "ON|OFF"),
    doc!("client|no-touch", "7.2.0", "O(1)", "Accepted for compatibility.", "ON|OFF"),
    doc!("client|pause", "2.9.50", "O(1)", "Stop processing commands from clients for some time.", "timeout [WRITE|ALL]"),
    doc!("client|unpause", "6.2.0", "O(N) Where N is the number of paused clients", "Resume processing of clients that were paused.", ""),
    doc!("client|tracking", "6.0.0", "O(1). Some options may introduce additional complexity.", "Controls server-assisted client-side caching for the connection.", "ON|OFF [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]"),
    doc!("client|caching", "6.0.0", "O(1)", "Instructs the server whether to track the keys in the next request.", "YES|NO"),
    doc!("client|trackinginfo", "6.2.0", "O(1)", "Returns information about server-assisted client-side caching for the connection.", ""),
    doc!("client|getredir", "6.0.0", "O(1)", "Returns the client ID to which the connection's tracking notifications are redirected.", ""),
    doc!("client|help", "5.0.0", "O(1)", "Returns helpful text about the different subcommands.", ""),
    doc!("reset", "6.2.0", "O(1)", ""),
    doc!("acl", "6.0.0", "Depends on subcommand.", ""),
    doc!("acl|cat", "6.0.0", "O(1) since the categories and commands are a fixed set.", "Lists the ACL categories, or the commands inside a category.", "[category]"),
    doc!("acl|deluser", "6.0.0", "O(1) amortized time considering the typical user.", "Deletes ACL users, and terminates their connections.", "username [username ...]"),
    doc!("acl|genpass", "6.0.0", "O(N)", "Generates a pseudorandom, secure password that can be used to identify ACL users.", "[bits]"),
    doc!("acl|getuser", "6.0.0", "O(N). Where N is the number of password, command and pattern rules that the user has.", "Lists the ACL rules of a user.", "username"),
    doc!("acl|dryrun", "7.0.0", "O(1).", "Simulates the execution of a command by a user, without executing the command.", "username command [arg [arg ...]]"),
    doc!("acl|log", "6.0.0", "O(N) with N being the number of entries shown.", "Lists recent security events generated due to ACL rules.", "[count|RESET]"),
    doc!("acl|list", "6.0.0", "O(N). Where N is the number of configured users.", "Dumps the effective rules in ACL file format.", ""),
    doc!("acl|load", "6.0.0", "O(N). Where N is the number of configured users.", "Reload the ACLs from the configured ACL file", ""),
    doc!("acl|save", "6.0.0", "O(N). Where N is the number of configured users.", "Save the current ACL rules in the configured ACL file", ""),
    doc!("acl|setuser", "6.0.0", "O(N). Where N is the number of rules provided.", "Creates and modifies an ACL user and its rules.", "username [rule [rule ...]]"),
    doc!("acl|users", "6.0.0", "O(N). Where N is the number of configured users.", "Lists all ACL users.", ""),
    doc!("acl|whoami", "6.0.0", "O(1)", "Returns the authenticated username of the current connection.", ""),
    doc!("acl|help", "6.0.0", "O(1)", "Returns helpful text about the different subcommands.", ""),
    // server
    doc!("dbsize", "1.0.0", "O(1)", ""),
    doc!("flushdb", "1.0.0", "O(N) where N is the number of keys in the selected database", "[ASYNC|SYNC]"),
    doc!("flushall", "1.0.0", "O(N) where N is the total number of keys in all databases", "[ASYNC|SYNC]"),
    doc!("swapdb", "4.0.0", "O(N) where N is the number of clients watching keys of both databases", "index1 index2"),
    doc!("info", "1.0.0", "O(1)", "[section [section ...]]"),
    doc!("config", "2.0.0", "Depends on subcommand.", ""),
    doc!("config|get", "2.0.0", "O(N) where N is the number of configuration parameters", "Returns the effective values of configuration parameters.", "parameter [parameter ...]"),
    doc!("config|set", "2.0.0", "O(N) where N is the number of parameters set", "Sets configuration parameters at runtime (all or none).", "parameter value [parameter value ...]"),
    doc!("config|resetstat", "2.0.0", "O(1)", "Resets the statistics reported by INFO.", ""),
    doc!("config|rewrite", "2.8.0", "O(1)", "Persists the effective configuration to file.", ""),
    doc!("config|help", "5.0.0", "O(1)", "Returns helpful text about the different subcommands.", ""),
    doc!("command", "2.8.13", "O(N) where N is the number of commands", ""),
    doc!("command|count", "2.8.13", "O(1)", "Returns a count of commands.", ""),
    doc!("command|list", "7.0.0", "O(N) where N is the number of commands", "Returns a list of command names.", ""),
    doc!("command|info", "2.8.13", "O(N) where N is the number of commands to look up", "Returns information about one, multiple or all commands.", "[command-name [command-name ...]]"),
    doc!("command|docs", "7.0.0", "O(N) where N is the number of commands to look up", "Returns documentary information about one, multiple or all commands.", "[command-name [command-name ...]]"),
    doc!("command|getkeys", "2.8.13", "O(N) where N is the number of arguments to the command", "Extracts the key names from an arbitrary command.", "command [arg [arg ...]]"),
    doc!("command|getkeysandflags", "7.0.0", "O(N) where N is the number of arguments to the command", "Extracts the key names and access flags for an arbitrary command.", "command [arg [arg ...]]"),
    doc!("command|help", "5.0.0", "O(1)", "Returns helpful text about the different subcommands.", ""),
    doc!("time", "2.6.0", "O(1)", ""),
    doc!("debug", "1.0.0", "Depends on subcommand.", ""),
    doc!("debug|sleep", "1.0.0", "O(1)", "Blocks the server for the given time.", "seconds:double"),
    doc!("debug|set-active-expire", "1.0.0", "O(1)", "Turns the active expiry of keys on or off.", "0|1"),
    doc!("debug|populate", "1.0.0", "O(N) where N is the number of keys to create", "Creates keys prefix:0 to prefix:count-1 that don't exist yet.", "count [prefix] [size]"),
    doc!("debug|object", "1.0.0", "O(1)", "Returns internal details of a key's value.", "key"),
    doc!("debug|reload", "1.0.0", "O(N) where N is the number of keys", "Saves a snapshot, empties the keyspace and loads the snapshot back.", ""),
    doc!("debug|help", "1.0.0", "O(1)", "Returns helpful text about the different subcommands.", ""),
    doc!("shutdown", "1.0.0", "O(1)", "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]"),
    doc!("lastsave", "1.0.0", "O(1)", ""),
    doc!("save", "1.0.0", "O(N) where N is the total number of keys in all databases", ""),
    doc!("bgsave", "1.0.0", "O(1)", "[SCHEDULE]"),
    doc!("bgrewriteaof", "1.0.0", "O(1)", ""),
    // strings
    doc!("get", "1.0.0", "O(1)", "key"),
    doc!("set", "1.0.0", "O(1)", "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"),
    doc!("setnx", "1.0.0", "O(1)", "key value"),
    doc!("setex", "2.0.0", "O(1)", "key seconds value"),
    doc!("psetex", "2.6.0", "O(1)", "key milliseconds value"),
    doc!("getset", "1.0.0", "O(1)", "key value"),
    doc!("getdel", "6.2.0", "O(1)", "key"),
    doc!("getex", "6.2.0", "O(1)", "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]"),
    doc!("mget", "1.0.0", "O(N) where N is the number of keys", "key [key ...]"),
    doc!("mset", "1.0.1", "O(N) where N is the number of keys", "key value [key value ...]"),
    doc!("msetnx", "1.0.1", "O(N) where N is the number of keys", "key value [key value ...]"),
    doc!("append", "2.0.0", "O(1) amortized", "key value"),
    doc!("strlen", "2.2.0", "O(1)", "key"),
    doc!("getrange", "2.4.0", "O(N) where N is the length of the returned string", "key start end"),
    doc!("substr", "1.0.0", "O(N) where N is the length of the returned string", "key start end"),
    doc!("setrange", "2.2.0", "O(M) where M is the length of the value argument, plus growing the string", "key offset value"),
    doc!("incr", "1.0.0", "O(1)", "key"),
    doc!("decr", "1.0.0", "O(1)", "key"),
    doc!("incrby", "1.0.0", "O(1)", "key increment"),
    doc!("decrby", "1.0.0", "O(1)", "key decrement"),
    doc!("incrbyfloat", "2.6.0", "O(1)", "key increment:double"),
    // keys
    doc!("del", "1.0.0", "O(N) where N is the number of keys", "key [key ...]"),
    doc!("unlink", "4.0.0", "O(N) where N is the number of keys", "key [key ...]"),
    doc!("exists", "1.0.0", "O(N) where N is the number of keys", "key [key ...]"),
    doc!("type", "1.0.0", "O(1)", "key"),
    doc!("rename", "1.0.0", "O(1)", "key newkey"),
    doc!("renamenx", "1.0.0", "O(1)", "key newkey"),
    doc!("keys", "1.0.0", "O(N) where N is the number of keys in the database", "pattern"),
    doc!("scan", "2.8.0", "O(1) for every call, O(N) for a complete iteration", "cursor [MATCH pattern] [COUNT count] [TYPE type]"),
    doc!("randomkey", "1.0.0", "O(1)", ""),
    doc!("touch", "3.2.1", "O(N) where N is the number of keys", "key [key ...]"),
    doc!("copy", "6.2.0", "O(1) for strings", "source destination [DB destination-db] [REPLACE]"),
    doc!("dump", "2.6.0", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).", "key"),
    doc!("restore", "2.6.0", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).", "key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]"),
    doc!("move", "1.0.0", "O(1)", "key db"),
    doc!("object", "2.2.3", "Depends on subcommand.", ""),
    doc!("object|encoding", "2.2.3", "O(1)", "Returns the internal encoding of a key's value.", "key"),
    doc!("object|freq", "4.0.0", "O(1)", "Returns the access frequency counter of a key's value.", "key"),
    doc!("object|idletime", "2.2.3", "O(1)", "Returns the time since a key's value was last accessed.", "key"),
    doc!("object|refcount", "2.2.3", "O(1)", "Returns the reference count of a key's value.", "key"),
    doc!("object|help", "6.2.0", "O(1)", "Returns helpful text about the different subcommands.", ""),
    doc!("expire", "1.0.0", "O(1)", "key seconds [NX|XX|GT|LT]"),
    doc!("pexpire", "2.6.0", "O(1)", "key milliseconds [NX|XX|GT|LT]"),
    doc!("expireat", "1.2.0", "O(1)", "key unix-time-seconds [NX|XX|GT|LT]"),
    doc!("pexpireat", "2.6.0", "O(1)", "key unix-time-milliseconds [NX|XX|GT|LT]"),
    doc!("ttl", "1.0.0", "O(1)", "key"),
    doc!("pttl", "2.6.0", "O(1)", "key"),
    doc!("expiretime", "7.0.0", "O(1)", "key"),
    doc!("pexpiretime", "7.0.0", "O(1)", "key"),
    doc!("persist", "2.2.0", "O(1)", "key"),
    // transactions
    // scripting
    doc!("eval", "2.6.0", "Depends on the script that is executed.", "script numkeys [key [key ...]] [arg [arg ...]]"),
    doc!("evalsha", "2.6.0", "Depends on the script that is executed.", "sha1 numkeys [key [key ...]] [arg [arg ...]]"),
    doc!("eval_ro", "7.0.0", "Depends on the script that is executed.", "script numkeys [key [key ...]] [arg [arg ...]]"),
    doc!("evalsha_ro", "7.0.0", "Depends on the script that is executed.", "sha1 numkeys [key [key ...]] [arg [arg ...]]"),
    doc!("script", "2.6.0", "Depends on subcommand.", ""),
    doc!("script|debug", "3.2.0", "O(1)", "Sets the debug mode of server-side Lua scripts (only NO is supported).", "YES|SYNC|NO"),
    doc!("script|exists", "2.6.0", "O(N) with N being the number of scripts to check", "Determines whether server-side Lua scripts exist in the script cache.", "sha1 [sha1 ...]"),
    doc!("script|flush", "2.6.0", "O(N) with N being the number of scripts in cache", "Removes all server-side Lua scripts from the script cache.", "[ASYNC|SYNC]"),
    doc!("script|kill", "2.6.0", "O(1)", "Terminates a server-side Lua script during execution (Strata: none is ever in execution when it is read).", ""),
    doc!("script|load", "2.6.0", "O(N) with N being the length in bytes of the script body.", "Loads a server-side Lua script to the script cache.", "script"),
    doc!("script|help", "5.0.0", "O(1)", "Returns helpful text about the different subcommands.", ""),
    doc!("fcall", "7.0.0", "Depends on the function that is executed.", "function numkeys [key [key ...]] [arg [arg ...]]"),
    doc!("fcall_ro", "7.0.0", "Depends on the function that is executed.", "function numkeys [key [key ...]] [arg [arg ...]]"),
    doc!("function", "7.0.0", "Depends on subcommand.", ""),
    doc!("function|delete", "7.0.0", "O(1)", "Deletes a library and its functions.", "library-name"),
    doc!("function|dump", "7.0.0", "O(N) where N is the number of functions", "Dumps all libraries into a serialized binary payload.", ""),
    doc!("function|flush", "7.0.0", "O(N) where N is the number of functions deleted", "Deletes all libraries and functions.", "[ASYNC|SYNC]"),
    doc!("function|kill", "7.0.0", "O(1)", "Terminates a function during execution (Strata: none is ever in execution when it is read).", ""),
    doc!("function|list", "7.0.0", "O(N) where N is the number of functions", "Returns information about all libraries.", "[LIBRARYNAME library-name-pattern] [WITHCODE]"),
    doc!("function|load", "7.0.0", "O(1) (considering compilation time is redundant)", "Creates a library.", "[REPLACE] function-code"),
    doc!("function|restore", "7.0.0", "O(N) where N is the number of functions on the payload", "Restores all libraries from a payload.", "serialized-value [FLUSH|APPEND|REPLACE]"),
    doc!("function|stats", "7.0.0", "O(1)", "Returns information about a function during execution.", ""),
    doc!("function|help", "7.0.0", "O(1)", "Returns helpful text about the different subcommands.", ""),
    doc!("multi", "1.2.0", "O(1)", ""),
    doc!("exec", "1.2.0", "Depends on commands in the transaction", ""),
    doc!("discard", "2.0.0", "O(N) where N is the number of queued commands", ""),
    doc!("watch", "2.2.0", "O(1) for every key", "key [key ...]"),
    doc!("unwatch", "2.2.0", "O(1)", ""),
    // pubsub
    doc!("subscribe", "2.0.0", "O(N) where N is the number of channels to subscribe to.", "channel [channel ...]"),
    doc!("unsubscribe", "2.0.0", "O(N) where N is the number of clients already subscribed to a channel.", "[channel [channel ...]]"),
    doc!("psubscribe", "2.0.0", "O(N) where N is the number of patterns the client is already subscribed to.", "pattern [pattern ...]"),
    doc!("punsubscribe", "2.0.0", "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).", "[pattern [pattern ...]]"),
    doc!("publish", "2.0.0", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).", "channel message"),
    doc!("ssubscribe", "7.0.0", "O(N) where N is the number of shard channels to subscribe to.", "shardchannel [shardchannel ...]"),
    doc!("sunsubscribe", "7.0.0", "O(N) where N is the number of clients already subscribed to a shard channel.", "[shardchannel [shardchannel ...]]"),
    doc!("spublish", "7.0.0", "O(N) where N is the number of clients subscribed to the receiving shard channel.", "shardchannel message"),
    doc!("pubsub", "2.8.0", "Depends on subcommand.", ""),
    doc!("pubsub|channels", "2.8.0", "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)", "Returns the active channels.", "[pattern]"),
    doc!("pubsub|numsub", "2.8.0", "O(N) for the NUMSUB subcommand, where N is the number of requested channels", "Returns a count of subscribers to channels.", "[channel [channel ...]]"),
    doc!("pubsub|numpat", "2.8.0", "O(1)", "Returns a count of unique pattern subscriptions.", ""),
    doc!("pubsub|shardchannels", "7.0.0", "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).", "Returns the active shard channels.", "[pattern]"),
    doc!("pubsub|shardnumsub", "7.0.0", "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels", "Returns the count of subscribers of shard channels.", "[shardchannel [shardchannel ...]]"),
    doc!("pubsub|help", "6.2.0", "O(1)", "Returns helpful text about the different subcommands.", ""),
    // lists
    doc!("lpush", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "key element [element ...]"),
    doc!("rpush", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "key element [element ...]"),
    doc!("lpushx", "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "key element [element ...]"),
    doc!("rpushx", "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "key element [element ...]"),
    doc!("lpop", "1.0.0", "O(N) where N is the number of elements returned", "key [count]"),
    doc!("rpop", "1.0.0", "O(N) where N is the number of elements returned", "key [count]"),
    doc!("llen", "1.0.0", "O(1)", "key"),
    doc!("lrange", "1.0.0", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", "key start stop:integer"),
    doc!("lindex", "1.0.0", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).", "key index"),
    doc!("lset", "1.0.0", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).", "key index element"),
    doc!("linsert", "2.2.0", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).", "key BEFORE|AFTER pivot element"),
    doc!("lrem", "1.0.0", "O(N+M) where N is the length of the list and M is the number of elements removed.", "key count element"),
    doc!("ltrim", "1.0.0", "O(N) where N is the number of elements to be removed by the operation.", "key start stop:integer"),
    doc!("lpos", "6.0.6", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.", "key element [RANK rank:integer] [COUNT num-matches:integer] [MAXLEN len:integer]"),
    doc!("lmove", "6.2.0", "O(1)", "source destination LEFT|RIGHT LEFT|RIGHT"),
    doc!("rpoplpush", "1.2.0", "O(1)", "source destination"),
    doc!("lmpop", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "numkeys key [key ...] LEFT|RIGHT [COUNT count]"),
    doc!("blpop", "2.0.0", "O(N) where N is the number of provided keys.", "key [key ...] timeout:double"),
    doc!("brpop", "2.0.0", "O(N) where N is the number of provided keys.", "key [key ...] timeout:double"),
    doc!("blmove", "6.2.0", "O(1)", "source destination LEFT|RIGHT LEFT|RIGHT timeout:double"),
    doc!("brpoplpush", "2.2.0", "O(1)", "source destination timeout:double"),
    doc!("blmpop", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "timeout:double numkeys key [key ...] LEFT|RIGHT [COUNT count]"),
    // end lists
    // hashes
    doc!("hset", "2.0.0", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.", "key field value [field value ...]"),
    doc!("hsetnx", "2.0.0", "O(1)", "key field value"),
    doc!("hget", "2.0.0", "O(1)", "key field"),
    doc!("hmget", "2.0.0", "O(N) where N is the number of fields being requested.", "key field [field ...]"),
    doc!("hmset", "2.0.0", "O(N) where N is the number of fields being set.", "key field value [field value ...]"),
    doc!("hdel", "2.0.0", "O(N) where N is the number of fields to be removed.", "key field [field ...]"),
    doc!("hlen", "2.0.0", "O(1)", "key"),
    doc!("hstrlen", "3.2.0", "O(1)", "key field"),
    doc!("hexists", "2.0.0", "O(1)", "key field"),
    doc!("hkeys", "2.0.0", "O(N) where N is the size of the hash.", "key"),
    doc!("hvals", "2.0.0", "O(N) where N is the size of the hash.", "key"),
    doc!("hgetall", "2.0.0", "O(N) where N is the size of the hash.", "key"),
    doc!("hincrby", "2.0.0", "O(1)", "key field increment"),
    doc!("hincrbyfloat", "2.6.0", "O(1)", "key field increment:double"),
    doc!("hrandfield", "6.2.0", "O(N) where N is the number of fields returned", "key [count [WITHVALUES]]"),
    doc!("hscan", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", "key cursor [MATCH pattern] [COUNT count]"),
    // end hashes
    // sets
    doc!("sadd", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "key member [member ...]"),
    doc!("srem", "1.0.0", "O(N) where N is the number of members to be removed.", "key member [member ...]"),
    doc!("smove", "1.0.0", "O(1)", "source destination member"),
    doc!("sismember", "1.0.0", "O(1)", "key member"),
    doc!("smismember", "6.2.0", "O(N) where N is the number of elements being checked for membership", "key member [member ...]"),
    doc!("scard", "1.0.0", "O(1)", "key"),
    doc!("spop", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", "key [count]"),
    doc!("srandmember", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", "key [count]"),
    doc!("sinter", "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "key [key ...]"),
    doc!("sintercard", "7.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "numkeys key [key ...] [LIMIT limit:integer]"),
    doc!("sinterstore", "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "destination key [key ...]"),
    doc!("sunion", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "key [key ...]"),
    doc!("sunionstore", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "destination key [key ...]"),
    doc!("sdiff", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "key [key ...]"),
    doc!("sdiffstore", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "destination key [key ...]"),
    doc!("smembers", "1.0.0", "O(N) where N is the set cardinality.", "key"),
    doc!("sscan", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "key cursor [MATCH pattern] [COUNT count]"),
    // end sets
    // sorted sets
    doc!("zadd", "1.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", "key [NX|XX] [GT|LT] [CH] [INCR] score:double member [score:double member ...]"),
    doc!("zincrby", "1.2.0", "O(log(N)) where N is the number of elements in the sorted set.", "key increment:double member"),
    doc!("zrem", "1.2.0", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", "key member [member ...]"),
    doc!("zremrangebyscore", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "key min:double max:double"),
    doc!("zremrangebyrank", "2.0.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "key start stop:integer"),
    doc!("zremrangebylex", "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "key min max"),
    doc!("zunionstore", "2.0.0", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", "destination numkeys key [key ...] [WEIGHTS weight:integer [weight:integer ...]] [AGGREGATE SUM|MIN|MAX]"),
    doc!("zinterstore", "2.0.0", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", "destination numkeys key [key ...] [WEIGHTS weight:integer [weight:integer ...]] [AGGREGATE SUM|MIN|MAX]"),
    doc!("zdiffstore", "6.2.0", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", "destination numkeys key [key ...]"),
    doc!("zunion", "6.2.0", "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", "numkeys key [key ...] [WEIGHTS weight:integer [weight:integer ...]] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]"),
    doc!("zinter", "6.2.0", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", "numkeys key [key ...] [WEIGHTS weight:integer [weight:integer ...]] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]"),
    doc!("zdiff", "6.2.0", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", "numkeys key [key ...] [WITHSCORES]"),
    doc!("zrange", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"),
    doc!("setbit", "2.2.0", "O(1)", "key offset:integer value:integer"),
    doc!("getbit", "2.2.0", "O(1)", "key offset:integer"),
    doc!("bitcount", "2.6.0", "O(N)", "key [start:integer end:integer [BYTE|BIT]]"),
    doc!("bitpos", "2.8.7", "O(N)", "key bit:integer [start:integer [end:integer [BYTE|BIT]]]"),
    doc!("bitop", "2.6.0", "O(N)", "operation destkey:key key [key ...]"),
    doc!("bitfield", "3.2.0", "O(1) for each subcommand specified", "key [(GET encoding offset:integer|[OVERFLOW WRAP|SAT|FAIL] (SET encoding offset:integer value:integer|INCRBY encoding offset:integer increment:integer)) [(GET encoding offset:integer|[OVERFLOW WRAP|SAT|FAIL] (SET encoding offset:integer value:integer|INCRBY encoding offset:integer increment:integer)) ...]]"),
    doc!("bitfield_ro", "6.0.0", "O(1) for each subcommand specified", "key [GET encoding offset:integer [GET encoding offset:integer ...]]"),
    doc!("pfadd", "2.8.9", "O(1) to add every element.", "key [element [element ...]]"),
    doc!("pfcount", "2.8.9", "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.", "key [key ...]"),
    doc!("pfmerge", "2.8.9", "O(N) to merge N HyperLogLogs, but with high constant times.", "destkey:key [sourcekey:key [sourcekey:key ...]]"),
    doc!("geoadd", "3.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", "key [NX|XX] [CH] longitude:double latitude:double member [longitude:double latitude:double member ...]"),
    doc!("geopos", "3.2.0", "O(N) where N is the number of members requested.", "key [member [member ...]]"),
    doc!("geodist", "3.2.0", "O(log(N))", "key member1 member2 [M|KM|FT|MI]"),
    doc!("geohash", "3.2.0", "O(log(N)) for each member requested, where N is the number of elements in the sorted set.", "key [member [member ...]]"),
    doc!("georadius", "3.2.0", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "key longitude:double latitude:double radius:double M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC] [STORE key|STOREDIST key]"),
    doc!("georadius_ro", "3.2.10", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "key longitude:double latitude:double radius:double M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC]"),
    doc!("georadiusbymember", "3.2.0", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "key member radius:double M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC] [STORE key|STOREDIST key]"),
    doc!("georadiusbymember_ro", "3.2.10", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "key member radius:double M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC]"),
    doc!("geosearch", "6.2.0", "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape", "key (FROMMEMBER member|FROMLONLAT longitude:double latitude:double) (BYRADIUS radius:double (M|KM|FT|MI)|BYBOX width:double height:double (M|KM|FT|MI)) [ASC|DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]"),
    doc!("geosearchstore", "6.2.0", "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape", "destination:key source:key (FROMMEMBER member|FROMLONLAT longitude:double latitude:double) (BYRADIUS radius:double (M|KM|FT|MI)|BYBOX width:double height:double (M|KM|FT|MI)) [ASC|DESC] [COUNT count [ANY]] [STOREDIST]"),
    doc!("monitor", "1.0.0", "", ""),
    doc!("latency", "2.8.13", "Depends on subcommand.", ""),
    doc!("latency|doctor", "2.8.13", "O(1)", "Returns a human-readable latency analysis report.", ""),
    doc!("latency|graph", "2.8.13", "O(1)", "Returns a latency graph for an event.", "event"),
    doc!("latency|help", "2.8.13", "O(1)", "Returns helpful text about the different subcommands.", ""),
    doc!("latency|histogram", "7.0.0", "O(N) where N is the number of commands with latency information being retrieved.", "Returns the cumulative distribution of latencies of a subset or all commands.", "[command [command ...]]"),
    doc!("latency|history", "2.8.13", "O(1)", "Returns timestamp-latency samples for an event.", "event"),
    doc!("latency|latest", "2.8.13", "O(1)", "Returns the latest latency samples for all events.", ""),
    doc!("latency|reset", "2.8.13", "O(1)", "Resets the latency data for one or more events.", "[event [event ...]]"),
    doc!("wait", "3.0.0", "O(1)", "numreplicas:integer timeout:integer"),
    doc!("waitaof", "7.2.0", "O(1)", "numlocal:integer numreplicas:integer timeout:integer"),
    doc!("slowlog", "2.2.12", "Depends on subcommand.", ""),
    doc!("slowlog|get", "2.2.12", "O(N) where N is the number of entries returned", "Get the slow log's entries", "[count:integer]"),
    doc!("slowlog|len", "2.2.12", "O(1)", "Get the slow log's length", ""),
    doc!("slowlog|reset", "2.2.12", "O(N) where N is the number of entries in the slowlog", "Clear all entries from the slow log", ""),
    doc!("slowlog|help", "6.2.0", "O(1)", "Show helpful text about the different subcommands", ""),
    doc!("memory", "4.0.0", "Depends on subcommand.", ""),
    doc!("memory|usage", "4.0.0", "O(N) where N is the number of samples.", "Estimates the memory usage of a key.", "key [SAMPLES count:integer]"),
    doc!("memory|stats", "4.0.0", "O(1)", "Returns details about memory usage.", ""),
    doc!("memory|doctor", "4.0.0", "O(1)", "Outputs a memory problems report.", ""),
    doc!("memory|malloc-stats", "4.0.0", "Depends on how much memory is allocated, could be slow", "Returns the allocator statistics.", ""),
    doc!("memory|purge", "4.0.0", "Depends on how much memory is allocated, could be slow", "Asks the allocator to release memory.", ""),
    doc!("memory|help", "4.0.0", "O(1)", "Returns helpful text about the different subcommands.", ""),
    doc!("lcs", "7.0.0", "O(N*M) where N and M are the lengths of s1 and s2, respectively", "key1:key key2:key [LEN] [IDX] [MINMATCHLEN min-match-len:integer] [WITHMATCHLEN]"),
    doc!("sort", "1.0.0", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).", "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA] [STORE destination:key]"),
    doc!("sort_ro", "7.0.0", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).", "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA]"),
    doc!("zrangestore", "6.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.", "dst:key src:key min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]"),
    doc!("zrangebyscore", "1.0.5", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.", "key min:double max:double [WITHSCORES] [LIMIT offset count]"),
    doc!("zrevrangebyscore", "2.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.", "key max:double min:double [WITHSCORES] [LIMIT offset count]"),
    doc!("zrangebylex", "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.", "key min max [LIMIT offset count]"),
    doc!("zrevrangebylex", "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.", "key max min [LIMIT offset count]"),
    doc!("zrevrange", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "key start stop:integer [WITHSCORES]"),
    doc!("zcount", "2.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "key min:double max:double"),
    doc!("zlexcount", "2.8.9", "O(log(N)) with N being the number of elements in the sorted set.", "key min max"),
    doc!("zcard", "1.2.0", "O(1)", "key"),
    doc!("zscore", "1.2.0", "O(1)", "key member"),
    doc!("zmscore", "6.2.0", "O(N) where N is the number of members being requested.", "key member [member ...]"),
    doc!("zrank", "2.0.0", "O(log(N))", "key member"),
    doc!("zrevrank", "2.0.0", "O(log(N))", "key member"),
    doc!("zscan", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "key cursor [MATCH pattern] [COUNT count]"),
    doc!("zpopmin", "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "key [count]"),
    doc!("zpopmax", "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "key [count]"),
    doc!("bzpopmin", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "key [key ...] timeout:double"),
    doc!("xadd", "5.0.0", "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.", "key [NOMKSTREAM] [(MAXLEN|MINID) [=|~] threshold [LIMIT count:integer]] (*|id) field value [field value ...]"),
    doc!("xlen", "5.0.0", "O(1)", "key"),
    doc!("xrange", "5.0.0", "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).", "key start end [COUNT count:integer]"),
    doc!("xrevrange", "5.0.0", "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).", "key end start [COUNT count:integer]"),
    doc!("xdel", "5.0.0", "O(1) for each single item to delete in the stream, regardless of the stream size.", "key id [id ...]"),
    doc!("xtrim", "5.0.0", "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.", "key (MAXLEN|MINID) [=|~] threshold [LIMIT count:integer]"),
    doc!("xsetid", "5.0.0", "O(1)", "key last-id [ENTRIESADDED entries-added:integer] [MAXDELETEDID max-deleted-id]"),
    doc!("xread", "5.0.0", "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data.", "[COUNT count:integer] [BLOCK milliseconds:integer] STREAMS key [key ...] id [id ...]"),
    doc!("xreadgroup", "5.0.0", "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.", "GROUP group consumer [COUNT count:integer] [BLOCK milliseconds:integer] [NOACK] STREAMS key [key ...] id [id ...]"),
    doc!("xgroup", "5.0.0", "Depends on subcommand.", ""),
    doc!("xgroup|create", "5.0.0", "O(1)", "Create a consumer group.", "key group (id|$) [MKSTREAM] [ENTRIESREAD entries-read:integer]"),
    doc!("xgroup|setid", "5.0.0", "O(1)", "Set a consumer group to an arbitrary last delivered ID value.", "key group (id|$) [ENTRIESREAD entries-read:integer]"),
    doc!("xgroup|destroy", "5.0.0", "O(N) where N is the number of entries in the group's pending entries list (PEL).", "Destroy a consumer group.", "key group"),
    doc!("xgroup|createconsumer", "6.2.0", "O(1)", "Create a consumer in a consumer group.", "key group consumer"),
    doc!("xgroup|delconsumer", "5.0.0", "O(1)", "Delete a consumer from a consumer group.", "key group consumer"),
    doc!("xgroup|help", "5.0.0", "O(1)", "Show helpful text about the different subcommands", ""),
    doc!("xack", "5.0.0", "O(1) for each message ID processed.", "key group id [id ...]"),
    doc!("xpending", "5.0.0", "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.", "key group [[IDLE min-idle-time:integer] start end count:integer [consumer]]"),
    doc!("xclaim", "5.0.0", "O(log N) with N being the number of messages in the PEL of the consumer group.", "key group consumer min-idle-time id [id ...] [IDLE ms:integer] [TIME unix-time-milliseconds] [RETRYCOUNT count:integer] [FORCE] [JUSTID] [LASTID lastid]"),
    doc!("xautoclaim", "6.2.0", "O(1) if COUNT is small.", "key group consumer min-idle-time start [COUNT count:integer] [JUSTID]"),
    doc!("xinfo", "5.0.0", "Depends on subcommand.", ""),
    doc!("xinfo|stream", "5.0.0", "O(1)", "Get information about a stream", "key [FULL [COUNT count:integer]]"),
    doc!("xinfo|groups", "5.0.0", "O(1)", "List the consumer groups of a stream", "key"),
    doc!("xinfo|consumers", "5.0.0", "O(1)", "List the consumers in a consumer group", "key group"),
    doc!("xinfo|help", "5.0.0", "O(1)", "Show helpful text about the different subcommands", ""),
    doc!("bzpopmax", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "key [key ...] timeout:double"),
    doc!("zmpop", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "numkeys key [key ...] MIN|MAX [COUNT count]"),
    doc!("bzmpop", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "timeout:double numkeys key [key ...] MIN|MAX [COUNT count]"),
    doc!("zintercard", "7.0.0", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.", "numkeys key [key ...] [LIMIT limit:integer]"),
    doc!("zrandmember", "6.2.0", "O(N) where N is the number of members returned", "key [count [WITHSCORES]]"),
    // end sorted sets
];

/// The type of an argument, as COMMAND DOCS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    String,
    Integer,
    Double,
    Key,
    Pattern,
    UnixTime,
    PureToken,
    OneOf,
    Block,
}

impl ArgKind {
    pub fn name(self) -> &'static str {
        match self {
            ArgKind::String => "string",
            ArgKind::Integer => "integer",
            ArgKind::Double => "double",
            ArgKind::Key => "key",
            ArgKind::Pattern => "pattern",
            ArgKind::UnixTime => "unix-time",
            ArgKind::PureToken => "pure-token",
            ArgKind::OneOf => "oneof",
            ArgKind::Block => "block",
        }
    }

    fn from_name(s: &str) -> Option<ArgKind> {
        Some(match s {
            "string" => ArgKind::String,
            "integer" => ArgKind::Integer,
            "double" => ArgKind::Double,
            "key" => ArgKind::Key,
            "pattern" => ArgKind::Pattern,
            "unix-time" => ArgKind::UnixTime,
            _ => return None,
        })
    }
}

/// One node of a command's argument tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    pub name: String,
    pub kind: ArgKind,
    /// The literal word that introduces the argument (`EX` in `EX seconds`).
    pub token: Option<String>,
    pub optional: bool,
    pub multiple: bool,
    /// With `multiple`: the token is repeated before every occurrence.
    pub multiple_token: bool,
    /// Alternatives of a oneof, members of a block.
    pub args: Vec<Arg>,
}

impl Arg {
    fn new(name: impl Into<String>, kind: ArgKind) -> Arg {
        Arg {
            name: name.into(),
            kind,
            token: None,
            optional: false,
            multiple: false,
            multiple_token: false,
            args: Vec::new(),
        }
    }

    fn pure_token(token: &str) -> Arg {
        let mut a = Arg::new(token.to_ascii_lowercase(), ArgKind::PureToken);
        a.token = Some(token.to_string());
        a
    }

    /// Several arguments that go together, under a derived name.
    fn block(args: Vec<Arg>) -> Arg {
        let name = args
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join("-");
        let mut b = Arg::new(name, ArgKind::Block);
        b.args = args;
        b
    }
}

/// The type an argument name implies when the syntax gives none.
pub fn infer_kind(name: &str) -> ArgKind {
    match name {
        "key" | "newkey" | "source" | "destination" => ArgKind::Key,
        "pattern" => ArgKind::Pattern,
        n if n.starts_with("unix-time") => ArgKind::UnixTime,
        "index" | "index1" | "index2" | "db" | "destination-db" | "seconds" | "milliseconds"
        | "start" | "end" | "offset" | "increment" | "decrement" | "count" | "cursor"
        | "protover" | "client-id" | "size" | "timeout" | "numkeys" => ArgKind::Integer,
        _ => ArgKind::String,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok<'a> {
    Open(char),
    Close(char),
    Bar,
    Word(&'a str),
}

fn lex(s: &str) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        let special = matches!(c, '[' | ']' | '(' | ')' | '|') || c.is_whitespace();
        if special {
            if let Some(st) = start.take() {
                out.push(Tok::Word(&s[st..i]));
            }
            match c {
                '[' | '(' => out.push(Tok::Open(c)),
                ']' | ')' => out.push(Tok::Close(c)),
                '|' => out.push(Tok::Bar),
                _ => {}
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        out.push(Tok::Word(&s[st..]));
    }
    out
}

fn is_token(w: &str) -> bool {
    w != "..." && !w.chars().any(|c| c.is_ascii_lowercase())
}

struct Parser<'a> {
    toks: Vec<Tok<'a>>,
    pos: usize,
}

/// A sequence as parsed: its arguments, and whether it opened with a token that was
/// attached to its first argument (for the "token + several arguments = block" rule).
struct Seq {
    args: Vec<Arg>,
    leading_token: bool,
    /// Ends with `...`: the content of a repetition group.
    repeat: bool,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.pos)
    }

    /// Alternatives separated by `|`, up to a closing bracket or the end.
    fn alternatives(&mut self) -> Result<Vec<Seq>, String> {
        let mut alts = vec![self.sequence()?];
        while self.peek() == Some(&Tok::Bar) {
            self.pos += 1;
            alts.push(self.sequence()?);
        }
        Ok(alts)
    }

    fn sequence(&mut self) -> Result<Seq, String> {
        let mut args: Vec<Arg> = Vec::new();
        let mut pending: Option<&'a str> = None;
        let mut leading_token = false;
        let mut repeat = false;
        loop {
            let tok = match self.peek() {
                None | Some(Tok::Bar) | Some(Tok::Close(_)) => break,
                Some(t) => t.clone(),
            };
            if repeat {
                return Err("'...' must end a repetition group".into());
            }
            self.pos += 1;
            match tok {
                Tok::Word("...") => {
                    if let Some(t) = pending.take() {
                        args.push(Arg::pure_token(t));
                    }
                    repeat = true;
                }
                Tok::Word(w) if is_token(w) => {
                    if let Some(t) = pending.take() {
                        args.push(Arg::pure_token(t));
                    }
                    pending = Some(w);
                }
                Tok::Word(w) => {
                    let (name, kind) = match w.rsplit_once(':') {
                        Some((n, t)) if ArgKind::from_name(t).is_some() => {
                            (n, ArgKind::from_name(t).expect("checked"))
                        }
                        _ => (w, infer_kind(w)),
                    };
                    let mut a = Arg::new(name, kind);
                    a.token = pending.take().map(str::to_string);
                    leading_token |= a.token.is_some() && args.is_empty();
                    args.push(a);
                }
                Tok::Open('(') => {
                    let mut a = self.group(')')?;
                    if a.token.is_some() && pending.is_some() {
                        return Err("two tokens for one group".into());
                    }
                    if let Some(t) = pending.take() {
                        a.token = Some(t.to_string());
                        leading_token |= args.is_empty();
                    }
                    args.push(a);
                }
                Tok::Open(_) => {
                    if let Some(t) = pending.take() {
                        args.push(Arg::pure_token(t));
                    }
                    self.optional(&mut args)?;
                }
                Tok::Close(_) | Tok::Bar => unreachable!("handled above"),
            }
        }
        if let Some(t) = pending.take() {
            args.push(Arg::pure_token(t));
        }
        if args.is_empty() && !repeat {
            return Err("empty sequence".into());
        }
        Ok(Seq {
            args,
            leading_token,
            repeat,
        })
    }

    /// `[ ... ]`, after the `[`: an optional argument, or `[x ...]` repeating the end of
    /// `args`.
    fn optional(&mut self, args: &mut Vec<Arg>) -> Result<(), String> {
        let alts = self.alternatives()?;
        self.close(']')?;
        if alts.len() == 1 && alts[0].repeat {
            let rep = &alts[0].args;
            if rep.is_empty() || rep.len() > args.len() {
                return Err("nothing to repeat".into());
            }
            let tail = args.split_off(args.len() - rep.len());
            let mut unit = if tail.len() == 1 {
                tail.into_iter().next().expect("one")
            } else {
                Arg::block(tail)
            };
            let rep_unit = if rep.len() == 1 {
                rep[0].clone()
            } else {
                Arg::block(rep.clone())
            };
            if unit.multiple || unit.optional {
                return Err(format!("'{}' repeated twice or optional", unit.name));
            }
            let untokened = Arg {
                token: None,
                ..unit.clone()
            };
            if rep_unit == unit {
                unit.multiple_token = unit.token.is_some();
            } else if unit.token.is_some() && rep_unit == untokened {
                unit.multiple_token = false;
            } else {
                return Err(format!("'[... ...]' does not repeat '{}'", unit.name));
            }
            unit.multiple = true;
            args.push(unit);
            return Ok(());
        }
        let mut a = Self::combine(alts)?;
        if a.optional {
            return Err("nested optional".into());
        }
        a.optional = true;
        args.push(a);
        Ok(())
    }

    /// `( ... )` after the `(`.
    fn group(&mut self, close: char) -> Result<Arg, String> {
        let alts = self.alternatives()?;
        self.close(close)?;
        Self::combine(alts)
    }

    fn close(&mut self, c: char) -> Result<(), String> {
        match self.peek() {
            Some(Tok::Close(x)) if *x == c => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(format!("expected '{c}'")),
        }
    }

    /// The content of a group as one argument: a oneof of the alternatives, each of which
    /// is one argument or a block.
    fn combine(alts: Vec<Seq>) -> Result<Arg, String> {
        let mut units = Vec::with_capacity(alts.len());
        for s in alts {
            if s.repeat {
                return Err("'...' outside a repetition group".into());
            }
            units.push(Self::unit(s));
        }
        if units.len() == 1 {
            return Ok(units.pop().expect("one"));
        }
        let name = units
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join("|");
        let mut o = Arg::new(name, ArgKind::OneOf);
        o.args = units;
        Ok(o)
    }

    fn unit(s: Seq) -> Arg {
        let mut args = s.args;
        if args.len() == 1 {
            return args.pop().expect("one");
        }
        // `TOKEN a b`: a block introduced by the token.
        let token = if s.leading_token {
            args[0].token.take()
        } else {
            None
        };
        let mut b = Arg::block(args);
        if let Some(t) = token {
            b.name = t.to_ascii_lowercase();
            b.token = Some(t);
        }
        b
    }
}

/// Parse a syntax string into the top-level arguments.
pub fn parse(syntax: &str) -> Result<Vec<Arg>, String> {
    let mut p = Parser {
        toks: lex(syntax),
        pos: 0,
    };
    if p.toks.is_empty() {
        return Ok(Vec::new());
    }
    let mut alts = p.alternatives()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected {:?}", p.toks[p.pos]));
    }
    let args = if alts.len() == 1 {
        let s = alts.pop().expect("one");
        if s.repeat {
            return Err("'...' outside a repetition group".into());
        }
        s.args
    } else {
        vec![Parser::combine(alts)?]
    };
    Ok(args)
}

fn parsed() -> &'static [Vec<Arg>] {
    static PARSED: OnceLock<Vec<Vec<Arg>>> = OnceLock::new();
    PARSED.get_or_init(|| {
        DOCS.iter()
            .map(|d| {
                // The tests parse every entry; a broken one documents no arguments
                // rather than taking the server down.
                parse(d.syntax).unwrap_or_default()
            })
            .collect()
    })
}

fn find(name: &str) -> Option<usize> {
    DOCS.iter().position(|d| d.name == name)
}

/// COMMAND DOCS group of a command-table group (Redis files key commands as "generic").
fn docs_group(group: &str) -> &str {
    match group {
        "keyspace" => "generic",
        g => g,
    }
}

fn write_args(out: &mut ReplyBuf, args: &[Arg]) {
    out.array_len(args.len());
    for a in args {
        let flags: Vec<&str> = [
            (a.optional, "optional"),
            (a.multiple, "multiple"),
            (a.multiple_token, "multiple_token"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, f)| *f)
        .collect();
        let n = 2
            + a.token.is_some() as usize
            + !flags.is_empty() as usize
            + !a.args.is_empty() as usize;
        out.map_len(n);
        out.bulk(b"name");
        out.bulk(a.name.as_bytes());
        out.bulk(b"type");
        out.bulk(a.kind.name().as_bytes());
        if let Some(t) = &a.token {
            out.bulk(b"token");
            out.bulk(t.as_bytes());
        }
        if !flags.is_empty() {
            out.bulk(b"flags");
            out.set_len(flags.len());
            for f in flags {
                out.simple(f);
            }
        }
        if !a.args.is_empty() {
            out.bulk(b"arguments");
            write_args(out, &a.args);
        }
    }
}

/// One doc map: summary, since, group, complexity, and arguments / subcommands if any.
fn write_doc(out: &mut ReplyBuf, summary: &str, group: &str, i: Option<usize>, subs: &[usize]) {
    let args: &[Arg] = i.map_or(&[], |i| &parsed()[i]);
    // An undocumented command (the tests forbid them) gets no invented since/complexity.
    // Redis leaves out an empty complexity (MONITOR's).
    let complexity = i.map(|i| DOCS[i].complexity).filter(|c| !c.is_empty());
    let n = 2
        + i.is_some() as usize
        + complexity.is_some() as usize
        + !args.is_empty() as usize
        + !subs.is_empty() as usize;
    out.map_len(n);
    out.bulk(b"summary");
    out.bulk(summary.as_bytes());
    if let Some(i) = i {
        out.bulk(b"since");
        out.bulk(DOCS[i].since.as_bytes());
    }
    out.bulk(b"group");
    out.bulk(group.as_bytes());
    if let Some(c) = complexity {
        out.bulk(b"complexity");
        out.bulk(c.as_bytes());
    }
    if !args.is_empty() {
        out.bulk(b"arguments");
        write_args(out, args);
    }
    if !subs.is_empty() {
        out.bulk(b"subcommands");
        out.map_len(subs.len());
        for &j in subs {
            out.bulk(DOCS[j].name.as_bytes());
            write_doc(out, DOCS[j].summary, group, Some(j), &[]);
        }
    }
}

/// Write one entry of a COMMAND DOCS reply: the command name, then its doc map.
pub fn write_command_docs(out: &mut ReplyBuf, spec: &Spec) {
    out.bulk(spec.name.as_bytes());
    let prefix = format!("{}|", spec.name);
    let subs: Vec<usize> = (0..DOCS.len())
        .filter(|&j| DOCS[j].name.starts_with(&prefix))
        .collect();
    write_doc(
        out,
        spec.summary,
        docs_group(spec.group),
        find(spec.name),
        &subs,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::COMMANDS;
    use crate::protocol::Frame;

    /// The hint text redis-cli 7.0 builds from an argument list (its cliAddArgument).
    fn render(args: &[Arg], sep: &str) -> String {
        args.iter().map(render_one).collect::<Vec<_>>().join(sep)
    }

    fn render_one(a: &Arg) -> String {
        let repeat = match a.kind {
            ArgKind::OneOf => render(&a.args, "|"),
            ArgKind::Block => render(&a.args, " "),
            ArgKind::PureToken => String::new(),
            _ => a.name.clone(),
        };
        let mut token = a.token.clone().unwrap_or_default();
        if !token.is_empty() && a.kind != ArgKind::PureToken {
            token.push(' ');
        }
        let mut s = String::new();
        if a.optional {
            s.push('[');
        }
        s.push_str(&token);
        s.push_str(&repeat);
        if a.multiple {
            s.push_str(" [");
            if a.multiple_token {
                s.push_str(&token);
            }
            s.push_str(&repeat);
            s.push_str(" ...]");
        }
        if a.optional {
            s.push(']');
        }
        s
    }

    /// What the syntax string looks like without the parts redis-cli does not show:
    /// grouping parentheses and `:type` suffixes.
    fn shown(syntax: &str) -> String {
        let mut s: String = syntax.chars().filter(|c| *c != '(' && *c != ')').collect();
        for t in ["string", "integer", "double", "key", "pattern", "unix-time"] {
            s = s.replace(&format!(":{t}"), "");
        }
        s
    }

    fn arg(name: &str, kind: ArgKind) -> Arg {
        Arg::new(name, kind)
    }

    fn tok(mut a: Arg, t: &str) -> Arg {
        a.token = Some(t.into());
        a
    }

    #[test]
    fn every_syntax_parses_and_renders_as_written() {
        for d in DOCS {
            let args = parse(d.syntax).unwrap_or_else(|e| panic!("{}: {e}: {}", d.name, d.syntax));
            assert_eq!(render(&args, " "), shown(d.syntax), "{}", d.name);
        }
    }

    #[test]
    fn every_command_is_documented() {
        for s in COMMANDS {
            assert!(
                find(s.name).is_some(),
                "command '{}' has no entry in src/command/docs.rs DOCS: add one line with its syntax",
                s.name
            );
        }
        for d in DOCS {
            let base = d.name.split('|').next().unwrap();
            assert!(
                COMMANDS.iter().any(|s| s.name == base),
                "DOCS documents '{}', which is not in the command table",
                d.name
            );
            let is_sub = d.name.contains('|');
            assert_eq!(
                is_sub,
                !d.summary.is_empty(),
                "{}: subcommands (only) carry a summary",
                d.name
            );
        }
    }

    #[test]
    fn set_argument_tree() {
        let args = parse(DOCS[find("set").unwrap()].syntax).unwrap();
        let mut condition = arg("nx|xx", ArgKind::OneOf);
        condition.optional = true;
        condition.args = vec![Arg::pure_token("NX"), Arg::pure_token("XX")];
        let mut get = Arg::pure_token("GET");
        get.optional = true;
        let mut expiration = arg(
            "seconds|milliseconds|unix-time-seconds|unix-time-milliseconds|keepttl",
            ArgKind::OneOf,
        );
        expiration.optional = true;
        expiration.args = vec![
            tok(arg("seconds", ArgKind::Integer), "EX"),
            tok(arg("milliseconds", ArgKind::Integer), "PX"),
            tok(arg("unix-time-seconds", ArgKind::UnixTime), "EXAT"),
            tok(arg("unix-time-milliseconds", ArgKind::UnixTime), "PXAT"),
            Arg::pure_token("KEEPTTL"),
        ];
        assert_eq!(
            args,
            vec![
                arg("key", ArgKind::Key),
                arg("value", ArgKind::String),
                condition,
                get,
                expiration
            ]
        );
    }

    #[test]
    fn repetition_blocks_and_tokens() {
        let mset = parse("key value [key value ...]").unwrap();
        assert_eq!(mset.len(), 1);
        assert_eq!(mset[0].kind, ArgKind::Block);
        assert!(mset[0].multiple && !mset[0].optional);
        assert_eq!(
            mset[0].args,
            vec![arg("key", ArgKind::Key), arg("value", ArgKind::String)]
        );

        let list = parse("[ID client-id [client-id ...]]").unwrap();
        let mut id = tok(arg("client-id", ArgKind::Integer), "ID");
        id.optional = true;
        id.multiple = true;
        assert_eq!(list, vec![id]);

        let sort_get = parse("[GET pattern [GET pattern ...]]").unwrap();
        assert!(sort_get[0].multiple && sort_get[0].multiple_token && sort_get[0].optional);

        let hello = parse("[protover [AUTH username password] [SETNAME clientname]]").unwrap();
        assert_eq!(hello.len(), 1);
        let auth = &hello[0].args[1];
        assert_eq!(
            (auth.kind, auth.token.as_deref(), auth.optional),
            (ArgKind::Block, Some("AUTH"), true)
        );
        assert_eq!(
            auth.args,
            vec![
                arg("username", ArgKind::String),
                arg("password", ArgKind::String)
            ]
        );

        let kind = parse("[TYPE (NORMAL|MASTER)]").unwrap();
        assert_eq!(
            (kind[0].kind, kind[0].token.as_deref()),
            (ArgKind::OneOf, Some("TYPE"))
        );

        assert_eq!(
            parse("key increment:double").unwrap()[1],
            arg("increment", ArgKind::Double)
        );
        assert_eq!(parse("").unwrap(), vec![]);
        for bad in [
            "[key",
            "key]",
            "key ...",
            "[x ...]",
            "a [b ...]",
            "[[x]]",
            "a||b",
        ] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn reply_shape_redis_cli_reads() {
        // Every command, in RESP2 and RESP3, checked the way redis-cli 7.0 reads it
        // (cliInitCommandHelpEntry / cliAddArgument assert on these types).
        for resp3 in [false, true] {
            let mut out = ReplyBuf::new(resp3);
            out.map_len(COMMANDS.len());
            for s in COMMANDS {
                write_command_docs(&mut out, s);
            }
            let (frame, used) = Frame::decode(out.as_bytes(), 1 << 24).unwrap().unwrap();
            assert_eq!(used, out.len());
            let table = pairs(&frame);
            assert_eq!(table.len(), COMMANDS.len());
            for (name, doc) in table {
                let name = bulk(name);
                check_doc(&name, doc);
            }
        }
        let mut out = ReplyBuf::new(true);
        write_command_docs(&mut out, crate::command::lookup(b"config").unwrap());
        let (frame, _) = Frame::decode(out.as_bytes(), 1 << 20).unwrap().unwrap();
        assert_eq!(frame, Frame::Bulk(b"config".to_vec()));
        let text = String::from_utf8_lossy(out.as_bytes()).to_string();
        assert!(text.contains("subcommands") && text.contains("config|get"));
    }

    /// The (key, value) pairs of a RESP3 map or a RESP2 flat array.
    fn pairs(f: &Frame) -> Vec<(&Frame, &Frame)> {
        match f {
            Frame::Map(m) => m.iter().map(|(k, v)| (k, v)).collect(),
            Frame::Array(a) => {
                assert!(a.len() % 2 == 0, "odd map {a:?}");
                a.chunks(2).map(|c| (&c[0], &c[1])).collect()
            }
            other => panic!("not a map: {other:?}"),
        }
    }

    fn bulk(f: &Frame) -> String {
        match f {
            Frame::Bulk(b) => String::from_utf8(b.clone()).unwrap(),
            other => panic!("not a bulk string: {other:?}"),
        }
    }

    fn check_doc(name: &str, doc: &Frame) {
        let mut seen = Vec::new();
        for (k, v) in pairs(doc) {
            let k = bulk(k);
            match k.as_str() {
                "summary" | "since" | "group" | "complexity" => {
                    assert!(!bulk(v).is_empty(), "{name} {k}")
                }
                "arguments" => match v {
                    Frame::Array(args) => args.iter().for_each(|a| check_arg(name, a)),
                    other => panic!("{name}: arguments {other:?}"),
                },
                "subcommands" => {
                    for (sub, d) in pairs(v) {
                        let sub = bulk(sub);
                        assert!(sub.starts_with(&format!("{name}|")), "{sub}");
                        check_doc(&sub, d);
                    }
                }
                other => panic!("{name}: unexpected field {other}"),
            }
            seen.push(k);
        }
        // Redis 7.0 itself gives MONITOR no complexity.
        let required: &[&str] = if name == "monitor" {
            &["summary", "since", "group"]
        } else {
            &["summary", "since", "group", "complexity"]
        };
        for k in required {
            assert!(seen.iter().any(|s| s == k), "{name} lacks {k}");
        }
    }

    fn check_arg(cmd: &str, a: &Frame) {
        let (mut kind, mut subargs) = (None, None);
        for (k, v) in pairs(a) {
            match bulk(k).as_str() {
                "name" | "token" => {
                    bulk(v);
                }
                "type" => kind = Some(bulk(v)),
                "flags" => match v {
                    Frame::Set(fl) | Frame::Array(fl) => {
                        for f in fl {
                            assert!(
                                matches!(f, Frame::Simple(s) if ["optional", "multiple", "multiple_token"].contains(&s.as_str())),
                                "{cmd}: flag {f:?}"
                            );
                        }
                    }
                    other => panic!("{cmd}: flags {other:?}"),
                },
                "arguments" => match v {
                    Frame::Array(args) => subargs = Some(args),
                    other => panic!("{cmd}: arguments {other:?}"),
                },
                other => panic!("{cmd}: unexpected argument field {other}"),
            }
        }
        let kind = kind.unwrap_or_else(|| panic!("{cmd}: argument without type"));
        let nested = kind == "oneof" || kind == "block";
        assert!(
            [
                "string",
                "integer",
                "double",
                "key",
                "pattern",
                "unix-time",
                "pure-token",
                "oneof",
                "block"
            ]
            .contains(&kind.as_str()),
            "{cmd}: type {kind}"
        );
        assert_eq!(
            nested,
            subargs.is_some(),
            "{cmd}: {kind} and nested arguments"
        );
        for s in subargs.into_iter().flatten() {
            check_arg(cmd, s);
        }
    }
}
