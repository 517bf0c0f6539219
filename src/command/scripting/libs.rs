//! The libraries Redis gives scripts besides Lua's own: the parts of `redis` written in
//! Rust (`sha1hex`, `log`; the rest is Lua in `vm`'s prelude), `bit` (LuaBitOp's
//! functions) and `cjson` (encode, decode, `null`). `struct` and `cmsgpack` are not
//! provided.

use mlua::{Lua, MultiValue, Table, Value, Variadic};
use sha1::{Digest, Sha1};

/// Lower-case hex SHA-1 of `data`: a script's name in the cache.
pub fn sha1_hex(data: &[u8]) -> String {
    let digest = Sha1::digest(data);
    let mut s = String::with_capacity(40);
    for b in digest {
        s.push(char::from_digit((b >> 4) as u32, 16).expect("nibble"));
        s.push(char::from_digit((b & 15) as u32, 16).expect("nibble"));
    }
    s
}

pub fn redis(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "sha1hex",
        lua.create_function(|_, args: Variadic<Value>| {
            let [Value::String(s)] = &args[..] else {
                return Err(mlua::Error::RuntimeError(
                    "wrong number of arguments".into(),
                ));
            };
            Ok(sha1_hex(&s.as_bytes()))
        })?,
    )?;
    t.raw_set(
        "log",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() < 2 {
                return Err(mlua::Error::RuntimeError(
                    "redis.log() requires two arguments or more.".into(),
                ));
            }
            let level = match args.front() {
                Some(Value::Integer(l)) => *l,
                Some(Value::Number(l)) => *l as i64,
                _ => {
                    return Err(mlua::Error::RuntimeError(
                        "First argument must be a number (log level).".into(),
                    ))
                }
            };
            let mut text = String::new();
            for (i, v) in args.iter().skip(1).enumerate() {
                if i > 0 {
                    text.push(' ');
                }
                if let Some(s) = lua.coerce_string(v.clone())? {
                    text.push_str(&s.to_string_lossy());
                }
            }
            match level {
                0 => tracing::debug!(target: "strata::script", "{text}"),
                1 | 2 => tracing::info!(target: "strata::script", "{text}"),
                3 => tracing::warn!(target: "strata::script", "{text}"),
                _ => {
                    return Err(mlua::Error::RuntimeError("Invalid debug level.".into()));
                }
            }
            Ok(())
        })?,
    )?;
    Ok(t)
}

// ---- bit ----------------------------------------------------------------------------

/// LuaBitOp's normalisation: a number taken modulo 2^32 as a signed 32-bit integer.
fn tobit(x: f64) -> i32 {
    if !x.is_finite() {
        return 0;
    }
    (x.rem_euclid(4294967296.0) as u64) as u32 as i32
}

fn num(v: &Value, i: usize) -> mlua::Result<f64> {
    match v {
        Value::Integer(n) => Ok(*n as f64),
        Value::Number(n) => Ok(*n),
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .ok_or_else(|| bad_arg(i)),
        _ => Err(bad_arg(i)),
    }
}

fn bad_arg(i: usize) -> mlua::Error {
    mlua::Error::RuntimeError(format!("bad argument #{i} (number expected)"))
}

fn first(args: &[Value]) -> mlua::Result<i32> {
    Ok(tobit(num(args.first().unwrap_or(&Value::Nil), 1)?))
}

pub fn bit(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    type Unary = fn(i32) -> i32;
    let unary: [(&str, Unary); 3] = [
        ("tobit", |x| x),
        ("bnot", |x| !x),
        ("bswap", |x| x.swap_bytes()),
    ];
    for (name, f) in unary {
        t.raw_set(
            name,
            lua.create_function(move |_, args: Variadic<Value>| Ok(f(first(&args)?) as f64))?,
        )?;
    }
    type Fold = fn(i32, i32) -> i32;
    let folds: [(&str, Fold); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, f) in folds {
        t.raw_set(
            name,
            lua.create_function(move |_, args: Variadic<Value>| {
                let mut acc = first(&args)?;
                for (i, v) in args.iter().enumerate().skip(1) {
                    acc = f(acc, tobit(num(v, i + 1)?));
                }
                Ok(acc as f64)
            })?,
        )?;
    }
    type Shift = fn(i32, u32) -> i32;
    let shifts: [(&str, Shift); 5] = [
        ("lshift", |x, n| ((x as u32) << n) as i32),
        ("rshift", |x, n| ((x as u32) >> n) as i32),
        ("arshift", |x, n| x >> n),
        ("rol", |x, n| (x as u32).rotate_left(n) as i32),
        ("ror", |x, n| (x as u32).rotate_right(n) as i32),
    ];
    for (name, f) in shifts {
        t.raw_set(
            name,
            lua.create_function(move |_, args: Variadic<Value>| {
                let x = first(&args)?;
                let n = tobit(num(args.get(1).unwrap_or(&Value::Nil), 2)?) as u32 & 31;
                Ok(f(x, n) as f64)
            })?,
        )?;
    }
    t.raw_set(
        "tohex",
        lua.create_function(|_, args: Variadic<Value>| {
            let x = first(&args)? as u32;
            let n = match args.get(1) {
                None | Some(Value::Nil) => 8,
                Some(v) => tobit(num(v, 2)?),
            };
            let upper = n < 0;
            let digits = n.unsigned_abs().min(8) as usize;
            let full = if upper {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            Ok(full[8 - digits..].to_string())
        })?,
    )?;
    Ok(t)
}

// ---- cjson --------------------------------------------------------------------------

/// Nesting cjson refuses to go beyond (its default `encode_max_depth`).
const JSON_DEPTH: usize = 1000;

pub fn cjson(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|_, v: Value| {
            let json = to_json(&v, 0)?;
            Ok(json.to_string())
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, s: mlua::LuaString| {
            let json: serde_json::Value = serde_json::from_slice(&s.as_bytes())
                .map_err(|e| mlua::Error::RuntimeError(format!("cjson.decode: {e}")))?;
            from_json(lua, json)
        })?,
    )?;
    t.raw_set("null", Value::NULL)?;
    Ok(t)
}

fn to_json(v: &Value, depth: usize) -> mlua::Result<serde_json::Value> {
    use serde_json::Value as J;
    if depth > JSON_DEPTH {
        return Err(mlua::Error::RuntimeError(format!(
            "Cannot serialise, excessive nesting ({})",
            depth
        )));
    }
    Ok(match v {
        Value::Nil => J::Null,
        Value::LightUserData(p) if p.0.is_null() => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Integer(n) => J::from(*n),
        Value::Number(n) => number(*n)?,
        Value::String(s) => J::String(s.to_string_lossy()),
        Value::Table(t) => {
            let mut max = 0usize;
            let mut count = 0usize;
            let mut array = true;
            for pair in t.clone().pairs::<Value, Value>() {
                let (k, _) = pair?;
                count += 1;
                match k {
                    Value::Integer(i) if i >= 1 => max = max.max(i as usize),
                    Value::Number(f) if f >= 1.0 && f.fract() == 0.0 => max = max.max(f as usize),
                    _ => array = false,
                }
            }
            // cjson's rule: an empty table is an object; integer keys form an array
            // unless it is "excessively sparse".
            if array && count > 0 {
                if max > count * 2 && max > 10 {
                    return Err(mlua::Error::RuntimeError(
                        "Cannot serialise table: excessively sparse array".into(),
                    ));
                }
                let mut items = Vec::with_capacity(max);
                for i in 1..=max {
                    items.push(to_json(&t.raw_get::<Value>(i)?, depth + 1)?);
                }
                J::Array(items)
            } else {
                let mut map = serde_json::Map::new();
                for pair in t.clone().pairs::<Value, Value>() {
                    let (k, val) = pair?;
                    let key = match k {
                        Value::String(s) => s.to_string_lossy(),
                        Value::Integer(i) => i.to_string(),
                        Value::Number(f) => number(f)?.to_string(),
                        _ => {
                            return Err(mlua::Error::RuntimeError(
                                "Cannot serialise table: table key must be a number or string"
                                    .into(),
                            ))
                        }
                    };
                    map.insert(key, to_json(&val, depth + 1)?);
                }
                J::Object(map)
            }
        }
        other => {
            return Err(mlua::Error::RuntimeError(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )))
        }
    })
}

/// A Lua number in JSON: integral values without a fraction, as cjson writes them.
fn number(n: f64) -> mlua::Result<serde_json::Value> {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        return Ok(serde_json::Value::from(n as i64));
    }
    serde_json::Number::from_f64(n)
        .map(serde_json::Value::Number)
        .ok_or_else(|| {
            mlua::Error::RuntimeError("Cannot serialise number: must not be NaN or Inf".into())
        })
}

fn from_json(lua: &Lua, j: serde_json::Value) -> mlua::Result<Value> {
    use serde_json::Value as J;
    Ok(match j {
        J::Null => Value::NULL,
        J::Bool(b) => Value::Boolean(b),
        J::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        J::String(s) => Value::String(lua.create_string(s)?),
        J::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, from_json(lua, item)?)?;
            }
            Value::Table(t)
        }
        J::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, v) in map {
                t.raw_set(k, from_json(lua, v)?)?;
            }
            Value::Table(t)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_of_empty_string_is_the_known_digest() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    #[test]
    fn tobit_wraps_modulo_two_to_the_32() {
        assert_eq!(tobit(4294967295.0), -1);
        assert_eq!(tobit(4294967296.0), 0);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(f64::NAN), 0);
    }
}
