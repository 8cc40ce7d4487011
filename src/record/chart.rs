//! The timeline chart: an inline SVG drawn from the view, so record.html
//! stays one self-contained file.
//!
//! Outage phases are shaded bands behind everything; each alert has a lane
//! with its firings (▲), a line to each RTO deadline and the deciding
//! arrival (or a ✕ beside the firing when it was lost); each channel has a
//! lane with the arrivals it received. Written
//! by hand because it is a few dozen shapes and no plotting crate renders
//! to self-contained SVG without pulling in fonts and a rasteriser. Every
//! text node and attribute that carries scenario text goes through [`esc`]:
//! the HTML template inserts this markup unescaped.

use std::fmt::Write;

use super::view::{FiringView, View};
use crate::drill::verdict::Outcome;

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 210.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 8.0;
const LANE: f64 = 22.0;
const HEADER: f64 = 18.0;
/// Deadlines further right than this many times the run's span are clipped
/// (drawn as an arrow at the edge) so a long RTO does not squash the run.
const DEADLINE_REACH: f64 = 3.0;

const DELIVERED: &str = "#1a7f37";
const LATE: &str = "#b35900";
const DROPPED: &str = "#cf222e";
const CANARY: &str = "#57606a";
const BANDS: [&str; 2] = ["#fde8e7", "#fbd3d0"];

/// Escapes text for an SVG text node or a quoted attribute.
pub fn esc(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// The chart's horizontal scale: milliseconds from the outage start to x.
struct Scale {
    t0: f64,
    t1: f64,
}

impl Scale {
    fn x(&self, ms: f64) -> f64 {
        let ms = ms.clamp(self.t0, self.t1);
        LEFT + (ms - self.t0) / (self.t1 - self.t0) * (WIDTH - LEFT - RIGHT)
    }

    fn clipped(&self, ms: f64) -> bool {
        ms > self.t1
    }
}

fn scale(view: &View) -> Scale {
    let all = view.firings.iter().chain(&view.canaries);
    let fired = all.clone().map(|f| f.fired_ms).fold(0.0, f64::min);
    let arrived = all
        .clone()
        .flat_map(|f| f.arrivals.iter().map(move |a| f.fired_ms + a.latency_ms))
        .fold(f64::NEG_INFINITY, f64::max);
    let t0 = view.run_start_ms.min(fired);
    let mut t1 = view.run_end_ms.max(arrived);
    let deadlines = view
        .firings
        .iter()
        .map(|f| f.deadline_ms)
        .fold(f64::NEG_INFINITY, f64::max);
    if deadlines > t1 && deadlines - t0 <= DEADLINE_REACH * (t1 - t0) {
        t1 = deadlines;
    }
    if t1 - t0 < 1.0 {
        t1 = t0 + 1.0;
    }
    Scale { t0, t1 }
}

/// A tick step of 1, 2 or 5 times a power of ten giving at most ten ticks.
fn tick_step(span_ms: f64) -> f64 {
    let raw = span_ms / 10.0;
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * power)
}

/// Draws the chart.
pub fn render(view: &View) -> String {
    let s = scale(view);
    let mut alerts: Vec<&str> = Vec::new();
    for f in &view.firings {
        if !alerts.contains(&f.name.as_str()) {
            alerts.push(&f.name);
        }
    }
    let canary_lane = !view.canaries.is_empty();
    let alert_lanes = alerts.len() + usize::from(canary_lane);
    let outage_y = TOP;
    let alerts_y = outage_y + LANE + HEADER;
    let channels_y = alerts_y + alert_lanes as f64 * LANE + HEADER;
    let axis_y = channels_y + view.channels.len() as f64 * LANE;
    let height = axis_y + 62.0;

    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline-chart\" viewBox=\"0 0 \
         {WIDTH} {height:.0}\" width=\"100%\" role=\"img\" aria-labelledby=\"chart-title\" \
         font-family=\"system-ui, -apple-system, 'Segoe UI', sans-serif\" font-size=\"11\">\
         <title id=\"chart-title\">Timeline of the drill: {}</title>",
        esc(&view.title)
    );

    // Outage phases: bands behind every lane, labelled in their own row.
    for (i, p) in view.phases.iter().enumerate() {
        let (x0, x1) = (s.x(p.start_ms), s.x(p.end_ms));
        let _ = write!(
            out,
            "<rect x=\"{x0:.1}\" y=\"{outage_y:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
             fill=\"{}\"><title>Phase {}: {}</title></rect>",
            (x1 - x0).max(1.0),
            axis_y - outage_y,
            BANDS[i % 2],
            p.n,
            esc(&p.faults)
        );
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#82071e\">phase {}</text>",
            x0 + 3.0,
            outage_y + 15.0,
            p.n
        );
    }
    label(&mut out, outage_y, "Outage phases", true);
    section(
        &mut out,
        alerts_y - 5.0,
        "Alerts: ▲ fired, ┤ RTO deadline, ● arrival",
    );
    section(&mut out, channels_y - 5.0, "Arrivals by channel");

    // Lane separators.
    let lanes = alert_lanes + view.channels.len();
    for i in 0..=lanes {
        let y = if i <= alert_lanes {
            alerts_y + i as f64 * LANE
        } else {
            channels_y + (i - alert_lanes) as f64 * LANE
        };
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#d0d7de\" \
             stroke-width=\"0.5\"/>",
            WIDTH - RIGHT
        );
    }

    for (i, alert) in alerts.iter().enumerate() {
        let y = alerts_y + i as f64 * LANE;
        label(&mut out, y, alert, false);
        for f in view.firings.iter().filter(|f| f.name == *alert) {
            firing(&mut out, &s, y + LANE / 2.0, f, false);
        }
    }
    if canary_lane {
        let y = alerts_y + alerts.len() as f64 * LANE;
        label(&mut out, y, "canaries", false);
        for f in &view.canaries {
            firing(&mut out, &s, y + LANE / 2.0, f, true);
        }
    }

    for (i, c) in view.channels.iter().enumerate() {
        let y = channels_y + i as f64 * LANE;
        label(&mut out, y, &format!("{} ({})", c.name, c.role), false);
        let cy = y + LANE / 2.0;
        let on_channel = |f: &&FiringView| f.arrivals.iter().any(|a| a.channel == c.name);
        for f in view.firings.iter().filter(on_channel) {
            arrival_dot(&mut out, &s, cy, f, &c.name, colour(f.outcome));
        }
        for f in view.canaries.iter().filter(on_channel) {
            arrival_dot(&mut out, &s, cy, f, &c.name, CANARY);
        }
    }

    axis(&mut out, &s, axis_y, TOP);
    legend(&mut out, axis_y + 52.0);
    out.push_str("</svg>");
    out
}

fn colour(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Delivered => DELIVERED,
        Outcome::Late => LATE,
        Outcome::Dropped | Outcome::NotFired => DROPPED,
    }
}

fn label(out: &mut String, lane_y: f64, text: &str, bold: bool) {
    let shown: String = if text.chars().count() > 32 {
        text.chars().take(31).chain(['…']).collect()
    } else {
        text.to_string()
    };
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\"{}>{}</text>",
        LEFT - 8.0,
        lane_y + LANE / 2.0 + 4.0,
        if bold { " font-weight=\"600\"" } else { "" },
        esc(&shown)
    );
}

fn section(out: &mut String, y: f64, text: &str) {
    let _ = write!(
        out,
        "<text x=\"8\" y=\"{y:.1}\" font-weight=\"600\" fill=\"#24292f\">{}</text>",
        esc(text)
    );
}

/// One firing on its alert lane: the fire mark, the line to its deadline,
/// and the deciding arrival or a cross where it was lost.
fn firing(out: &mut String, s: &Scale, cy: f64, f: &FiringView, canary: bool) {
    let x = s.x(f.fired_ms);
    let xd = s.x(f.deadline_ms);
    let _ = write!(
        out,
        "<g><title>{} #{} ({}): {} — fired {} s, RTO {}, {}</title>",
        esc(&f.name),
        f.n,
        esc(&f.severity),
        esc(&f.title),
        esc(&f.fired_offset_s),
        esc(&f.rto),
        esc(&f.outcome_str)
    );
    let lost = matches!(f.outcome, Outcome::Dropped | Outcome::NotFired);
    let _ = write!(
        out,
        "<line x1=\"{x:.1}\" x2=\"{xd:.1}\" y1=\"{cy:.1}\" y2=\"{cy:.1}\" stroke=\"{}\" \
         stroke-width=\"1\"{}/>",
        if lost { DROPPED } else { "#8c959f" },
        if lost {
            " stroke-dasharray=\"3 3\""
        } else {
            ""
        }
    );
    if s.clipped(f.deadline_ms) {
        let _ = write!(
            out,
            "<path d=\"M{:.1} {:.1} l6 4 l-6 4 z\" fill=\"#8c959f\"/>",
            xd - 6.0,
            cy - 4.0
        );
    } else {
        let _ = write!(
            out,
            "<line x1=\"{xd:.1}\" x2=\"{xd:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#57606a\" \
             stroke-width=\"1.5\"/>",
            cy - 6.0,
            cy + 6.0
        );
    }
    let _ = write!(
        out,
        "<path d=\"M{x:.1} {:.1} l4.5 8 h-9 z\" fill=\"#24292f\"/>",
        cy - 5.0
    );
    let colour = if canary { CANARY } else { colour(f.outcome) };
    match (f.outcome, f.latency_ms) {
        (Outcome::Delivered | Outcome::Late, Some(ms)) => {
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{cy:.1}\" r=\"3.5\" fill=\"{colour}\"/>",
                s.x(f.fired_ms + ms)
            );
        }
        _ => {
            // Beside the fire mark: the deadline may be off the chart, and
            // crosses stacked there would hide how many were lost.
            let _ = write!(
                out,
                "<path d=\"M{:.1} {:.1} l8 8 m0 -8 l-8 8\" stroke=\"{DROPPED}\" \
                 stroke-width=\"2\"/>",
                x + 5.0,
                cy - 4.0
            );
        }
    }
    out.push_str("</g>");
}

fn arrival_dot(out: &mut String, s: &Scale, cy: f64, f: &FiringView, channel: &str, fill: &str) {
    for a in f.arrivals.iter().filter(|a| a.channel == channel) {
        let _ = write!(
            out,
            "<circle cx=\"{:.1}\" cy=\"{cy:.1}\" r=\"3.5\" fill=\"{fill}\"><title>{} #{} on {} \
             after {:.0} ms</title></circle>",
            s.x(f.fired_ms + a.latency_ms),
            esc(&f.name),
            f.n,
            esc(channel),
            a.latency_ms
        );
    }
}

fn axis(out: &mut String, s: &Scale, y: f64, top: f64) {
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#57606a\"/>",
        WIDTH - RIGHT
    );
    let step = tick_step(s.t1 - s.t0);
    let mut t = (s.t0 / step).ceil() * step;
    while t <= s.t1 + step * 1e-9 {
        let x = s.x(t);
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{top:.1}\" y2=\"{:.1}\" stroke=\"#d0d7de\" \
             stroke-width=\"0.5\" stroke-dasharray=\"2 3\"/><text x=\"{x:.1}\" y=\"{:.1}\" \
             text-anchor=\"middle\">{}</text>",
            y + 4.0,
            y + 16.0,
            tick_label(t, step)
        );
        t += step;
    }
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#57606a\">seconds from \
         the outage start</text>",
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        y + 30.0
    );
}

fn tick_label(ms: f64, step: f64) -> String {
    let decimals = if step >= 1000.0 {
        0
    } else if step >= 100.0 {
        1
    } else {
        2
    };
    let secs = ms / 1e3;
    let secs = if secs.abs() < 1e-9 { 0.0 } else { secs };
    format!("{secs:.decimals$}")
}

fn legend(out: &mut String, y: f64) {
    let items = [(DELIVERED, "delivered"), (LATE, "late"), (CANARY, "canary")];
    let mut x = LEFT;
    for (fill, name) in items {
        let _ = write!(
            out,
            "<circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{fill}\"/><text x=\"{:.1}\" \
             y=\"{:.1}\">{name}</text>",
            y - 4.0,
            x + 8.0,
            y
        );
        x += 90.0;
    }
    let _ = write!(
        out,
        "<path d=\"M{:.1} {:.1} l8 8 m0 -8 l-8 8\" stroke=\"{DROPPED}\" stroke-width=\"2\"/>\
         <text x=\"{:.1}\" y=\"{y:.1}\">dropped / not fired</text>",
        x - 4.0,
        y - 8.0,
        x + 8.0
    );
    x += 150.0;
    let _ = write!(
        out,
        "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"14\" height=\"10\" fill=\"{}\"/><text \
         x=\"{:.1}\" y=\"{y:.1}\">outage phase</text>",
        y - 9.0,
        BANDS[1],
        x + 20.0
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(tick_step(3100.0), 500.0);
        assert_eq!(tick_step(15_000.0), 2000.0);
        assert_eq!(tick_step(90.0), 10.0);
    }

    use crate::record::testkit::{Script, TWO_CHANNELS};
    use crate::record::view;

    #[test]
    fn every_alert_and_channel_has_a_lane_and_far_deadlines_are_clipped() {
        let mut s = Script::new(TWO_CHANNELS);
        let nonce = s.fire(1_000, "phish", 1);
        s.arrive(1_040, "slack", &nonce);
        let lost = s.fire(1_500, "edr", 1);
        let _ = lost;
        let svg = render(&view::build(&s.finish(2_000)));

        for lane in [
            "phish",
            "edr",
            "mail (primary)",
            "teams (alternate)",
            "slack (alternate)",
        ] {
            assert!(
                svg.contains(&format!(">{lane}</text>")),
                "no lane {lane}: {svg}"
            );
        }
        // The 10 s deadlines lie far beyond a 2 s run: arrows at the edge.
        assert_eq!(svg.matches("l6 4 l-6 4 z").count(), 2, "{svg}");
        // One arrival dot on its alert lane, one on the slack lane.
        assert_eq!(
            svg.matches(&format!("fill=\"{DELIVERED}\"")).count(),
            2 + 1,
            "{svg}"
        );
        // The lost firing is crossed out.
        assert!(svg.contains("stroke-dasharray=\"3 3\""), "{svg}");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }

    #[test]
    fn near_deadlines_stay_on_the_chart() {
        let mut s = Script::new(&TWO_CHANNELS.replace("rto: 10s", "rto: 2s"));
        let nonce = s.fire(1_000, "phish", 1);
        s.arrive(1_040, "slack", &nonce);
        let svg = render(&view::build(&s.finish(2_000)));
        assert!(!svg.contains("l6 4 l-6 4 z"), "no clipped deadline: {svg}");
    }

    #[test]
    fn text_is_escaped_for_nodes_and_attributes() {
        assert_eq!(
            esc("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &apos;y&apos;&lt;/script&gt;"
        );
    }
}
