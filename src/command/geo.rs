//! Geo commands: GEOADD, GEOPOS, GEODIST, GEOHASH and the searches (GEOSEARCH,
//! GEOSEARCHSTORE, GEORADIUS[BYMEMBER][_RO]), as Redis 7.0 computes them.
//!
//! A geo set is a sorted set whose scores are 52-bit interleaved geohashes (26 bits of
//! latitude in the even bits, 26 of longitude in the odd ones, latitude limited to
//! ±85.05112878 as in Web Mercator), so every sorted-set command works on it and a geo
//! set moves between Redis and Strata unchanged. Coordinates read back are the centre of
//! the hash's cell (Redis's decoding), printed as Redis prints long doubles; distances
//! use Redis's haversine with its earth radius and `%.4f`.

use super::notify::class;
use bytes::Bytes;

use super::ldouble::LongDouble;
use super::{zsets, Ctx, NOT_FLOAT, SYNTAX};
use crate::keyspace::{Kind, ZSet};

const LONG_MIN: f64 = -180.0;
const LONG_MAX: f64 = 180.0;
const LAT_MIN: f64 = -85.051_128_78;
const LAT_MAX: f64 = 85.051_128_78;
const STEP: u32 = 26;
const EARTH_RADIUS_M: f64 = 6_372_797.560_856;
const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";

/// Spread the 32 bits of `x` to the even bits and those of `y` to the odd bits.
fn interleave(x: u32, y: u32) -> u64 {
    let spread = |v: u32| (0..32).fold(0u64, |acc, i| acc | (((v as u64 >> i) & 1) << (2 * i)));
    spread(x) | (spread(y) << 1)
}

/// The inverse of [`interleave`]: (even bits, odd bits).
fn deinterleave(v: u64) -> (u32, u32) {
    let gather = |v: u64| (0..32).fold(0u32, |acc, i| acc | ((((v >> (2 * i)) & 1) as u32) << i));
    (gather(v), gather(v >> 1))
}

/// The geohash of a point at `step` bits per coordinate for the given ranges (Redis's
/// geohashEncode), or None outside the ranges or the Web Mercator limits.
fn encode(
    lon: f64,
    lat: f64,
    lon_range: (f64, f64),
    lat_range: (f64, f64),
    step: u32,
) -> Option<u64> {
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if !(lat_range.0..=lat_range.1).contains(&lat) || !(lon_range.0..=lon_range.1).contains(&lon) {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_range.0) / (lat_range.1 - lat_range.0) * scale;
    let lon_off = (lon - lon_range.0) / (lon_range.1 - lon_range.0) * scale;
    Some(interleave(lat_off as u32, lon_off as u32))
}

fn encode_wgs84(lon: f64, lat: f64) -> Option<u64> {
    encode(lon, lat, (LONG_MIN, LONG_MAX), (LAT_MIN, LAT_MAX), STEP)
}

/// C's `(uint64_t)score` as gcc compiles it on x86-64 (cvttsd2si, with its
/// "integer indefinite" 2^63 for what does not fit), so odd scores decode as in Redis.
fn score_bits(score: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    let to_i64 = |f: f64| {
        if f > -TWO63 - 1.0 && f < TWO63 {
            f as i64
        } else {
            i64::MIN
        }
    };
    if score < TWO63 {
        to_i64(score) as u64
    } else {
        (to_i64(score - TWO63) as u64) ^ (1 << 63)
    }
}

/// The centre of the cell a 52-bit hash names, clamped to the valid range:
/// (longitude, latitude).
fn decode(bits: u64) -> (f64, f64) {
    let (lon_min, lon_max, lat_min, lat_max) = bounds(Cell { bits, step: STEP });
    let lon = ((lon_min + lon_max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((lat_min + lat_max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

fn deg_rad(d: f64) -> f64 {
    d * (std::f64::consts::PI / 180.0)
}

/// Redis's geohashGetDistance (haversine), in meters.
fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lon1r, lon2r) = (deg_rad(lon1), deg_rad(lon2));
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs();
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// A distance as Redis prints it (fixedpoint_d2string with 4 digits): the value times
/// 10^4 rounded to an integer in double arithmetic (llrint, ties to even), so it can
/// differ in the last digit from exact decimal rounding (`{:.4}`) when `d * 10^4`
/// lands on a tie.
fn distance_text(d: f64) -> String {
    let v = (d * 10_000.0).round_ties_even() as i64;
    let sign = if v < 0 { "-" } else { "" };
    let v = v.unsigned_abs();
    format!("{sign}{}.{:04}", v / 10_000, v % 10_000)
}

/// A coordinate as Redis prints it (a long double, `%.17Lf` trimmed).
fn coord(out: &mut crate::protocol::ReplyBuf, v: f64) {
    let text = LongDouble::from_f64(v).to_human();
    if out.resp3() {
        out.raw(format!(",{text}\r\n").as_bytes());
    } else {
        out.bulk(text.as_bytes());
    }
}

/// The zset at `key` for a read; Err after replying WRONGTYPE.
fn probe(ctx: &mut Ctx, key: &[u8]) -> Result<bool, super::Replied> {
    ctx.probe(key, Kind::ZSet, true)
}

fn score_of(ctx: &Ctx, key: &[u8], member: &[u8]) -> Option<f64> {
    super::typed::<ZSet>(ctx.st, ctx.sess.db, key)?.score(member)
}

/// The scores of the members named from argument 2 on (None for a missing member or
/// key); Err after replying WRONGTYPE.
fn member_scores(ctx: &mut Ctx) -> Result<Vec<Option<f64>>, super::Replied> {
    let key = ctx.args[1].clone();
    let exists = probe(ctx, &key)?;
    Ok(ctx.args[2..]
        .iter()
        .map(|m| if exists { score_of(ctx, &key, m) } else { None })
        .collect())
}

/// GEOADD key [NX|XX] [CH] longitude latitude member [...]: ZADD with geohash scores.
pub fn geoadd(ctx: &mut Ctx) {
    let mut first = 2;
    let (mut nx, mut xx) = (false, false);
    while first < ctx.args.len() {
        match ctx.args[first].to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"CH" => {}
            _ => break,
        }
        first += 1;
    }
    if !(ctx.args.len() - first).is_multiple_of(3) || (nx && xx) {
        return ctx.error(SYNTAX);
    }
    let mut args: Vec<Bytes> = Vec::with_capacity(first + (ctx.args.len() - first) / 3 * 2);
    args.push(Bytes::from_static(b"ZADD"));
    args.extend(ctx.args[1..first].iter().cloned());
    for at in (first..ctx.args.len()).step_by(3) {
        let Some((lon, lat)) = lonlat_arg(ctx, at) else {
            return;
        };
        let bits = encode_wgs84(lon, lat).expect("lonlat_arg checked the range");
        args.push(Bytes::from(bits.to_string()));
        args.push(ctx.args[at + 2].clone());
    }

    if args.len() == first {
        return ctx.error("ERR wrong number of arguments for 'geoadd' command");
    }
    // The work is ZADD's, and so is the log record.
    let mut zadd = Ctx {
        st: &mut *ctx.st,
        sess: &mut *ctx.sess,
        out: &mut *ctx.out,
        args: &args,
        now: ctx.now,
    };
    zsets::zadd(&mut zadd);
}

pub fn geopos(ctx: &mut Ctx) {
    let Ok(scores) = member_scores(ctx) else {
        return;
    };
    ctx.out.array_len(scores.len());
    for score in scores {
        match score {
            None => ctx.out.null_array(),
            Some(s) => {
                let (lon, lat) = decode(score_bits(s));
                ctx.out.array_len(2);
                coord(ctx.out, lon);
                coord(ctx.out, lat);
            }
        }
    }
}

/// Meters per unit, or None after replying with the error.
fn unit(ctx: &mut Ctx, i: usize) -> Option<f64> {
    let u = match ctx.args[i].to_ascii_lowercase().as_slice() {
        b"m" => 1.0,
        b"km" => 1000.0,
        b"ft" => 0.3048,
        b"mi" => 1609.34,
        _ => {
            ctx.error("ERR unsupported unit provided. please use M, KM, FT, MI");
            return None;
        }
    };
    Some(u)
}

pub fn geodist(ctx: &mut Ctx) {
    let to_meter = match ctx.args.len() {
        4 => 1.0,
        5 => match unit(ctx, 4) {
            Some(u) => u,
            None => return,
        },
        _ => return ctx.error(SYNTAX),
    };
    let key = ctx.args[1].clone();
    match probe(ctx, &key) {
        Err(_) => return,
        Ok(false) => return ctx.out.null(),
        Ok(true) => {}
    }
    let (Some(a), Some(b)) = (
        score_of(ctx, &key, &ctx.args[2]),
        score_of(ctx, &key, &ctx.args[3]),
    ) else {
        return ctx.out.null();
    };
    let ((lon1, lat1), (lon2, lat2)) = (decode(score_bits(a)), decode(score_bits(b)));
    let d = distance(lon1, lat1, lon2, lat2) / to_meter;
    ctx.out.bulk(distance_text(d).as_bytes());
}

pub fn geohash(ctx: &mut Ctx) {
    let Ok(scores) = member_scores(ctx) else {
        return;
    };
    ctx.out.array_len(scores.len());
    for score in scores {
        let Some(s) = score else {
            ctx.out.null();
            continue;
        };
        // Stored hashes use latitudes within ±85.05; a standard geohash string uses ±90,
        // so the point is decoded and encoded again.
        let (lon, lat) = decode(score_bits(s));
        let bits = encode(lon, lat, (-180.0, 180.0), (-90.0, 90.0), STEP).unwrap_or(0);
        let text: Vec<u8> = (0..11)
            .map(|i| {
                let idx = if i == 10 {
                    0
                } else {
                    (bits >> (52 - (i + 1) * 5)) & 0x1f
                };
                ALPHABET[idx as usize]
            })
            .collect();
        ctx.out.bulk(&text);
    }
}

// ---- searches: GEOSEARCH, GEOSEARCHSTORE, GEORADIUS[BYMEMBER][_RO] ------------------
//
// Redis finds candidates in the cell of the centre and its 8 neighbours, at a precision
// chosen from the radius, and keeps those inside the shape. Which cells it scans, in
// which order, and when it stops (COUNT ANY) decide the unsorted order and the ANY
// subset, so all of it is reproduced here step for step (geohash_helper.c, geo.c).

const MERCATOR_MAX: f64 = 20_037_726.37;

#[derive(Clone, Copy, PartialEq)]
struct Cell {
    bits: u64,
    step: u32,
}

const NO_CELL: Cell = Cell { bits: 0, step: 0 };

#[derive(Clone, Copy)]
enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

struct Search {
    lon: f64,
    lat: f64,
    shape: Shape,
    /// Meters per unit.
    unit: f64,
}

fn rad_deg(r: f64) -> f64 {
    r / (std::f64::consts::PI / 180.0)
}

fn steps_for_radius(mut range: f64, lat: f64) -> u32 {
    if range == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u32
}

/// The cell of a point at `step` (its bits are 0 outside the valid range, as Redis's
/// geohashEncode leaves them).
fn cell_of(lon: f64, lat: f64, step: u32) -> Cell {
    let bits = encode(lon, lat, (LONG_MIN, LONG_MAX), (LAT_MIN, LAT_MAX), step);
    Cell {
        bits: bits.unwrap_or(0),
        step,
    }
}

/// A cell's bounds: (lon_min, lon_max, lat_min, lat_max).
fn bounds(c: Cell) -> (f64, f64, f64, f64) {
    let (ilat, ilon) = deinterleave(c.bits);
    let div = (1u64 << c.step) as f64;
    let (lat_scale, lon_scale) = (LAT_MAX - LAT_MIN, LONG_MAX - LONG_MIN);
    (
        LONG_MIN + (ilon as f64 * 1.0 / div) * lon_scale,
        LONG_MIN + ((ilon as f64 + 1.0) * 1.0 / div) * lon_scale,
        LAT_MIN + (ilat as f64 * 1.0 / div) * lat_scale,
        LAT_MIN + ((ilat as f64 + 1.0) * 1.0 / div) * lat_scale,
    )
}

/// Move a cell `d` steps along longitude (`lon`: the odd bits) or latitude (the even
/// bits), wrapping around (geohash_move_x / geohash_move_y).
fn move_cell(c: Cell, d: i8, lon: bool) -> Cell {
    if d == 0 {
        return c;
    }
    let (mine, other) = if lon {
        (0xaaaa_aaaa_aaaa_aaaau64, 0x5555_5555_5555_5555u64)
    } else {
        (0x5555_5555_5555_5555, 0xaaaa_aaaa_aaaa_aaaa)
    };
    let mut v = c.bits & mine;
    let zz = other >> (64 - c.step * 2);
    if d > 0 {
        v = v.wrapping_add(zz + 1);
    } else {
        v |= zz;
        v = v.wrapping_sub(zz + 1);
    }
    v &= mine >> (64 - c.step * 2);
    Cell {
        bits: v | (c.bits & other),
        step: c.step,
    }
}

fn move_x(c: Cell, d: i8) -> Cell {
    move_cell(c, d, true)
}

fn move_y(c: Cell, d: i8) -> Cell {
    move_cell(c, d, false)
}

/// The 9 cells to scan, in Redis's order: centre, N, S, E, W, NE, NW, SE, SW (unneeded
/// ones as NO_CELL).
fn cells(s: &Search) -> [Cell; 9] {
    let (height, width) = match s.shape {
        Shape::Radius(r) => (s.unit * r, s.unit * r),
        Shape::Box { width, height } => (s.unit * height / 2.0, s.unit * width / 2.0),
    };
    let lat_delta = rad_deg(height / EARTH_RADIUS_M);
    let lon_delta_top = rad_deg(width / EARTH_RADIUS_M / deg_rad(s.lat + lat_delta).cos());
    let lon_delta_bottom = rad_deg(width / EARTH_RADIUS_M / deg_rad(s.lat - lat_delta).cos());
    let south = s.lat < 0.0;
    let min_lon = s.lon
        - if south {
            lon_delta_bottom
        } else {
            lon_delta_top
        };
    let max_lon = s.lon
        + if south {
            lon_delta_bottom
        } else {
            lon_delta_top
        };
    let (min_lat, max_lat) = (s.lat - lat_delta, s.lat + lat_delta);
    let radius_m = match s.shape {
        Shape::Radius(r) => r,
        Shape::Box { width, height } => {
            ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
        }
    } * s.unit;
    let mut step = steps_for_radius(radius_m, s.lat);
    let neighbours = |c: Cell| {
        [
            move_y(move_x(c, 0), 1),   // north
            move_y(move_x(c, 0), -1),  // south
            move_y(move_x(c, 1), 0),   // east
            move_y(move_x(c, -1), 0),  // west
            move_y(move_x(c, 1), 1),   // north-east
            move_y(move_x(c, -1), 1),  // north-west
            move_y(move_x(c, 1), -1),  // south-east
            move_y(move_x(c, -1), -1), // south-west
        ]
    };
    let mut centre = cell_of(s.lon, s.lat, step);
    let mut n = neighbours(centre);
    // A step too coarse near the edge of a cell would leave part of the shape uncovered.
    let too_coarse = bounds(n[0]).3 < max_lat
        || bounds(n[1]).2 > min_lat
        || bounds(n[2]).1 < max_lon
        || bounds(n[3]).0 > min_lon;
    if step > 1 && too_coarse {
        step -= 1;
        centre = cell_of(s.lon, s.lat, step);
        n = neighbours(centre);
    }
    if step >= 2 {
        let (lo_min, lo_max, la_min, la_max) = bounds(centre);
        let [north, south, east, west, ne, nw, se, sw] = &mut n;
        if la_min < min_lat {
            (*south, *sw, *se) = (NO_CELL, NO_CELL, NO_CELL);
        }
        if la_max > max_lat {
            (*north, *ne, *nw) = (NO_CELL, NO_CELL, NO_CELL);
        }
        if lo_min < min_lon {
            (*west, *sw, *nw) = (NO_CELL, NO_CELL, NO_CELL);
        }
        if lo_max > max_lon {
            (*east, *se, *ne) = (NO_CELL, NO_CELL, NO_CELL);
        }
    }
    [centre, n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]]
}

struct Hit {
    member: Vec<u8>,
    score: f64,
    lon: f64,
    lat: f64,
    /// In meters until the reply converts it.
    dist: f64,
}

/// The point's distance from the centre if it lies inside the shape.
fn inside(s: &Search, lon: f64, lat: f64) -> Option<f64> {
    match s.shape {
        Shape::Radius(r) => {
            let d = distance(s.lon, s.lat, lon, lat);
            (d <= r * s.unit).then_some(d)
        }
        Shape::Box { width, height } => {
            let lat_d = EARTH_RADIUS_M * (deg_rad(s.lat) - deg_rad(lat)).abs();
            if lat_d > height * s.unit / 2.0 {
                return None;
            }
            if distance(lon, lat, s.lon, lat) > width * s.unit / 2.0 {
                return None;
            }
            Some(distance(s.lon, s.lat, lon, lat))
        }
    }
}

/// Members inside the shape, in Redis's scan order; stops at `limit` (COUNT ANY).
fn scan(z: &ZSet, s: &Search, limit: usize) -> Vec<Hit> {
    let cells = cells(s);
    let mut hits = Vec::new();
    let mut last = 0;
    for (i, c) in cells.iter().enumerate() {
        if *c == NO_CELL {
            continue;
        }
        // Redis compares with the last scanned cell only once it is not the centre.
        if last != 0 && *c == cells[last] {
            continue;
        }
        if limit != 0 && hits.len() >= limit {
            break;
        }
        let shift = 52 - c.step * 2;
        let (min, max) = ((c.bits << shift) as f64, ((c.bits + 1) << shift) as f64);
        let start = z.count_by_score(|sc| sc < min);
        for (m, score) in z.range(start, false) {
            if score >= max {
                break;
            }
            let (lon, lat) = decode(score_bits(score));
            if let Some(dist) = inside(s, lon, lat) {
                hits.push(Hit {
                    member: m.to_vec(),
                    score,
                    lon,
                    lat,
                    dist,
                });
                if limit != 0 && hits.len() >= limit {
                    break;
                }
            }
        }
        last = i;
    }
    hits
}

/// Which command's argument layout a search has.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// GEORADIUS lon lat radius unit
    RadiusCoords,
    /// GEORADIUSBYMEMBER member radius unit
    RadiusMember,
    /// GEOSEARCH / GEOSEARCHSTORE
    Search,
}

pub fn georadius(ctx: &mut Ctx) {
    search_generic(ctx, Form::RadiusCoords, false);
}
pub fn georadius_ro(ctx: &mut Ctx) {
    search_generic(ctx, Form::RadiusCoords, true);
}
pub fn georadiusbymember(ctx: &mut Ctx) {
    search_generic(ctx, Form::RadiusMember, false);
}
pub fn georadiusbymember_ro(ctx: &mut Ctx) {
    search_generic(ctx, Form::RadiusMember, true);
}
pub fn geosearch(ctx: &mut Ctx) {
    search_generic(ctx, Form::Search, true);
}
pub fn geosearchstore(ctx: &mut Ctx) {
    search_generic(ctx, Form::Search, false);
}

fn float_arg(ctx: &mut Ctx, i: usize, msg: &str) -> Option<f64> {
    let v = crate::util::parse_f64(&ctx.args[i]);
    if v.is_none() {
        ctx.error(msg);
    }
    v
}

fn lonlat_arg(ctx: &mut Ctx, i: usize) -> Option<(f64, f64)> {
    let lon = float_arg(ctx, i, NOT_FLOAT)?;
    let lat = float_arg(ctx, i + 1, NOT_FLOAT)?;
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        ctx.error(&format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        ));
        return None;
    }
    Some((lon, lat))
}

/// A radius and unit at `i`: (radius, meters per unit).
fn radius_arg(ctx: &mut Ctx, i: usize) -> Option<(f64, f64)> {
    let r = float_arg(ctx, i, "ERR need numeric radius")?;
    if r < 0.0 {
        ctx.error("ERR radius cannot be negative");
        return None;
    }
    Some((r, unit(ctx, i + 1)?))
}

fn member_pos(ctx: &mut Ctx, key: &[u8], member: &[u8]) -> Option<(f64, f64)> {
    match score_of(ctx, key, member) {
        Some(s) => Some(decode(score_bits(s))),
        None => {
            ctx.error("ERR could not decode requested zset member");
            None
        }
    }
}

fn search_generic(ctx: &mut Ctx, kind: Form, readonly: bool) {
    let store_form = kind == Form::Search && !readonly;
    let src_at = if store_form { 2 } else { 1 };
    let key = ctx.args[src_at].clone();
    let Ok(exists) = probe(ctx, &key) else { return };
    let mut centre: Option<(f64, f64)> = None;
    let mut shape: Option<(Shape, f64)> = None;
    let base = match kind {
        Form::RadiusCoords => {
            let Some(c) = lonlat_arg(ctx, 2) else { return };
            let Some((r, u)) = radius_arg(ctx, 4) else {
                return;
            };
            (centre, shape) = (Some(c), Some((Shape::Radius(r), u)));
            6
        }
        Form::RadiusMember if !exists => 5,
        Form::RadiusMember => {
            let member = ctx.args[2].clone();
            let Some(c) = member_pos(ctx, &key, &member) else {
                return;
            };
            let Some((r, u)) = radius_arg(ctx, 3) else {
                return;
            };
            (centre, shape) = (Some(c), Some((Shape::Radius(r), u)));
            5
        }
        Form::Search => src_at + 1,
    };
    let search = kind == Form::Search;
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort: Option<bool> = None; // Some(true): ascending
    let mut count: i64 = 0;
    let mut store: Option<(Bytes, bool)> = if store_form {
        Some((ctx.args[1].clone(), false))
    } else {
        None
    };
    let n = ctx.args.len();
    let mut i = base;
    while i < n {
        let left = n - i - 1;
        let a = ctx.args[i].to_ascii_lowercase();
        match a.as_slice() {
            b"withdist" => withdist = true,
            b"withhash" => withhash = true,
            b"withcoord" => withcoord = true,
            b"any" => any = true,
            b"asc" => sort = Some(true),
            b"desc" => sort = Some(false),
            b"count" if left >= 1 => {
                let Some(c) = ctx.int_arg(i + 1) else { return };
                if c <= 0 {
                    return ctx.error("ERR COUNT must be > 0");
                }
                count = c;
                i += 1;
            }
            b"store" | b"storedist" if left >= 1 && !readonly && !search => {
                store = Some((ctx.args[i + 1].clone(), a == b"storedist"));
                i += 1;
            }
            b"storedist" if store_form => {
                if let Some(st) = store.as_mut() {
                    st.1 = true;
                }
            }
            b"frommember" if left >= 1 && search && !fromloc => {
                if exists {
                    let member = ctx.args[i + 1].clone();
                    let Some(c) = member_pos(ctx, &key, &member) else {
                        return;
                    };
                    centre = Some(c);
                }
                frommember = true;
                i += 1;
            }
            b"fromlonlat" if left >= 2 && search && !frommember => {
                let Some(c) = lonlat_arg(ctx, i + 1) else {
                    return;
                };
                centre = Some(c);
                fromloc = true;
                i += 2;
            }
            b"byradius" if left >= 2 && search && !bybox => {
                let Some((r, u)) = radius_arg(ctx, i + 1) else {
                    return;
                };
                shape = Some((Shape::Radius(r), u));
                byradius = true;
                i += 2;
            }
            b"bybox" if left >= 3 && search && !byradius => {
                let w = float_arg(ctx, i + 1, "ERR need numeric width");
                let Some(w) = w else { return };
                let Some(h) = float_arg(ctx, i + 2, "ERR need numeric height") else {
                    return;
                };
                if h < 0.0 || w < 0.0 {
                    return ctx.error("ERR height or width cannot be negative");
                }
                let Some(u) = unit(ctx, i + 3) else { return };
                shape = Some((
                    Shape::Box {
                        width: w,
                        height: h,
                    },
                    u,
                ));
                bybox = true;
                i += 3;
            }
            _ => return ctx.error(SYNTAX),
        }
        i += 1;
    }
    let name = String::from_utf8_lossy(&ctx.args[0]).to_string();
    if store.is_some() && (withdist || withhash || withcoord) {
        let what = if store_form {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return ctx.error(&format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        ));
    }
    if search && !(frommember || fromloc) {
        return ctx.error(&format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        ));
    }
    if search && !(byradius || bybox) {
        return ctx.error(&format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        ));
    }
    if any && count == 0 {
        return ctx.error("ERR the ANY argument requires COUNT argument");
    }
    let (Some((lon, lat)), Some((shape, unit)), true) = (centre, shape, exists) else {
        // No source key.
        return match store {
            Some((dst, _)) => {
                if ctx.st.ks.db_mut(ctx.sess.db).delete(&dst) {
                    ctx.modified(&dst);
                    ctx.notify(class::GENERIC, "del", &dst);
                    ctx.propagate_self();
                }
                ctx.out.int(0)
            }
            None => ctx.out.array_len(0),
        };
    };
    if count != 0 && sort.is_none() && !any {
        sort = Some(true);
    }
    let s = Search {
        lon,
        lat,
        shape,
        unit,
    };
    let limit = if any { count as usize } else { 0 };
    let mut hits = match super::typed::<ZSet>(ctx.st, ctx.sess.db, &key) {
        Some(z) => scan(z, &s, limit),
        None => Vec::new(),
    };
    if let Some(asc) = sort {
        // Stable, as glibc's qsort (a merge sort) is: equal distances keep scan order.
        hits.sort_by(|a, b| {
            let o = a
                .dist
                .partial_cmp(&b.dist)
                .unwrap_or(std::cmp::Ordering::Equal);
            if asc {
                o
            } else {
                o.reverse()
            }
        });
    }
    let returned = if count == 0 {
        hits.len()
    } else {
        hits.len().min(count as usize)
    };
    hits.truncate(returned);
    for h in &mut hits {
        h.dist /= unit;
    }
    let Some((dst, storedist)) = store else {
        let options = withdist as usize + withhash as usize + withcoord as usize;
        let out = &mut *ctx.out;
        out.array_len(hits.len());
        for h in &hits {
            if options > 0 {
                out.array_len(options + 1);
            }
            out.bulk(&h.member);
            if withdist {
                out.bulk(distance_text(h.dist).as_bytes());
            }
            if withhash {
                out.int(h.score as i64);
            }
            if withcoord {
                out.array_len(2);
                coord(out, h.lon);
                coord(out, h.lat);
            }
        }
        return;
    };
    let z = ZSet::from_pairs(
        hits.iter()
            .map(|h| (h.member.clone(), if storedist { h.dist } else { h.score })),
    );
    // A non-empty result replaces an expired destination as a write's lookup would:
    // `expired`, then `new` (Redis's setKey). An empty one deletes it, expired or not,
    // publishing `del` (Redis's dbDelete does not look at the TTL).
    if returned > 0 {
        ctx.expire_if_needed(&dst);
    }
    if super::store_typed(ctx, &dst, z) {
        if returned > 0 {
            let event = if store_form {
                "geosearchstore"
            } else {
                "georadiusstore"
            };
            ctx.notify(class::ZSET, event, &dst);
        }
        ctx.propagate_self();
    }
    ctx.out.int(returned as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaving_round_trips() {
        for (x, y) in [
            (0, 0),
            (1, 0),
            (0, 1),
            (0x3ff_ffff, 0x155_5555),
            (u32::MAX, 7),
        ] {
            assert_eq!(deinterleave(interleave(x, y)), (x, y));
        }
        assert_eq!(interleave(1, 0), 1);
        assert_eq!(interleave(0, 1), 2);
    }

    #[test]
    fn palermo_encodes_decodes_and_measures_as_in_redis() {
        // Values from redis-server 7.0.15: GEOADD Sicily 13.361389 38.115556 Palermo ...
        let bits = encode_wgs84(13.361389, 38.115556).unwrap();
        assert_eq!(bits, 3_479_099_956_230_698);
        let (lon, lat) = decode(bits);
        assert_eq!(LongDouble::from_f64(lon).to_human(), "13.36138933897018433");
        assert_eq!(LongDouble::from_f64(lat).to_human(), "38.11555639549629859");
        let catania = decode(encode_wgs84(15.087269, 37.502669).unwrap());
        let d = distance(lon, lat, catania.0, catania.1) / 1000.0;
        assert_eq!(distance_text(d), "166.2742");
        assert_eq!(encode_wgs84(200.0, 0.0), None);
        assert_eq!(encode_wgs84(0.0, 86.0), None);
    }

    #[test]
    fn distances_round_as_redis_does() {
        // 27674431.132650003 * 10^4 is 276744311326.5 in double arithmetic: a tie, which
        // llrint rounds to even. Redis 7.0.15 answered .1326 for this distance (a
        // GEORADIUS ... ft WITHDIST found by a scratch comparison); `{:.4}` says .1327.
        assert_eq!(distance_text(27_674_431.132_650_003), "27674431.1326");
        assert_eq!(format!("{:.4}", 27_674_431.132_650_003), "27674431.1327");
        assert_eq!(distance_text(0.0), "0.0000");
        assert_eq!(distance_text(0.00004), "0.0000");
        assert_eq!(distance_text(56.441_257_870_158_2), "56.4413");
    }

    #[test]
    fn scores_convert_as_gcc_does() {
        assert_eq!(score_bits(1.5), 1);
        assert_eq!(score_bits(-1.0), u64::MAX);
        assert_eq!(score_bits(f64::NEG_INFINITY), 1 << 63);
        assert_eq!(score_bits(1e19), 10_000_000_000_000_000_000);
    }
}
