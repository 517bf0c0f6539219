//! Lua 5.1's `lauxlib` argument conventions for the libraries written in Rust (`struct`,
//! `cmsgpack`): the same coercions (a number where a string is expected and back) and
//! the same errors word for word (`user_script:1: bad argument #2 to 'unpack' (number
//! expected, got no value)`), which scripts and their tests match on.

use mlua::{Lua, LuaString, Value};

/// Lua 5.1's `LUAI_MAXCSTACK`: the most stack slots a C function may use. Redis's C
/// libraries fail with `stack overflow (...)` past it; ours count the same slots, so
/// that the same inputs fail with the same error.
const MAX_CSTACK: usize = 8000;

/// The most Lua values (strings, tables, results) a library function holds at once.
/// Each takes a slot of mlua's auxiliary stack, which has about 8,000 in all, shared
/// with everything else alive; so ours stop a little before Redis's would (a
/// `cmsgpack.unpack` of 7,950 top-level values fails here and works on Redis).
const MAX_HELD: usize = 7900;

/// `luaL_error`: `msg` with the calling script's position in front.
pub fn error(lua: &Lua, msg: impl Into<String>) -> mlua::Error {
    let at = lua.inspect_stack(1, |d| {
        let line = d.current_line()?;
        Some(format!("{}:{line}: ", d.source().short_src?))
    });
    mlua::Error::RuntimeError(format!(
        "{}{}",
        at.flatten().unwrap_or_default(),
        msg.into()
    ))
}

/// `luaL_argerror`: names the function as the script called it (`local up =
/// cmsgpack.unpack; up()` says `'up'`), and counts `self` out of a method call's
/// arguments, as Lua does.
pub fn arg_error(lua: &Lua, narg: usize, extra: &str) -> mlua::Error {
    let (name, what) = lua
        .inspect_stack(0, |d| {
            let n = d.names();
            (n.name.map(|s| s.into_owned()), n.name_what)
        })
        .unwrap_or((None, None));
    let name = name.unwrap_or_else(|| "?".into());
    let mut narg = narg as i64;
    if what == Some("method") {
        narg -= 1;
        if narg == 0 {
            return error(lua, format!("calling '{name}' on bad self ({extra})"));
        }
    }
    error(lua, format!("bad argument #{narg} to '{name}' ({extra})"))
}

/// `luaL_typename`: what an argument is, `no value` past the last one.
pub fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::Integer(_) | Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(_) => "userdata",
    }
}

/// Argument `narg` (1-based) converted by `coerce` (Lua's own conversion), or the type
/// error naming `expected`.
fn check<T>(
    lua: &Lua,
    args: &[Value],
    narg: usize,
    expected: &str,
    coerce: impl FnOnce(Value) -> mlua::Result<Option<T>>,
) -> mlua::Result<T> {
    let v = args.get(narg - 1);
    match v.cloned().map(coerce).transpose()?.flatten() {
        Some(x) => Ok(x),
        None => {
            let got = type_name(v);
            Err(arg_error(
                lua,
                narg,
                &format!("{expected} expected, got {got}"),
            ))
        }
    }
}

/// `luaL_checklstring`: a string; a number is formatted as Lua formats it.
pub fn check_string(lua: &Lua, args: &[Value], narg: usize) -> mlua::Result<LuaString> {
    check(lua, args, narg, "string", |v| lua.coerce_string(v))
}

/// `luaL_checknumber`: a number; a numeric string converts.
pub fn check_number(lua: &Lua, args: &[Value], narg: usize) -> mlua::Result<f64> {
    check(lua, args, narg, "number", |v| lua.coerce_number(v))
}

/// `luaL_checkinteger`: a number cast to an integer as C casts it.
pub fn check_integer(lua: &Lua, args: &[Value], narg: usize) -> mlua::Result<i64> {
    check_number(lua, args, narg).map(c_i64)
}

/// `luaL_optinteger`: `default` for a missing or nil argument.
pub fn opt_integer(lua: &Lua, args: &[Value], narg: usize, default: i64) -> mlua::Result<i64> {
    match args.get(narg - 1) {
        None | Some(Value::Nil) => Ok(default),
        Some(_) => check_integer(lua, args, narg),
    }
}

/// `luaL_checkstack`'s error, when `slots` stack slots (counted as Lua counts them) or
/// `held` values at once would be too many.
pub fn check_stack(lua: &Lua, slots: usize, held: usize, what: &str) -> mlua::Result<()> {
    if slots > MAX_CSTACK || held > MAX_HELD {
        return Err(error(lua, format!("stack overflow ({what})")));
    }
    Ok(())
}

/// 2^63, where the 64-bit integers end.
pub const TWO_63: f64 = (1u64 << 63) as f64;

/// A double cast to a signed 64-bit integer as x86-64 does it (`cvttsd2si`): truncated,
/// and the "integer indefinite" value (the least integer) when out of range or NaN,
/// where Rust's cast would saturate.
pub fn c_i64(n: f64) -> i64 {
    if n.is_nan() || !(-TWO_63..TWO_63).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// A double cast to an unsigned 64-bit integer as gcc compiles it for x86-64: below 2^63
/// (and NaN) through the signed conversion, so negative values wrap and NaN is 2^63;
/// from 2^63 up by subtracting 2^63 first, so values from 2^64 up come out as 0.
pub fn c_u64(n: f64) -> u64 {
    if n >= TWO_63 {
        (c_i64(n - TWO_63) as u64) ^ (1 << 63)
    } else {
        c_i64(n) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_casts_follow_x86_64() {
        assert_eq!(c_i64(-1.9), -1);
        assert_eq!(c_i64(1e19), i64::MIN);
        assert_eq!(c_i64(f64::NAN), i64::MIN);
        assert_eq!(c_u64(-1.0), u64::MAX);
        assert_eq!(c_u64(1.5e19), 15_000_000_000_000_000_000);
        assert_eq!(c_u64(2f64.powi(64)), 0);
        assert_eq!(c_u64(f64::NAN), 1 << 63);
    }
}
