//! Values crossing between Redis replies and Lua, by Redis's conversion tables: a
//! command's reply becomes a Lua value for `redis.call` (RESP2 rules, or RESP3's after
//! `redis.setresp(3)`), and what a script returns becomes the client's reply.

use mlua::{Lua, Table, Value};

use crate::protocol::{Frame, ReplyBuf};

/// Nesting of a returned table deeper than this is refused (a table that contains
/// itself would otherwise recurse forever), as Redis refuses it.
const MAX_DEPTH: usize = 200;

/// The Lua value for a command's reply.
pub fn frame_to_lua(lua: &Lua, f: Frame) -> mlua::Result<Value> {
    Ok(match f {
        Frame::Integer(n) => Value::Integer(n),
        Frame::Bulk(b) => Value::String(lua.create_string(b)?),
        Frame::NullBulk | Frame::NullArray => Value::Boolean(false),
        Frame::Null => Value::Nil,
        Frame::Simple(s) => field("ok", Value::String(lua.create_string(s)?), lua)?,
        Frame::Error(s) => field("err", Value::String(lua.create_string(s)?), lua)?,
        Frame::Array(items) | Frame::Push(items) => Value::Table(list(lua, items)?),
        Frame::Map(pairs) => {
            let t = lua.create_table_with_capacity(0, pairs.len())?;
            for (k, v) in pairs {
                t.raw_set(frame_to_lua(lua, k)?, frame_to_lua(lua, v)?)?;
            }
            field("map", Value::Table(t), lua)?
        }
        Frame::Set(items) => {
            let t = lua.create_table_with_capacity(0, items.len())?;
            for m in items {
                t.raw_set(frame_to_lua(lua, m)?, true)?;
            }
            field("set", Value::Table(t), lua)?
        }
        Frame::Double(d) => field("double", Value::Number(d), lua)?,
        Frame::Boolean(b) => Value::Boolean(b),
        Frame::BigNumber(s) => field("big_number", Value::String(lua.create_string(s)?), lua)?,
        Frame::Verbatim(format, text) => {
            let t = lua.create_table()?;
            t.raw_set("format", format)?;
            t.raw_set("string", lua.create_string(text)?)?;
            field("verbatim_string", Value::Table(t), lua)?
        }
    })
}

fn field(name: &str, v: Value, lua: &Lua) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(name, v)?;
    Ok(Value::Table(t))
}

fn list(lua: &Lua, items: Vec<Frame>) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.into_iter().enumerate() {
        t.raw_set(i + 1, frame_to_lua(lua, item)?)?;
    }
    Ok(t)
}

/// A status reply's text on one line (Redis replaces CR and LF with spaces).
fn one_line(msg: &str) -> String {
    msg.replace(['\r', '\n'], " ")
}

/// Write the reply for what a script returned. Booleans follow the script's protocol
/// (`redis.setresp`), as in Redis 7.0: RESP3 booleans only after `setresp(3)`, else 1
/// and null.
pub fn reply_from_lua(v: &Value, out: &mut ReplyBuf, script_resp3: bool) -> mlua::Result<()> {
    let at = out.len();
    if let Err(e) = write(v, out, &Style { script_resp3 }, 0) {
        out.truncate(at);
        match e {
            Deep => out.error("ERR reached lua stack limit"),
            LuaError(e) => return Err(e),
        }
    }
    Ok(())
}

struct Style {
    script_resp3: bool,
}

enum Fail {
    Deep,
    Lua(mlua::Error),
}
use Fail::{Deep, Lua as LuaError};

impl From<mlua::Error> for Fail {
    fn from(e: mlua::Error) -> Self {
        LuaError(e)
    }
}

fn write(v: &Value, out: &mut ReplyBuf, style: &Style, depth: usize) -> Result<(), Fail> {
    if depth > MAX_DEPTH {
        return Err(Deep);
    }
    match v {
        Value::Nil => out.null(),
        Value::Boolean(b) if style.script_resp3 => out.boolean(*b),
        Value::Boolean(true) => out.int(1),
        Value::Boolean(false) => out.null(),
        Value::Integer(n) => out.int(*n),
        // Redis truncates a Lua number to an integer reply (3.99 -> 3).
        Value::Number(n) => out.int(c_truncate(*n)),
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Table(t) => write_table(t, out, style, depth)?,
        // Functions, userdata, threads: Redis answers nil.
        _ => out.null(),
    }
    Ok(())
}

fn write_table(t: &Table, out: &mut ReplyBuf, style: &Style, depth: usize) -> Result<(), Fail> {
    if let Value::String(e) = t.raw_get::<Value>("err")? {
        out.error(&e.to_string_lossy());
        return Ok(());
    }
    if let Value::String(s) = t.raw_get::<Value>("ok")? {
        out.simple(&one_line(&s.to_string_lossy()));
        return Ok(());
    }
    let double = match t.raw_get::<Value>("double")? {
        Value::Number(d) => Some(d),
        Value::Integer(d) => Some(d as f64),
        _ => None,
    };
    if let Some(d) = double {
        out.double(d);
        return Ok(());
    }
    if let Value::String(s) = t.raw_get::<Value>("big_number")? {
        let digits = s.to_string_lossy();
        if out.resp3() {
            out.big_number(&digits);
        } else {
            out.bulk(digits.as_bytes());
        }
        return Ok(());
    }
    if let Value::Table(m) = t.raw_get::<Value>("map")? {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().collect::<Result<_, _>>()?;
        out.map_len(pairs.len());
        for (k, v) in &pairs {
            write(k, out, style, depth + 1)?;
            write(v, out, style, depth + 1)?;
        }
        return Ok(());
    }
    if let Value::Table(s) = t.raw_get::<Value>("set")? {
        let members: Vec<Value> = s
            .pairs::<Value, Value>()
            .map(|p| p.map(|(k, _)| k))
            .collect::<Result<_, _>>()?;
        out.set_len(members.len());
        for m in &members {
            write(m, out, style, depth + 1)?;
        }
        return Ok(());
    }
    // An array: the elements up to the first nil, as Redis reads it.
    let mut items = Vec::new();
    loop {
        let v = t.raw_get::<Value>(items.len() + 1)?;
        if v.is_nil() {
            break;
        }
        items.push(v);
    }
    out.array_len(items.len());
    for v in &items {
        write(v, out, style, depth + 1)?;
    }
    Ok(())
}

/// C's `(long long)n`, as Redis converts a Lua number for its integer reply, with
/// x86-64's result where C leaves it undefined: a NaN or a number outside the i64 range
/// (as `2^63`, what Lua makes of 9223372036854775807) gives `i64::MIN`, where Rust's
/// `as` would saturate.
fn c_truncate(n: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if n.is_nan() || !(-LIMIT..LIMIT).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}
