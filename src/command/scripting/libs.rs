//! The libraries Redis gives scripts besides Lua's own: the parts of `redis` written in
//! Rust (`sha1hex`, `log`; the rest is Lua in `vm`'s prelude), `bit` (LuaBitOp's
//! functions) and `cjson` (encode, decode, `null`). `struct` and `cmsgpack` have modules
//! of their own.

use mlua::{Lua, MultiValue, Table, Value, Variadic};
use sha1::{Digest, Sha1};

use super::auxlib::{check_number, check_string};

/// Lower-case hex SHA-1 of `data`: a script's name in the cache.
pub fn sha1_hex(data: &[u8]) -> String {
    crate::util::hex(&Sha1::digest(data))
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

/// C's `%.<precision>g`: that many significant digits, trailing zeros dropped,
/// scientific notation below 1e-4 or from 10^precision on. Redis formats numbers a
/// script passes to a command with `%.17g`, cjson with `%.14g`.
pub fn format_g(x: f64, precision: usize) -> String {
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
    let p = precision.clamp(1, 17);
    let sci = format!("{x:.*e}", p - 1);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent");
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -4 || exp >= p as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        trim(&format!("{x:.*}", (p as i32 - 1 - exp) as usize))
    }
}

// ---- bit ----------------------------------------------------------------------------

/// LuaBitOp's normalisation: a number taken modulo 2^32 as a signed 32-bit integer.
fn tobit(x: f64) -> i32 {
    if !x.is_finite() {
        return 0;
    }
    (x.rem_euclid(4294967296.0) as u64) as u32 as i32
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
            lua.create_function(move |lua, args: Variadic<Value>| {
                Ok(f(tobit(check_number(lua, &args, 1)?)) as f64)
            })?,
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
            lua.create_function(move |lua, args: Variadic<Value>| {
                let mut acc = tobit(check_number(lua, &args, 1)?);
                for i in 2..=args.len() {
                    acc = f(acc, tobit(check_number(lua, &args, i)?));
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
            lua.create_function(move |lua, args: Variadic<Value>| {
                let x = tobit(check_number(lua, &args, 1)?);
                let n = tobit(check_number(lua, &args, 2)?) as u32 & 31;
                Ok(f(x, n) as f64)
            })?,
        )?;
    }
    t.raw_set(
        "tohex",
        lua.create_function(|lua, args: Variadic<Value>| {
            let x = tobit(check_number(lua, &args, 1)?) as u32;
            let n = match args.get(1) {
                None | Some(Value::Nil) => 8,
                Some(_) => tobit(check_number(lua, &args, 2)?),
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
        lua.create_function(|lua, args: Variadic<Value>| {
            let [v] = one_argument(lua, &args)?;
            let mut out = Vec::new();
            encode(v, &mut out, 0).map_err(|e| located(lua, e))?;
            lua.create_string(out)
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, args: Variadic<Value>| {
            one_argument(lua, &args)?;
            let s = check_string(lua, &args, 1)?;
            let json: serde_json::Value = serde_json::from_slice(&s.as_bytes())
                .map_err(|e| super::auxlib::error(lua, format!("cjson.decode: {e}")))?;
            from_json(lua, json)
        })?,
    )?;
    t.raw_set("null", Value::NULL)?;
    Ok(t)
}

/// cjson's check that it was given exactly one argument.
fn one_argument<'a>(lua: &Lua, args: &'a [Value]) -> mlua::Result<&'a [Value; 1]> {
    args.try_into()
        .map_err(|_| super::auxlib::arg_error(lua, 1, "expected 1 argument"))
}

fn fail(msg: String) -> mlua::Error {
    mlua::Error::RuntimeError(msg)
}

/// `e` with the calling script's position in front (`user_script:3: ...`), as a C
/// library's `luaL_error` words it.
fn located(lua: &Lua, e: mlua::Error) -> mlua::Error {
    match e {
        mlua::Error::RuntimeError(msg) => super::auxlib::error(lua, msg),
        e => e,
    }
}

/// cjson's encoding: strings byte for byte with `"`, `\`, `/` and control characters
/// escaped; numbers as `%.14g`; a table with only positive integer keys is an array
/// (unless excessively sparse), any other an object in `pairs` order (an empty one is
/// `{}`).
fn encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> mlua::Result<()> {
    if depth > JSON_DEPTH {
        return Err(fail(format!(
            "Cannot serialise, excessive nesting ({depth})"
        )));
    }
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Number(n) => number(*n, out)?,
        Value::String(s) => string(&s.as_bytes(), out),
        Value::Table(t) => {
            let mut max = 0usize;
            let mut count = 0usize;
            let mut array = true;
            for pair in t.pairs::<Value, Value>() {
                let (k, _) = pair?;
                count += 1;
                match k {
                    Value::Integer(i) if i >= 1 => max = max.max(i as usize),
                    Value::Number(f) if f >= 1.0 && f.fract() == 0.0 => max = max.max(f as usize),
                    _ => array = false,
                }
            }
            if array && count > 0 {
                if max > count * 2 && max > 10 {
                    return Err(fail(
                        "Cannot serialise table: excessively sparse array".into(),
                    ));
                }
                out.push(b'[');
                for i in 1..=max {
                    if i > 1 {
                        out.push(b',');
                    }
                    encode(&t.raw_get::<Value>(i)?, out, depth + 1)?;
                }
                out.push(b']');
            } else {
                out.push(b'{');
                for (n, pair) in t.pairs::<Value, Value>().enumerate() {
                    let (k, val) = pair?;
                    if n > 0 {
                        out.push(b',');
                    }
                    match k {
                        Value::String(s) => string(&s.as_bytes(), out),
                        Value::Integer(i) => string(i.to_string().as_bytes(), out),
                        Value::Number(f) => {
                            let mut key = Vec::new();
                            number(f, &mut key)?;
                            string(&key, out)
                        }
                        _ => {
                            return Err(fail(
                                "Cannot serialise table: table key must be a number or string"
                                    .into(),
                            ))
                        }
                    }
                    out.push(b':');
                    encode(&val, out, depth + 1)?;
                }
                out.push(b'}');
            }
        }
        other => {
            return Err(fail(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )))
        }
    }
    Ok(())
}

fn number(n: f64, out: &mut Vec<u8>) -> mlua::Result<()> {
    if !n.is_finite() {
        return Err(fail(
            "Cannot serialise number: must not be NaN or Inf".into(),
        ));
    }
    out.extend_from_slice(format_g(n, 14).as_bytes());
    Ok(())
}

fn string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => {
                out.extend_from_slice(format!("\\u{c:04x}").as_bytes());
            }
            c => out.push(c),
        }
    }
    out.push(b'"');
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
    fn numbers_format_as_c_percent_g() {
        for (x, p, want) in [
            (0.1, 17, "0.10000000000000001"),
            (1.0 / 3.0, 17, "0.33333333333333331"),
            (3.0, 17, "3"),
            (1e20, 17, "1e+20"),
            (1e16, 17, "10000000000000000"),
            (1e17, 17, "1e+17"),
            (0.0001, 17, "0.0001"),
            (0.00001, 17, "1.0000000000000001e-05"),
            (-2.5, 17, "-2.5"),
            (0.1, 14, "0.1"),
            (1.0 / 3.0, 14, "0.33333333333333"),
            (1e14, 14, "1e+14"),
            (123456789.5, 14, "123456789.5"),
        ] {
            assert_eq!(format_g(x, p), want, "{x} %.{p}g");
        }
    }

    #[test]
    fn tobit_wraps_modulo_two_to_the_32() {
        assert_eq!(tobit(4294967295.0), -1);
        assert_eq!(tobit(4294967296.0), 0);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(f64::NAN), 0);
    }
}
