//! The latency monitor: LATENCY LATEST / HISTORY / RESET / DOCTOR / HISTOGRAM / HELP, as in
//! Redis 7.0.
//!
//! With `latency-monitor-threshold` set to N ms (0, the default, turns it off), every
//! event that took at least N ms is sampled: `command` and `fast-command` (a command's
//! execution, timed by the dispatcher), and, from the fsync thread, `aof-write` (writing
//! a group to the log), `aof-fsync-always` (the group commit's fdatasync) and
//! `aof-fsync` (Strata's name for the fdatasync under `everysec`, `no` and WAITAOF, which
//! Redis runs in a background thread without measuring). Each event keeps its latest 160
//! samples, one per second (the highest), and its all-time maximum. LATENCY HISTOGRAM
//! reads the per-command histograms kept with the command statistics.
//!
//! [`LatencyMonitor`] is shared with the fsync thread, which is why it locks inside and
//! reads its threshold from an atomic (the engine copies the configured value in).

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::Ctx;

/// Samples kept per event (Redis's LATENCY_TS_LEN).
const HISTORY: usize = 160;

#[derive(Debug, Default)]
struct Series {
    /// (Unix seconds, ms), oldest first.
    samples: VecDeque<(u64, u64)>,
    max: u64,
}

#[derive(Debug, Default)]
pub struct LatencyMonitor {
    threshold_ms: AtomicU64,
    events: Mutex<BTreeMap<&'static str, Series>>,
}

impl LatencyMonitor {
    pub fn set_threshold(&self, ms: u64) {
        self.threshold_ms.store(ms, Ordering::Relaxed);
    }

    fn events(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Series>> {
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `event` took `ms`: sampled if the monitor is on and `ms` reaches its threshold.
    pub fn record(&self, event: &'static str, ms: u64) {
        let threshold = self.threshold_ms.load(Ordering::Relaxed);
        if threshold == 0 || ms < threshold {
            return;
        }
        let now = crate::util::now_ms() / 1000;
        let mut events = self.events();
        let s = events.entry(event).or_default();
        s.max = s.max.max(ms);
        match s.samples.back_mut() {
            Some((t, v)) if *t == now => *v = (*v).max(ms),
            _ => {
                if s.samples.len() == HISTORY {
                    s.samples.pop_front();
                }
                s.samples.push_back((now, ms));
            }
        }
    }
}

/// LATENCY <subcommand>.
pub fn latency(ctx: &mut Ctx) {
    let monitor = ctx.st.latency.clone();
    match ctx.args[1].to_ascii_lowercase().as_slice() {
        b"latest" => {
            let events = monitor.events();
            ctx.out.array_len(events.len());
            for (name, s) in events.iter() {
                let &(t, ms) = s.samples.back().unwrap_or(&(0, 0));
                ctx.out.array_len(4);
                ctx.out.bulk(name.as_bytes());
                ctx.out.int(t as i64);
                ctx.out.int(ms as i64);
                ctx.out.int(s.max as i64);
            }
        }
        b"history" => {
            let events = monitor.events();
            let name = String::from_utf8_lossy(&ctx.args[2]);
            let samples = events.get(name.as_ref()).map(|s| &s.samples);
            let n = samples.map_or(0, |s| s.len());
            ctx.out.array_len(n);
            for &(t, ms) in samples.into_iter().flatten() {
                ctx.out.array_len(2);
                ctx.out.int(t as i64);
                ctx.out.int(ms as i64);
            }
        }
        b"reset" => {
            let mut events = monitor.events();
            let n = if ctx.args.len() == 2 {
                let n = events.len();
                events.clear();
                n
            } else {
                ctx.args[2..]
                    .iter()
                    .filter(|a| {
                        let name = String::from_utf8_lossy(a);
                        events.remove(name.as_ref()).is_some()
                    })
                    .count()
            };
            drop(events);
            ctx.out.int(n as i64);
        }
        b"doctor" => {
            let text = doctor(&monitor, ctx.st.config.slowlog_log_slower_than);
            ctx.out.verbatim("txt", text.as_bytes());
        }
        b"graph" => {
            let name = String::from_utf8_lossy(&ctx.args[2]).into_owned();
            if monitor.events().contains_key(name.as_str()) {
                ctx.error("ERR LATENCY GRAPH is not supported by Strata: read the samples with LATENCY HISTORY")
            } else {
                ctx.error(&format!("ERR No samples available for event '{name}'"))
            }
        }
        b"histogram" => histogram(ctx),
        _ => ctx.help(&[
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
            "HELP",
            "    Prints this help.",
        ]),
    }
}

/// LATENCY HISTOGRAM [command ...]: for each command (all that ran, or those named that
/// ran; `config|get` names a subcommand, `config` all of them) its calls and its
/// cumulative counts at power-of-two microsecond bounds.
fn histogram(ctx: &mut Ctx) {
    let all = ctx.st.stats.calls.histograms();
    let wanted: Vec<String> = ctx.args[2..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_lowercase())
        .collect();
    // In the order asked for, as Redis answers.
    let chosen: Vec<_> = if wanted.is_empty() {
        all
    } else {
        let mut chosen: Vec<(String, _)> = Vec::new();
        for w in &wanted {
            for (name, h) in &all {
                let matches =
                    w == name || (!w.contains('|') && name.split('|').next() == Some(w.as_str()));
                if matches && !chosen.iter().any(|(n, _)| n == name) {
                    chosen.push((name.clone(), *h));
                }
            }
        }
        chosen
    };
    ctx.out.map_len(chosen.len());
    for (name, h) in chosen {
        ctx.out.bulk(name.as_bytes());
        ctx.out.map_len(2);
        ctx.out.bulk(b"calls");
        ctx.out.int(h.total() as i64);
        ctx.out.bulk(b"histogram_usec");
        let buckets = h.cumulative_usec();
        ctx.out.map_len(buckets.len());
        for (bound, n) in buckets {
            ctx.out.int(bound as i64);
            ctx.out.int(n as i64);
        }
    }
}

/// LATENCY DOCTOR's report: Redis's opening, its per-event analysis (spikes, average,
/// mean deviation, period, worst), and the advice that applies to Strata.
fn doctor(monitor: &LatencyMonitor, slowlog_us: i64) -> String {
    let events = monitor.events();
    if events.is_empty() {
        return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".to_string();
    }
    let mut o = String::from(
        "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
    );
    let now = crate::util::now_ms() / 1000;
    let (mut commands, mut disk) = (false, false);
    for (i, (name, s)) in events.iter().enumerate() {
        let n = s.samples.len().max(1) as u64;
        let avg = s.samples.iter().map(|x| x.1).sum::<u64>() / n;
        let mad = s.samples.iter().map(|x| x.1.abs_diff(avg)).sum::<u64>() / n;
        let oldest = s.samples.front().map_or(now, |x| x.0);
        let period = now.saturating_sub(oldest) as f64 / n as f64;
        let _ = writeln!(
            o,
            "{}. {name}: {} latency spikes (average {avg}ms, mean deviation {mad}ms, period {period:.2} sec). Worst all time event {}ms.",
            i + 1,
            s.samples.len(),
            s.max
        );
        commands |= name.ends_with("command");
        disk |= name.starts_with("aof-");
    }
    o.push_str("\nI have a few advices for you:\n\n");
    let threshold = monitor.threshold_ms.load(Ordering::Relaxed) as i64;
    if commands && (slowlog_us < 0 || slowlog_us / 1000 > threshold) {
        let _ = writeln!(
            o,
            "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {}'.",
            threshold * 1000
        );
    }
    if commands {
        o.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
    }
    if disk {
        o.push_str("- The append-only log's writes or fsyncs were slow: the disk is the bottleneck. Under appendfsync always every acknowledged write waits for an fsync; everysec bounds the loss to about a second, and WAITAOF makes chosen writes durable on demand.\n");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_respect_the_threshold_merge_per_second_and_stay_bounded() {
        let m = LatencyMonitor::default();
        m.record("command", 500);
        assert!(m.events().is_empty(), "off while the threshold is 0");
        m.set_threshold(10);
        m.record("command", 9);
        assert!(m.events().is_empty());
        m.record("command", 10);
        m.record("command", 30);
        m.record("command", 20);
        {
            let events = m.events();
            let s = &events["command"];
            // Within one second the highest sample stands for it.
            assert_eq!(s.samples.len(), 1);
            assert_eq!(s.samples[0].1, 30);
            assert_eq!(s.max, 30);
        }
        // One sample per second, at most HISTORY of them.
        let mut events = m.events();
        let s = events.get_mut("command").unwrap();
        s.samples.clear();
        for t in 0..(HISTORY as u64 + 40) {
            s.samples.push_back((t, 11));
            if s.samples.len() > HISTORY {
                s.samples.pop_front();
            }
        }
        drop(events);
        m.record("command", 12);
        let events = m.events();
        assert_eq!(events["command"].samples.len(), HISTORY);
        assert_eq!(events["command"].samples.back().unwrap().1, 12);
    }
}
