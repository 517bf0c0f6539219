//! `struct`, binary packing for scripts, as Redis 7.0 bundles it (Roberto Ierusalimschy's
//! struct library with Redis's bounds fixes): `pack(fmt, ...)`, `unpack(fmt, data [,
//! pos])`, `size(fmt)`.
//!
//! Format options: `>` big and `<` little endian (little by default, as on the machines
//! Redis runs on), `![n]` alignment (default 8), `x` a zero byte, `b/B h/H l/L T i[n]/I[n]`
//! signed/unsigned integers of 1, 2, 8, 8 and n (default 4, at most 32) bytes, `f` and
//! `d` floats, `c[n]` n bytes (`c0`: the whole string when packing, the previous number
//! as the length when unpacking), `s` a zero-terminated string, spaces ignored. Results
//! and errors are Redis's, including its C library's quirks (a format stops at a zero
//! byte; integers wider than 8 bytes carry only their low 8).

use mlua::{Lua, LuaString, MultiValue, Table, Value, Variadic};

use super::auxlib;

/// The widest integer option (`i32`).
const MAX_INT_SIZE: i32 = 32;
/// The default and largest alignment: a double's on x86-64.
const MAX_ALIGN: i32 = 8;

pub fn lib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set("unpack", lua.create_function(unpack)?)?;
    t.raw_set("size", lua.create_function(size)?)?;
    Ok(t)
}

#[derive(Clone, Copy)]
struct Header {
    little: bool,
    align: usize,
}

impl Header {
    const DEFAULT: Header = Header {
        little: true,
        align: 1,
    };
}

/// A format string as C sees it: up to its first zero byte.
fn format(lua: &Lua, args: &[Value]) -> mlua::Result<Vec<u8>> {
    let s = auxlib::check_string(lua, args, 1)?;
    let b = s.as_bytes();
    Ok(b.split(|c| *c == 0).next().unwrap_or_default().to_vec())
}

/// The number after an option, or `default`.
fn getnum(lua: &Lua, fmt: &[u8], i: &mut usize, default: i32) -> mlua::Result<i32> {
    if !fmt.get(*i).is_some_and(u8::is_ascii_digit) {
        return Ok(default);
    }
    let mut a: i32 = 0;
    while let Some(d) = fmt.get(*i).filter(|c| c.is_ascii_digit()) {
        let d = (d - b'0') as i32;
        if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
            return Err(auxlib::error(lua, "integral size overflow"));
        }
        a = a * 10 + d;
        *i += 1;
    }
    Ok(a)
}

/// How many bytes option `opt` takes (0 for the options that take none).
fn optsize(lua: &Lua, opt: u8, fmt: &[u8], i: &mut usize) -> mlua::Result<usize> {
    Ok(match opt {
        b'B' | b'b' | b'x' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'c' => getnum(lua, fmt, i, 1)? as usize,
        b'i' | b'I' => {
            let n = getnum(lua, fmt, i, 4)?;
            if n > MAX_INT_SIZE {
                return Err(auxlib::error(
                    lua,
                    format!("integral size {n} is larger than limit of {MAX_INT_SIZE}"),
                ));
            }
            n as usize
        }
        _ => 0,
    })
}

/// Padding before an item of `size` bytes at offset `len` (the C arithmetic, which
/// assumes a power of two: `i3` pads oddly, as in Redis).
fn gettoalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size - (len & (size - 1))) & (size - 1)
}

/// The options that set endianness or alignment; any other is an error.
fn control(lua: &Lua, opt: u8, fmt: &[u8], i: &mut usize, h: &mut Header) -> mlua::Result<()> {
    match opt {
        b' ' => {}
        b'>' => h.little = false,
        b'<' => h.little = true,
        b'!' => {
            let a = getnum(lua, fmt, i, MAX_ALIGN)?;
            if a <= 0 || a & (a - 1) != 0 {
                return Err(auxlib::error(
                    lua,
                    format!("alignment {a} is not a power of 2"),
                ));
            }
            h.align = a as usize;
        }
        _ => {
            let msg = format!("invalid format option '{}'", opt as char);
            return Err(auxlib::arg_error(lua, 1, &msg));
        }
    }
    Ok(())
}

fn is_integer(opt: u8) -> bool {
    matches!(
        opt,
        b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I'
    )
}

fn pack(lua: &Lua, mut args: Variadic<Value>) -> mlua::Result<LuaString> {
    let fmt = format(lua, &args)?;
    // The C function pushes a nil after its arguments before reading them: one missing
    // argument is "nil", not "no value".
    args.push(Value::Nil);
    let mut h = Header::DEFAULT;
    let mut arg = 2;
    let mut total = 0usize;
    let mut out = Vec::new();
    let mut i = 0;
    while i < fmt.len() {
        let opt = fmt[i];
        i += 1;
        let mut size = optsize(lua, opt, &fmt, &mut i)?;
        let pad = gettoalign(total, &h, opt, size);
        total += pad;
        out.resize(out.len() + pad, 0);
        match opt {
            _ if is_integer(opt) => {
                let mut v = auxlib::c_u64(auxlib::check_number(lua, &args, arg)?);
                arg += 1;
                // Wider than 8 bytes: the rest is zeros, whatever the sign.
                let mut bytes = vec![0u8; size];
                for k in 0..size {
                    let at = if h.little { k } else { size - 1 - k };
                    bytes[at] = v as u8;
                    v = v.checked_shr(8).unwrap_or(0);
                }
                out.extend_from_slice(&bytes);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = auxlib::check_number(lua, &args, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&if h.little {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                });
            }
            b'd' => {
                let d = auxlib::check_number(lua, &args, arg)?;
                arg += 1;
                out.extend_from_slice(&if h.little {
                    d.to_le_bytes()
                } else {
                    d.to_be_bytes()
                });
            }
            b'c' | b's' => {
                let s = auxlib::check_string(lua, &args, arg)?;
                let s = s.as_bytes();
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // Redis's library names the argument after this one.
                    return Err(auxlib::arg_error(lua, arg, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                    size += 1;
                }
            }
            _ => control(lua, opt, &fmt, &mut i, &mut h)?,
        }
        total += size;
    }
    lua.create_string(out)
}

/// An integer of `size` bytes: only the last 8 read count, as in a C `unsigned long`.
fn getinteger(b: &[u8], little: bool, signed: bool) -> f64 {
    let fold = |acc: u64, c: &u8| (acc << 8) | *c as u64;
    let l = if little {
        b.iter().rev().fold(0, fold)
    } else {
        b.iter().fold(0, fold)
    };
    if !signed {
        return l as f64;
    }
    // `size * 8 - 1` as the shift count x86 takes it (modulo 64).
    let mask = u64::MAX.wrapping_shl((b.len() * 8).wrapping_sub(1) as u32);
    let l = if l & mask != 0 { l | mask } else { l };
    l as i64 as f64
}

fn unpack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<MultiValue> {
    let fmt = format(lua, &args)?;
    let data = auxlib::check_string(lua, &args, 2)?;
    let data = data.as_bytes();
    let ld = data.len();
    // A C size_t: a negative start wraps to a huge one (and then finds the data short).
    let mut pos = auxlib::opt_integer(lua, &args, 3, 1)? as u64 as usize;
    if pos == 0 {
        return Err(auxlib::arg_error(lua, 3, "offset must be 1 or greater"));
    }
    pos -= 1;
    let mut h = Header::DEFAULT;
    let mut out: Vec<Value> = Vec::new();
    let mut i = 0;
    while i < fmt.len() {
        let opt = fmt[i];
        i += 1;
        let mut size = optsize(lua, opt, &fmt, &mut i)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if size > ld || pos > ld - size {
            return Err(auxlib::arg_error(lua, 2, "data string too short"));
        }
        let n = out.len() + 2;
        auxlib::check_stack(lua, args.len() + n, n, "too many results")?;
        let item = &data[pos..pos + size];
        match opt {
            _ if is_integer(opt) => {
                let n = getinteger(item, h.little, opt.is_ascii_lowercase());
                out.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = item.try_into().expect("4 bytes checked above");
                let f = if h.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                out.push(Value::Number(f as f64));
            }
            b'd' => {
                let b: [u8; 8] = item.try_into().expect("8 bytes checked above");
                let d = if h.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                out.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    let prev = match out.last() {
                        Some(v) => lua.coerce_number(v.clone())?,
                        None => None,
                    };
                    let Some(n) = prev else {
                        return Err(auxlib::error(lua, "format 'c0' needs a previous size"));
                    };
                    size = auxlib::c_u64(n) as usize;
                    out.pop();
                    if size > ld - pos {
                        return Err(auxlib::arg_error(lua, 2, "data string too short"));
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|c| *c == 0) else {
                    return Err(auxlib::error(lua, "unfinished string in data"));
                };
                size = end + 1;
                out.push(Value::String(lua.create_string(&data[pos..pos + end])?));
            }
            _ => control(lua, opt, &fmt, &mut i, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    out.push(Value::Number(pos.wrapping_add(1) as i64 as f64));
    Ok(MultiValue::from_vec(out))
}

fn size(lua: &Lua, args: Variadic<Value>) -> mlua::Result<f64> {
    let fmt = format(lua, &args)?;
    let mut h = Header::DEFAULT;
    let mut pos = 0usize;
    let mut i = 0;
    while i < fmt.len() {
        let opt = fmt[i];
        i += 1;
        let size = optsize(lua, opt, &fmt, &mut i)?;
        pos += gettoalign(pos, &h, opt, size);
        if opt == b's' {
            return Err(auxlib::arg_error(lua, 1, "option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(auxlib::arg_error(lua, 1, "option 'c0' has no fixed size"));
        }
        // Unknown letters count as nothing here (the C library checks only symbols).
        if !opt.is_ascii_alphanumeric() {
            control(lua, opt, &fmt, &mut i, &mut h)?;
        }
        pos += size;
    }
    Ok(pos as f64)
}
