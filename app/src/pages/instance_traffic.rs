//! An instance's live traffic, measured from its broker, against the capacity of its size: the
//! rates of the last minutes, the totals, and a chart.

use crate::api::kafka::LiveTraffic;
use crate::components::format::utc;
use leptos::prelude::*;

const MIB: f64 = 1024.0 * 1024.0;

fn bytes(n: f64) -> String {
    if n >= MIB {
        format!("{:.2} MiB", n / MIB)
    } else if n >= 1024.0 {
        format!("{:.1} KiB", n / 1024.0)
    } else {
        format!("{n:.0} B")
    }
}

#[component]
pub fn Traffic(t: LiveTraffic) -> impl IntoView {
    let last = t.points.last().cloned();
    let (in_s, out_s, msgs_in_s, msgs_out_s) = last
        .as_ref()
        .map(|p| {
            (
                p.bytes_in_s,
                p.bytes_out_s,
                p.messages_in_s,
                p.messages_out_s,
            )
        })
        .unwrap_or_default();
    let write_cap = t.write_capacity_bytes_s as f64;
    let read_cap = t.read_capacity_bytes_s as f64;
    let share = |v: f64, cap: f64| if cap > 0.0 { v / cap * 100.0 } else { 0.0 };
    view! {
        <section class="card" data-testid="traffic-panel">
            <h2>"Traffic (last minutes)"</h2>
            <dl class="columns">
                <dt>"In"</dt>
                <dd data-testid="traffic-in">
                    {format!("{msgs_in_s:.0} msg/s, {}/s — {:.2} % of {} write capacity", bytes(in_s), share(in_s, write_cap), bytes(write_cap))}
                </dd>
                <dt>"Out"</dt>
                <dd data-testid="traffic-out">
                    {format!("{msgs_out_s:.0} msg/s, {}/s (estimated) — {:.2} % of {} read capacity", bytes(out_s), share(out_s, read_cap), bytes(read_cap))}
                </dd>
                <dt>"Messages written"</dt>
                <dd data-testid="traffic-messages-in">{t.messages_in_total}</dd>
                <dt>"Messages consumed (committed)"</dt>
                <dd>{t.messages_out_total}</dd>
                <dt>"Data retained"</dt>
                <dd data-testid="traffic-retained">{bytes(t.bytes_retained as f64)}</dd>
                <dt>"Last reading"</dt>
                <dd>{last.map(|p| utc(p.at)).unwrap_or_else(|| "—".into())}</dd>
            </dl>
            <TrafficChart t=t.clone() />
            <p class="muted">{t.basis.clone()}</p>
        </section>
    }
}

/// Bytes in and out per second, one point per reading, scaled to the busiest reading (the
/// capacity is far above what a test produces, so it is given as text above).
#[component]
fn TrafficChart(t: LiveTraffic) -> impl IntoView {
    const W: f64 = 720.0;
    const H: f64 = 140.0;
    let n = t.points.len();
    let top = t
        .points
        .iter()
        .map(|p| p.bytes_in_s.max(p.bytes_out_s))
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let line = |value: fn(&crate::api::kafka::TrafficPoint) -> f64| {
        t.points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let x = if n > 1 {
                    i as f64 / (n - 1) as f64 * W
                } else {
                    0.0
                };
                let y = H - value(p) / top * (H - 10.0);
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    if n < 2 {
        return view! {
            <p class="muted" data-testid="traffic-chart" data-points=n.to_string()>
                "The chart starts after two readings (one every 5 seconds)."
            </p>
        }
        .into_any();
    }
    view! {
        <svg viewBox=format!("0 0 {W} {H}") class="chart" role="img" aria-label="bytes in and out per second" data-testid="traffic-chart" data-points=n.to_string()>
            <line x1="0" y1=H.to_string() x2=W.to_string() y2=H.to_string() class="chart-axis" />
            <polyline points=line(|p| p.bytes_in_s) class="chart-line-in" fill="none" />
            <polyline points=line(|p| p.bytes_out_s) class="chart-line-out" fill="none" />
            <text x="4" y="12" class="chart-label">{format!("{}/s", bytes(top))}</text>
        </svg>
        <p class="chart-legend"><span class="legend-in">"— in"</span>" "<span class="legend-out">"— out"</span></p>
    }
    .into_any()
}
