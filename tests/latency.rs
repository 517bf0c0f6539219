//! The latency monitor matches Redis 7.0: off until `latency-monitor-threshold` is set,
//! then a command at or over it is sampled as `command` (LATEST, HISTORY, RESET, the
//! DOCTOR report), unknown events have no history, and the subcommands Strata does not
//! implement (GRAPH, HISTOGRAM) say so instead of answering something made up.

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
fn errors_and_what_is_not_implemented() {
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
    let Frame::Error(e) = c.q("LATENCY HISTOGRAM") else {
        panic!()
    };
    assert!(
        e.starts_with("ERR LATENCY HISTOGRAM is not supported by Strata"),
        "{e}"
    );
    assert!(matches!(c.q("LATENCY HELP"), Frame::Array(l) if l.len() == 17));
}
