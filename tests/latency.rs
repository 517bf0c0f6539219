//! The latency monitor matches Redis 7.0: off until `latency-monitor-threshold` is set,
//! then a command at or over it is sampled as `command` (LATEST, HISTORY, RESET, the
//! DOCTOR report), unknown events have no history, GRAPH says it is not implemented;
//! per-command histograms answer LATENCY HISTOGRAM and INFO latencystats.

mod common;

use common::*;
use strata::protocol::Frame;

fn items(f: Frame) -> Vec<Frame> {
    match f {
        Frame::Array(v) => v,
        other => panic!("expected an array, got {other:?}"),
    }
}

#[test]
fn slow_commands_are_sampled_once_a_threshold_is_set() {
    let s = start_with(|c| c.enable_debug_command = "yes".into());
    let mut c = s.raw();
    // Off by default.
    c.q("DEBUG SLEEP 0.01");
    assert_eq!(c.q("LATENCY LATEST"), arr(vec![]));
    assert!(as_text(&c.q("LATENCY DOCTOR")).starts_with("Dave, no latency spike was observed"));

    assert_eq!(c.q("CONFIG SET latency-monitor-threshold 5"), ok());
    assert_eq!(
        c.q("CONFIG GET latency-monitor-threshold"),
        bulks(&["latency-monitor-threshold", "5"])
    );
    c.q("DEBUG SLEEP 0.03");
    c.q("PING"); // fast, and far under the threshold: not sampled
    let latest = items(c.q("LATENCY LATEST"));
    assert_eq!(latest.len(), 1, "{latest:?}");
    let event = items(latest[0].clone());
    assert_eq!(event[0], bulk("command"));
    let (last, max) = (as_int(&event[2]), as_int(&event[3]));
    assert!(last >= 30 && max >= last, "{event:?}");
    let history = items(c.q("LATENCY HISTORY command"));
    assert_eq!(history.len(), 1);
    assert_eq!(items(history[0].clone())[1], int(last));
    assert_eq!(c.q("LATENCY HISTORY nosuch"), arr(vec![]));

    let report = as_text(&c.q("LATENCY DOCTOR"));
    assert!(report.contains("1. command: 1 latency spikes"), "{report}");
    assert!(
        report.contains(&format!("Worst all time event {max}ms.")),
        "{report}"
    );

    assert_eq!(c.q("LATENCY RESET command nosuch"), int(1));
    assert_eq!(c.q("LATENCY LATEST"), arr(vec![]));
    assert_eq!(c.q("LATENCY RESET"), int(0));
}

#[test]
fn errors_and_graph_not_implemented() {
    let s = start();
    let mut c = s.raw();
    assert_eq!(
        c.q("LATENCY HISTORY"),
        err("ERR wrong number of arguments for 'latency|history' command")
    );
    assert_eq!(
        c.q("LATENCY NOPE"),
        err("ERR unknown subcommand 'NOPE'. Try LATENCY HELP.")
    );
    assert_eq!(
        c.q("LATENCY GRAPH command"),
        err("ERR No samples available for event 'command'")
    );
    assert!(matches!(c.q("LATENCY HELP"), Frame::Array(l) if l.len() == 17));
}

/// One command of a LATENCY HISTOGRAM reply: name, calls, cumulative (µs bound, count).
type Histogram = (String, i64, Vec<(i64, i64)>);

fn histograms(f: Frame) -> Vec<Histogram> {
    items(f)
        .chunks(2)
        .map(|kv| {
            let fields = items(kv[1].clone());
            assert_eq!(fields[0], bulk("calls"));
            assert_eq!(fields[2], bulk("histogram_usec"));
            let buckets = items(fields[3].clone())
                .chunks(2)
                .map(|p| (as_int(&p[0]), as_int(&p[1])))
                .collect();
            (as_text(&kv[0]), as_int(&fields[1]), buckets)
        })
        .collect()
}

#[test]
fn per_command_histograms_and_latencystats() {
    let s = start();
    let mut c = s.raw();
    for i in 0..50 {
        c.call(&["SET", &format!("k{i}"), "v"]);
    }
    c.q("CONFIG GET maxmemory");
    // Named commands that ran (a container's name covers its subcommands).
    let h = histograms(c.q("LATENCY HISTOGRAM set config nosuch"));
    let names: Vec<&str> = h.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(names, ["set", "config|get"]);
    let (_, calls, buckets) = &h[0];
    assert_eq!(*calls, 50);
    // Cumulative counts at growing power-of-two bounds, ending with every call.
    assert_eq!(buckets.last().unwrap().1, 50);
    for w in buckets.windows(2) {
        assert!(w[0].0 < w[1].0 && w[0].1 < w[1].1, "{buckets:?}");
        assert_eq!(w[1].0.count_ones(), 1, "{buckets:?}");
    }
    let all = histograms(c.q("LATENCY HISTOGRAM"));
    assert!(all.iter().any(|x| x.0 == "latency|histogram"), "{all:?}");

    let stats = as_text(&c.q("INFO latencystats"));
    let set = stats
        .lines()
        .find(|l| l.starts_with("latency_percentiles_usec_set:"))
        .unwrap_or_else(|| panic!("{stats}"));
    let fields: Vec<&str> = set.split_once(':').unwrap().1.split(',').collect();
    assert_eq!(fields.len(), 3, "{set}");
    for (f, p) in fields.iter().zip(["p50=", "p99=", "p99.9="]) {
        assert!(
            f.starts_with(p) && f[p.len()..].parse::<f64>().is_ok(),
            "{set}"
        );
    }
    assert!(!as_text(&c.q("INFO")).contains("# Latencystats"));
    assert_eq!(
        c.call(&[
            "CONFIG",
            "SET",
            "latency-tracking-info-percentiles",
            "90 99.99"
        ]),
        ok()
    );
    let stats = as_text(&c.q("INFO latencystats"));
    assert!(stats.contains(",p99.99="), "{stats}");
    // latency-tracking no: nothing new is recorded.
    c.q("CONFIG SET latency-tracking no");
    c.q("LPUSH l x");
    let h = histograms(c.q("LATENCY HISTOGRAM lpush"));
    assert!(h.is_empty(), "{h:?}");
}
