//! A hand-written SVG scatter plot: throughput (x) against acknowledged writes lost (y,
//! log scale with 0 at the bottom) per round, one colour per policy, with each policy's
//! overall figure as a larger ring.

use std::fmt::Write as _;

use super::{Policy, RoundResult, Summary};

const W: f64 = 760.0;
const H: f64 = 460.0;
const LEFT: f64 = 96.0;
const RIGHT: f64 = 180.0;
const TOP: f64 = 56.0;
const BOTTOM: f64 = 64.0;

fn color(p: Policy) -> &'static str {
    match p {
        Policy::Always => "#1b9e77",
        Policy::Everysec => "#d95f02",
        Policy::No => "#7570b3",
        Policy::EverysecWaitaof => "#e7298a",
        Policy::NoWaitaof => "#66a61e",
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn nice_step(max: f64) -> f64 {
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * mag >= raw {
            return m * mag;
        }
    }
    10.0 * mag
}

fn thousands(v: f64) -> String {
    let n = v.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn svg(title: &str, subtitle: &str, rounds: &[RoundResult], summaries: &[Summary]) -> String {
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let max_x = rounds
        .iter()
        .map(|r| r.throughput())
        .fold(0.0f64, f64::max)
        .max(1.0);
    let step = nice_step(max_x * 1.05);
    let x_max = (max_x * 1.05 / step).ceil() * step;
    let max_lost = rounds.iter().map(|r| r.lost).max().unwrap_or(0);
    // The top of the y axis is the smallest power of ten >= the largest loss (at least 10).
    let mut decades = 1u32;
    while 10f64.powi(decades as i32) < max_lost as f64 {
        decades += 1;
    }
    let y_top = (1.0 + 10f64.powi(decades as i32)).log10();
    let sx = |x: f64| LEFT + x / x_max * pw;
    let sy = |lost: f64| TOP + ph - (1.0 + lost).log10() / y_top * ph;

    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(o, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        o,
        r#"<text x="{LEFT}" y="24" font-size="16" font-weight="bold">{}</text>"#,
        esc(title)
    );
    let _ = writeln!(
        o,
        r##"<text x="{LEFT}" y="42" fill="#555">{}</text>"##,
        esc(subtitle)
    );
    // Grid and x ticks.
    let mut x = 0.0;
    while x <= x_max + step / 2.0 {
        let px = sx(x);
        let _ = writeln!(
            o,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#e5e5e5"/>"##,
            TOP + ph
        );
        let _ = writeln!(
            o,
            r#"<text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TOP + ph + 18.0,
            thousands(x)
        );
        x += step;
    }
    // y ticks: 0, 1, 10, 100, ...
    for d in 0..=decades + 1 {
        let v = if d == 0 {
            0.0
        } else {
            10f64.powi(d as i32 - 1)
        };
        let py = sy(v);
        let _ = writeln!(
            o,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e5e5e5"/>"##,
            LEFT + pw
        );
        let _ = writeln!(
            o,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 8.0,
            py + 4.0,
            thousands(v)
        );
    }
    let _ = writeln!(
        o,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>"##
    );
    let _ = writeln!(
        o,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">throughput of the round (acknowledged writes/s)</text>"#,
        LEFT + pw / 2.0,
        H - 18.0
    );
    let _ = writeln!(
        o,
        r#"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">acknowledged writes lost in the round (log scale)</text>"#,
        TOP + ph / 2.0
    );
    // Rounds.
    for r in rounds {
        let _ = writeln!(
            o,
            r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{}" fill-opacity="0.55"><title>{} round {}: {:.0} ops/s, {} lost{}</title></circle>"#,
            sx(r.throughput()),
            sy(r.lost as f64),
            color(r.policy),
            r.policy.name(),
            r.round,
            r.throughput(),
            r.lost,
            r.max_lost_age_ms
                .map_or(String::new(), |a| format!(", oldest {a:.0} ms old"))
        );
    }
    // Per-policy overall (mean lost per round at the overall throughput).
    for s in summaries {
        let mean_lost = s.lost as f64 / s.rounds.max(1) as f64;
        let _ = writeln!(
            o,
            r#"<circle cx="{:.1}" cy="{:.1}" r="8" fill="none" stroke="{}" stroke-width="2.5"/>"#,
            sx(s.throughput()),
            sy(mean_lost),
            color(s.policy)
        );
    }
    // Legend.
    let lx = LEFT + pw + 20.0;
    let mut ly = TOP + 10.0;
    for s in summaries {
        let _ = writeln!(
            o,
            r#"<circle cx="{lx}" cy="{ly}" r="5" fill="{}"/><text x="{}" y="{}" font-weight="bold">{}</text>"#,
            color(s.policy),
            lx + 12.0,
            ly + 4.0,
            s.policy.name()
        );
        let lines = [
            format!("{} ops/s", thousands(s.throughput())),
            format!("lost {} acked", thousands(s.lost as f64)),
            match s.max_lost_age_ms {
                Some(a) => format!("oldest loss {a:.0} ms"),
                None => "no loss".to_string(),
            },
            format!("{}/{} rounds passed", s.passed, s.rounds),
        ];
        for (i, l) in lines.iter().enumerate() {
            let _ = writeln!(
                o,
                r##"<text x="{}" y="{:.1}" fill="#444">{}</text>"##,
                lx + 12.0,
                ly + 20.0 + 15.0 * i as f64,
                esc(l)
            );
        }
        ly += 96.0;
    }
    let _ = writeln!(
        o,
        r##"<text x="{lx}" y="{:.1}" fill="#555">dots: rounds</text><text x="{lx}" y="{:.1}" fill="#555">rings: overall</text>"##,
        ly + 4.0,
        ly + 20.0
    );
    o.push_str("</svg>\n");
    o
}
