//! Geo commands (GEOADD GEOPOS GEODIST GEOHASH GEOSEARCH GEOSEARCHSTORE GEORADIUS*)
//! give Redis 7.0's scores, coordinates, distances, search results and errors, and a
//! stored search survives a restart from the log. (They were missing; the expected
//! replies are Redis 7.0.15's, and this file also passes against it.)

mod common;

use common::*;
use strata::protocol::Frame;

fn sicily(c: &mut Raw) {
    assert_eq!(
        c.q("GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 12.758489 38.788135 edge1 17.241510 38.788135 edge2"),
        int(4)
    );
}

#[test]
fn add_pos_dist_hash() {
    let s = start();
    let mut c = s.raw();
    sicily(&mut c);
    assert_eq!(c.q("ZSCORE Sicily Palermo"), bulk("3479099956230698"));
    assert_eq!(
        c.q("GEOPOS Sicily Palermo nobody"),
        arr(vec![
            bulks(&["13.36138933897018433", "38.11555639549629859"]),
            Frame::NullArray,
        ])
    );
    assert_eq!(c.q("GEODIST Sicily Palermo Catania"), bulk("166274.1516"));
    assert_eq!(c.q("GEODIST Sicily Palermo Catania km"), bulk("166.2742"));
    assert_eq!(c.q("GEODIST Sicily Palermo Catania MI"), bulk("103.3182"));
    assert_eq!(c.q("GEODIST Sicily Palermo nobody"), nil());
    assert_eq!(
        c.q("GEOHASH Sicily Palermo Catania nobody"),
        arr(vec![bulk("sqc8b49rny0"), bulk("sqdtr74hyu0"), nil()])
    );
    // NX/XX/CH are ZADD's.
    assert_eq!(c.q("GEOADD Sicily NX 13 38 Palermo"), int(0));
    assert_eq!(c.q("GEOADD Sicily XX CH 13 38 Palermo"), int(1));
    assert_eq!(
        c.q("GEOADD Sicily 200 0 x"),
        err("ERR invalid longitude,latitude pair 200.000000,0.000000")
    );
    assert_eq!(
        c.q("GEOADD Sicily 0 85.06 x"),
        err("ERR invalid longitude,latitude pair 0.000000,85.060000")
    );
    assert_eq!(
        c.q("GEOADD Sicily abc 2 x"),
        err("ERR value is not a valid float")
    );
    assert_eq!(c.q("GEOADD Sicily NX XX 1 2 x"), err("ERR syntax error"));
    assert_eq!(c.q("GEOADD Sicily CH 1 2"), err("ERR syntax error"));
    assert_eq!(
        c.q("GEODIST Sicily Palermo Catania parsec"),
        err("ERR unsupported unit provided. please use M, KM, FT, MI")
    );
    c.q("SET str x");
    assert_eq!(
        c.q("GEOPOS str a"),
        err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
}

#[test]
fn searches_by_radius_and_box() {
    let s = start();
    let mut c = s.raw();
    sicily(&mut c);
    assert_eq!(
        c.q("GEORADIUS Sicily 15 37 200 km WITHDIST WITHCOORD"),
        arr(vec![
            arr(vec![
                bulk("Palermo"),
                bulk("190.4424"),
                bulks(&["13.36138933897018433", "38.11555639549629859"]),
            ]),
            arr(vec![
                bulk("Catania"),
                bulk("56.4413"),
                bulks(&["15.08726745843887329", "37.50266842333162032"]),
            ]),
        ])
    );
    assert_eq!(
        c.q("GEORADIUS Sicily 15 37 200 km ASC COUNT 1"),
        bulks(&["Catania"])
    );
    assert_eq!(
        c.q("GEORADIUSBYMEMBER Sicily Palermo 200 km"),
        bulks(&["Palermo", "edge1", "Catania"])
    );
    assert_eq!(
        c.q("GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHHASH"),
        arr(vec![
            arr(vec![bulk("Catania"), int(3479447370796909)]),
            arr(vec![bulk("Palermo"), int(3479099956230698)]),
            arr(vec![bulk("edge2"), int(3481342659049484)]),
            arr(vec![bulk("edge1"), int(3479273021651468)]),
        ])
    );
    assert_eq!(
        c.q("GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 100 km DESC"),
        bulks(&["edge1", "Palermo"])
    );
    assert_eq!(
        c.q("GEOSEARCH nokey FROMMEMBER x BYRADIUS 1 km"),
        arr(vec![])
    );
    for (q, e) in [
        (
            "GEOSEARCH Sicily FROMMEMBER nobody BYRADIUS 10 km",
            "ERR could not decode requested zset member",
        ),
        (
            "GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 10 km BYBOX 1 1 km",
            "ERR syntax error",
        ),
        (
            "GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS -1 km",
            "ERR radius cannot be negative",
        ),
        (
            "GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 10 km ANY",
            "ERR the ANY argument requires COUNT argument",
        ),
        (
            "GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 10 km COUNT 0",
            "ERR COUNT must be > 0",
        ),
        (
            "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 x km",
            "ERR need numeric height",
        ),
        (
            "GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km WITHDIST WITHDIST COUNT 2 ASC x",
            "ERR syntax error",
        ),
        (
            "GEOSEARCH Sicily FROMLONLAT 15 37 ASC WITHDIST x y",
            "ERR syntax error",
        ),
        (
            "GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km WITHDIST",
            "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
        ),
        (
            "GEORADIUS_RO Sicily 15 37 200 km STORE dst2",
            "ERR syntax error",
        ),
    ] {
        assert_eq!(c.q(q), err(e), "{q}");
    }
}

#[test]
fn stored_searches_replace_the_destination_and_survive_a_restart() {
    let mut s1 = start_with(|c| c.appendonly = true);
    let external = s1.handle.is_none();
    {
        let mut c = s1.raw();
        sicily(&mut c);
        assert_eq!(
            c.q("GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST"),
            int(2)
        );
        assert_eq!(
            c.q("ZRANGE dst 0 -1 WITHSCORES"),
            bulks(&[
                "Catania",
                "56.441257870158204",
                "Palermo",
                "190.44242984775784"
            ])
        );
        assert_eq!(c.q("GEORADIUS Sicily 15 37 200 km STORE dst2"), int(2));
        assert_eq!(
            c.q("ZRANGE dst2 0 -1 WITHSCORES"),
            bulks(&["Palermo", "3479099956230698", "Catania", "3479447370796909"])
        );
        c.q("SET gone x");
        assert_eq!(
            c.q("GEOSEARCHSTORE gone nokey FROMMEMBER x BYRADIUS 1 km"),
            int(0)
        );
        assert_eq!(c.q("EXISTS gone"), int(0));
    }
    if external {
        return; // the restart needs the in-process server
    }
    let s2 = restart_with_log(&mut s1);
    let mut c = s2.raw();
    assert_eq!(
        c.q("ZRANGE dst 0 -1 WITHSCORES"),
        bulks(&[
            "Catania",
            "56.441257870158204",
            "Palermo",
            "190.44242984775784"
        ])
    );
    assert_eq!(c.q("ZCARD dst2"), int(2));
    assert_eq!(c.q("EXISTS gone"), int(0));
}
