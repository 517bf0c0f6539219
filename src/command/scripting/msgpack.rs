//! `cmsgpack`, MessagePack for scripts, as Redis 7.0 bundles it (lua-cmsgpack 0.4.0):
//! `pack(v, ...)`, `unpack(s)`, `unpack_one(s [, offset])`, `unpack_limit(s, limit [,
//! offset])`. Scripts store what they pack (BullMQ keeps a job's options packed in its
//! hash) and read back what a script on Redis packed, so the encoding is Redis's byte
//! for byte: the smallest integer form, a float when the value survives the round trip
//! through one, a table as an array when its keys are exactly 1..n, a table nested 16
//! deep (or a function, or `cjson.null`) as nil. Its errors are Redis's too.
//!
//! The decoder reads bytes a script got from anywhere: it is bounded by the input and by
//! Lua's C stack limit (the same slots Redis's decoder uses, so the same inputs fail),
//! keeps its own stack of open containers instead of recursing, and never allocates
//! ahead of the bytes it has read.

use mlua::{Lua, MultiValue, Table, Value, Variadic};

use super::auxlib;

/// Deeper tables encode as nil (so that a table holding itself terminates).
const MAX_NESTING: usize = 16;

const TOO_MANY: &str = "too many return values at once; use unpack_one or unpack_limit instead.";

pub fn cmsgpack(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.is_empty() {
                return Err(auxlib::arg_error(lua, 0, "MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                encode(v, &mut out, 0)?;
            }
            lua.create_string(out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, args: Variadic<Value>| {
            let s = auxlib::check_string(lua, &args, 1)?;
            unpack(lua, &s.as_bytes(), 0, 0, args.len())
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, args: Variadic<Value>| {
            let offset = auxlib::opt_integer(lua, &args, 2, 0)?;
            let s = auxlib::check_string(lua, &args, 1)?;
            unpack(lua, &s.as_bytes(), 1, offset, 1)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(|lua, args: Variadic<Value>| {
            let limit = auxlib::check_integer(lua, &args, 2)?;
            let offset = auxlib::opt_integer(lua, &args, 3, 0)?;
            let s = auxlib::check_string(lua, &args, 1)?;
            unpack(lua, &s.as_bytes(), limit, offset, 1)
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

// ---- encoding -------------------------------------------------------------------------

fn encode(v: &Value, out: &mut Vec<u8>, level: usize) -> mlua::Result<()> {
    match v {
        Value::String(s) => encode_bytes(&s.as_bytes(), out),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_int(*i, out),
        Value::Number(n) => encode_number(*n, out),
        Value::Table(t) if level < MAX_NESTING => encode_table(t, out, level)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_bytes(s: &[u8], out: &mut Vec<u8>) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// An integral number within the 64-bit range is an integer; any other a float if it
/// converts to one and back unchanged, else a double.
fn encode_number(n: f64, out: &mut Vec<u8>) {
    if n.trunc() == n && (-auxlib::TWO_63..auxlib::TWO_63).contains(&n) {
        encode_int(n as i64, out);
    } else if (n as f32) as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_len(n: usize, fix: u8, wide16: u8, out: &mut Vec<u8>) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(wide16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(wide16 + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// An array when the keys are exactly the integers 1..n (elements read through the
/// table's `__index`, as `t[i]` would), otherwise a map in `next` order.
fn encode_table(t: &Table, out: &mut Vec<u8>, level: usize) -> mlua::Result<()> {
    if is_array(t)? {
        let len = t.raw_len();
        encode_len(len, 0x90, 0xdc, out);
        for i in 1..=len {
            encode(&t.get::<Value>(i)?, out, level + 1)?;
        }
    } else {
        let pairs = t
            .pairs::<Value, Value>()
            .collect::<mlua::Result<Vec<_>>>()?;
        encode_len(pairs.len(), 0x80, 0xde, out);
        for (k, v) in &pairs {
            encode(k, out, level + 1)?;
            encode(v, out, level + 1)?;
        }
    }
    Ok(())
}

/// lua-cmsgpack's test: every key a positive number that fits a C int, and the largest
/// equal to the count (so the empty table is an array).
fn is_array(t: &Table) -> mlua::Result<bool> {
    let (mut count, mut max) = (0i64, 0i64);
    for pair in t.pairs::<Value, Value>() {
        let n = match pair?.0 {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(false),
        };
        if n <= 0.0 || n.trunc() != n || n > i32::MAX as f64 {
            return Ok(false);
        }
        max = max.max(n as i64);
        count += 1;
    }
    Ok(max == count)
}

// ---- decoding -------------------------------------------------------------------------

/// Why decoding stopped short.
enum Stop {
    Missing,
    BadFormat,
    /// A Lua error (the stack limit, a nil or NaN map key, memory).
    Lua(mlua::Error),
}

impl From<mlua::Error> for Stop {
    fn from(e: mlua::Error) -> Stop {
        Stop::Lua(e)
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8], Stop> {
        if self.left() < n {
            return Err(Stop::Missing);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, Stop> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | *b as u64))
    }
}

/// `unpack_full`: up to `limit` values from `offset` on (everything when both are 0,
/// without the next offset in front). `slots` is what the caller's arguments occupy on
/// the C stack.
fn unpack(lua: &Lua, s: &[u8], limit: i64, offset: i64, slots: usize) -> mlua::Result<MultiValue> {
    let len = s.len();
    let all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        // Redis's message prints the length where it says limit.
        return Err(auxlib::error(
            lua,
            format!(
                "Invalid request to unpack with offset of {} and limit of {}.",
                offset as i32, len as i32
            ),
        ));
    }
    if offset as u64 > len as u64 {
        return Err(auxlib::error(
            lua,
            format!(
                "Start offset {} greater than input length {}.",
                offset as i32, len as i32
            ),
        ));
    }
    let limit = if all { i32::MAX as i64 } else { limit };
    let mut cur = Cursor {
        buf: &s[offset as usize..],
        pos: 0,
    };
    let mut out = Vec::new();
    while cur.left() > 0 && (out.len() as i64) < limit {
        match decode(lua, &mut cur, slots + out.len()) {
            Ok(v) => out.push(v),
            Err(Stop::Missing) => return Err(auxlib::error(lua, "Missing bytes in input.")),
            Err(Stop::BadFormat) => return Err(auxlib::error(lua, "Bad data format in input.")),
            Err(Stop::Lua(e)) => return Err(e),
        }
    }
    if !all {
        let n = slots + out.len() + 1;
        auxlib::check_stack(lua, n, n, "in function mp_unpack_full")?;
        let next = if cur.left() == 0 {
            -1
        } else {
            (offset as usize + cur.pos) as i64
        };
        out.insert(0, Value::Integer(next));
    }
    Ok(MultiValue::from_vec(out))
}

/// An open container. On the C stack an array holds its table and the index being
/// filled, a map its table and, while its value is read, the key.
enum Open {
    Array {
        t: Table,
        len: u64,
        filled: u64,
    },
    Map {
        t: Table,
        left: u64,
        key: Option<Value>,
    },
}

/// One value, however deeply nested; `before` values are on the C stack already (and
/// held).
fn decode(lua: &Lua, cur: &mut Cursor, before: usize) -> Result<Value, Stop> {
    let mut open: Vec<Open> = Vec::new();
    // Slots as Lua counts them (2 per open array, 1 or 2 per open map).
    let mut used = before;
    loop {
        let head = cur.take(1)?[0];
        auxlib::check_stack(lua, used + 1, before + open.len() + 1, TOO_MANY)?;
        let mut done = match head {
            0xc0 => Some(Value::Nil),
            0xc2 => Some(Value::Boolean(false)),
            0xc3 => Some(Value::Boolean(true)),
            0xcc => Some(Value::Number(cur.be(1)? as f64)),
            0xcd => Some(Value::Number(cur.be(2)? as f64)),
            0xce => Some(Value::Number(cur.be(4)? as f64)),
            // Lua 5.1 holds it as a signed integer first: from 2^63 up it wraps.
            0xcf => Some(Value::Number(cur.be(8)? as i64 as f64)),
            0xd0 => Some(Value::Number(cur.be(1)? as u8 as i8 as f64)),
            0xd1 => Some(Value::Number(cur.be(2)? as u16 as i16 as f64)),
            0xd2 => Some(Value::Number(cur.be(4)? as u32 as i32 as f64)),
            0xd3 => Some(Value::Number(cur.be(8)? as i64 as f64)),
            0xca => Some(Value::Number(f32::from_bits(cur.be(4)? as u32) as f64)),
            0xcb => Some(Value::Number(f64::from_bits(cur.be(8)?))),
            0xd9..=0xdb => {
                let n = cur.be(1 << (head - 0xd9))? as usize;
                Some(Value::String(lua.create_string(cur.take(n)?)?))
            }
            0xdc | 0xdd => {
                let n = cur.be(2 << (head - 0xdc))?;
                open_array(lua, &mut open, &mut used, before, n)?
            }
            0xde | 0xdf => {
                let n = cur.be(2 << (head - 0xde))?;
                open_map(lua, &mut open, &mut used, n)?
            }
            0x00..=0x7f => Some(Value::Number(head as f64)),
            0xe0..=0xff => Some(Value::Number(head as i8 as f64)),
            0xa0..=0xbf => {
                let s = cur.take((head & 0x1f) as usize)?;
                Some(Value::String(lua.create_string(s)?))
            }
            0x90..=0x9f => open_array(lua, &mut open, &mut used, before, (head & 0xf) as u64)?,
            0x80..=0x8f => open_map(lua, &mut open, &mut used, (head & 0xf) as u64)?,
            _ => return Err(Stop::BadFormat),
        };
        // Hand the finished value to its container; a container that is now full is
        // itself a finished value for the one around it.
        loop {
            match open.last_mut() {
                None => match done {
                    Some(v) => return Ok(v),
                    None => unreachable!("a value is finished whenever no container is open"),
                },
                Some(Open::Array { t, len, filled }) => {
                    if let Some(v) = done.take() {
                        *filled += 1;
                        t.raw_set(*filled as f64, v)?;
                    }
                    if *filled < *len {
                        break;
                    }
                }
                Some(Open::Map { t, left, key }) => {
                    if let Some(v) = done.take() {
                        match key.take() {
                            None => {
                                *key = Some(v);
                                used += 1;
                            }
                            Some(k) => {
                                set_field(t, k, v)?;
                                used -= 1;
                                *left -= 1;
                            }
                        }
                    }
                    if key.is_some() || *left > 0 {
                        break;
                    }
                }
            }
            done = match open.pop() {
                Some(Open::Array { t, .. }) => {
                    used -= 2;
                    Some(Value::Table(t))
                }
                Some(Open::Map { t, .. }) => {
                    used -= 1;
                    Some(Value::Table(t))
                }
                None => unreachable!("checked above"),
            };
        }
    }
}

fn open_array(
    lua: &Lua,
    open: &mut Vec<Open>,
    used: &mut usize,
    before: usize,
    len: u64,
) -> mlua::Result<Option<Value>> {
    let held = before + open.len() + 1;
    auxlib::check_stack(lua, *used + 2, held, "in function mp_decode_to_lua_array")?;
    let t = lua.create_table()?;
    if len == 0 {
        return Ok(Some(Value::Table(t)));
    }
    open.push(Open::Array { t, len, filled: 0 });
    *used += 2;
    Ok(None)
}

fn open_map(
    lua: &Lua,
    open: &mut Vec<Open>,
    used: &mut usize,
    len: u64,
) -> mlua::Result<Option<Value>> {
    let t = lua.create_table()?;
    if len == 0 {
        return Ok(Some(Value::Table(t)));
    }
    open.push(Open::Map {
        t,
        left: len,
        key: None,
    });
    *used += 1;
    Ok(None)
}

/// `t[k] = v` with Lua's errors for the keys a table cannot have.
fn set_field(t: &Table, k: Value, v: Value) -> mlua::Result<()> {
    match k {
        Value::Nil => Err(mlua::Error::RuntimeError("table index is nil".into())),
        Value::Number(n) if n.is_nan() => {
            Err(mlua::Error::RuntimeError("table index is NaN".into()))
        }
        k => t.raw_set(k, v),
    }
}
