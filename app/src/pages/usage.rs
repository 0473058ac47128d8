//! Usage and charges: a month of metered usage by day and instance, a chart of daily
//! AKU-hours (SVG drawn by the app), month-to-date totals, the estimated charge with its tier
//! breakdown (pay-as-you-go), or AKU used against AKU licensed (prepaid, trial), and the
//! ledger's export.

use crate::api::marketplace::{DecideReport, MarketplaceUsage};
use crate::api::usage::{usage, UsageData};
use crate::components::format::link;
use crate::components::page_data::page_data;
use crate::pages::marketplace::ReportLine;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

#[component]
pub fn UsagePage() -> impl IntoView {
    let query = use_query_map();
    let decide = ServerAction::<DecideReport>::new();
    let data = page_data(
        move || {
            (
                query.read().get("month").unwrap_or_default(),
                query.read().get("rows_after").unwrap_or_default(),
                decide.version().get(),
            )
        },
        |(month, rows_after, _)| usage(month, rows_after),
    );
    view! {
        <Title text="Usage" />
        <h1>"Usage"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move { data.await.map(|d| view! { <UsageBody d decide /> }) })}
        </Suspense>
    }
}

#[component]
fn UsageBody(d: UsageData, decide: ServerAction<DecideReport>) -> impl IntoView {
    let row_pages = RowPosition {
        month: d.month.clone(),
        shown: d.rows.len(),
        total: d.rows_total,
        after: d.rows_after.clone(),
        next: d.next_rows.clone(),
    };
    let payg = d.total_charge.is_some();
    let currency = d.currency.clone().unwrap_or_default();
    let t = d.totals.clone();
    view! {
        <section class="card">
            <Form method="GET" action="/usage" attr:class="filter-form">
                <a href=format!("/usage?month={}", d.previous_month) data-testid="previous-month">"← "{d.previous_month.clone()}</a>
                <label>
                    "Month"
                    <input type="month" name="month" value=d.month.clone() data-testid="month" />
                </label>
                <button type="submit" class="button-secondary">"Show"</button>
                <a href=format!("/usage?month={}", d.next_month)>{d.next_month.clone()}" →"</a>
                <a class="button-secondary" href=format!("/usage.csv?month={}", d.month) download="" data-testid="export-usage-csv">"Export CSV"</a>
                <a class="button-secondary" href=format!("/usage.json?month={}", d.month) download="" data-testid="export-usage-json">"Export JSON"</a>
            </Form>
            <p class="hint">
                {format!("{} ledger records this month (closed hours; one per instance, hour and dimension). ", d.ledger_records)}
                {d.includes_current_hour.then_some("The hour under way is included so far; it enters the ledger when it ends. ")}
                <span data-testid="traffic-basis">{d.traffic_basis.clone()}</span>
            </p>
        </section>
        <section class="card">
            <h2>"Daily AKU-hours"</h2>
            <Chart days=d.daily_aku_hours.clone() />
        </section>
        <div class="cards">
            <section class="card" data-testid="usage-totals">
                <h2>"Month to date"</h2>
                <dl>
                    <dt>"AKU-hours"</dt>
                    <dd data-testid="total-aku-hours">{t.aku_hours.clone()}</dd>
                    <dt>"Data in"</dt>
                    <dd data-testid="total-data-in">{format!("{} GiB", t.data_in_gib)}</dd>
                    <dt>"Data out"</dt>
                    <dd>{format!("{} GiB", t.data_out_gib)}</dd>
                    <dt>"Data retained (average over the month so far)"</dt>
                    <dd>{format!("{} GiB", t.data_retained_gib_avg)}</dd>
                    <dt>"Uptime by tier"</dt>
                    <dd>
                        {format!(
                            "Dev {} h · Pro {} h · Enterprise {} h",
                            t.uptime_hours_dev, t.uptime_hours_pro, t.uptime_hours_enterprise,
                        )}
                    </dd>
                </dl>
            </section>
            {if payg {
                Either::Left(view! {
                    <section class="card" data-testid="charges">
                        <h2>"Estimated charge"</h2>
                        <p class="big-number" data-testid="total-charge">
                            {format!("{} {}", d.total_charge.clone().unwrap_or_default(), currency)}
                        </p>
                        <table class="table">
                            <thead>
                                <tr><th>"Item"</th><th>"Quantity"</th><th>"Tiers"</th><th>"Amount"</th></tr>
                            </thead>
                            <tbody>
                                {d.charges.iter().map(|c| view! {
                                    <tr data-testid="charge-row">
                                        <td>{c.label.clone()}</td>
                                        <td>{format!("{} {}", c.quantity, c.unit)}</td>
                                        <td>
                                            {c.tiers.iter().map(|tier| view! {
                                                <div class="tier-line">
                                                    {format!("{}: {} × {} = {}", tier.range, tier.quantity, tier.unit_price, tier.amount)}
                                                </div>
                                            }).collect_view()}
                                        </td>
                                        <td>{format!("{} {}", c.amount, currency)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        <p class="hint">"Each tier's units at its price; each item rounded to the cent. The marketplace bills from the exported ledger."</p>
                    </section>
                })
            } else {
                Either::Right(view! {
                    <section class="card" data-testid="capacity">
                        <h2>"Capacity"</h2>
                        <p>
                            {format!(
                                "On average {} AKU in use this month, of {} licensed. Prepaid licenses have no usage charge; this is for capacity planning.",
                                d.average_aku,
                                d.licensed_aku.map(|q| q.to_string()).unwrap_or_else(|| "no cap".into()),
                            )}
                        </p>
                    </section>
                })
            }}
        </div>
        {d.marketplace.clone().map(|m| {
            let estimate = d.total_charge.clone().map(|t| format!("{t} {currency}"));
            view! { <MarketplaceReports m decide estimate /> }.into_any()
        })}
        <section class="card">
            <h2>"By day and instance"</h2>
            {if d.rows.is_empty() {
                Either::Left(view! { <p data-testid="no-usage">"No usage this month."</p> })
            } else {
                Either::Right(view! {
                    <table class="table" data-testid="usage-table">
                        <thead>
                            <tr>
                                <th>"Day"</th><th>"Instance"</th><th>"AKU-hours"</th><th>"In GiB"</th>
                                <th>"Out GiB"</th><th>"Retained GiB (avg)"</th><th>"Uptime h (Dev/Pro/Ent)"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {d.rows.iter().map(|r| {
                                let q = &r.quantities;
                                view! {
                                    <tr data-testid="usage-row">
                                        <td>{r.day.clone()}</td>
                                        <td>{r.instance.clone()}</td>
                                        <td>{q.aku_hours.clone()}</td>
                                        <td>{q.data_in_gib.clone()}</td>
                                        <td>{q.data_out_gib.clone()}</td>
                                        <td>{q.data_retained_gib_avg.clone()}</td>
                                        <td>{format!("{} / {} / {}", q.uptime_hours_dev, q.uptime_hours_pro, q.uptime_hours_enterprise)}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                })
            }}
            <RowPages at=row_pages />
        </section>
    }
}

/// Where a page of the usage rows is among the month's.
struct RowPosition {
    month: String,
    shown: usize,
    total: usize,
    after: Option<String>,
    next: Option<String>,
}

/// How many rows are shown, with plain links to the first and the next page (they work
/// without JavaScript and can be bookmarked).
#[component]
fn RowPages(at: RowPosition) -> impl IntoView {
    let href = |after: Option<&str>| {
        let mut pairs = vec![("month", at.month.as_str())];
        pairs.extend(after.map(|after| ("rows_after", after)));
        link("/usage", &pairs)
    };
    let first = at.after.is_some().then(|| href(None));
    let next = at.next.as_deref().map(|after| href(Some(after)));
    (first.is_some() || next.is_some()).then(|| {
        view! {
            <p class="pager" data-testid="usage-rows-pager">
                {format!("{} rows shown of {} this month. ", at.shown, at.total)}
                {first.map(|href| view! { <a href=href data-testid="usage-rows-first">"First rows"</a>" " })}
                {next.map(|href| view! { <a href=href data-testid="usage-rows-next">"Next rows →"</a> })}
            </p>
        }
    })
}

/// The month's reports to the marketplace beside the ledger, and the latest hours' outcomes.
#[component]
fn MarketplaceReports(
    m: MarketplaceUsage,
    decide: ServerAction<DecideReport>,
    estimate: Option<String>,
) -> impl IntoView {
    let is_admin = m.is_admin;
    // AWS: what the accepted reports cost at the listing's flat tier prices, beside the
    // console's estimate from the key's tiers.
    let amount_line = m.amount.clone().map(|amount| {
        let unit = estimate
            .as_deref()
            .and_then(|e| e.split_once(' '))
            .map(|(_, c)| c.to_string())
            .unwrap_or_default();
        format!(
            "Marketplace amount for the accepted reports: {amount} {unit}; the console's estimate: {}.",
            estimate.clone().unwrap_or_else(|| "none".into())
        )
    });
    view! {
        <section class="card" data-testid="marketplace-reports">
            <h2>{format!("Reported to {} ({})", m.marketplace_name, m.listing)}</h2>
            <p class="hint">
                {format!(
                    "In the marketplace's units. Ledger: the ledger's exact total converted; accepted: what the marketplace took; late: past its window, to bill from the export; open: waiting to be sent; failed: rejected, unknown or unsent. {} hours this month, {} late.",
                    m.hours_in_month, m.late
                )}
                " "
                <a href="/marketplace">"Marketplace"</a>
                " · "
                <a href="/usage/marketplace-late.csv" download="" data-testid="export-late">"Export late hours"</a>
            </p>
            {amount_line.map(|line| view! { <p data-testid="marketplace-amount">{line}</p> })}
            <table class="table" data-testid="marketplace-totals">
                <thead>
                    <tr><th>"Key"</th><th>"Unit"</th><th>"Ledger"</th><th>"Accepted"</th><th>"Late"</th><th>"Open"</th><th>"Failed"</th></tr>
                </thead>
                <tbody>
                    {m.totals.iter().map(|t| view! {
                        <tr data-testid="marketplace-total" data-key=t.key.clone()>
                            <td>{t.key.clone()}</td>
                            <td>{t.unit.clone()}</td>
                            <td data-testid="total-ledger">{t.ledger.clone()}</td>
                            <td data-testid="total-accepted">{t.accepted}</td>
                            <td data-testid="total-late">{t.late}</td>
                            <td>{t.open}</td>
                            <td>{t.failed}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <h3>{format!("Latest {} hours", m.hours_shown)}</h3>
            <table class="table" data-testid="marketplace-hours">
                <thead>
                    <tr><th>"Hour"</th><th>"Key"</th><th>"Quantity"</th><th>"Outcome"</th><th></th></tr>
                </thead>
                <tbody>
                    {m.reports.into_iter().map(|r| view! { <ReportLine r is_admin decide /> }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// Bars of AKU-hours per day of the month, drawn as SVG by the app (no chart library).
#[component]
fn Chart(days: Vec<(u32, f64)>) -> impl IntoView {
    const W: f64 = 720.0;
    const H: f64 = 180.0;
    const LEFT: f64 = 48.0;
    const BOTTOM: f64 = 20.0;
    let max = days.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let top = if max > 0.0 { nice_ceiling(max) } else { 1.0 };
    let n = days.len().max(1) as f64;
    let slot = (W - LEFT) / n;
    let bars = days
        .iter()
        .map(|(day, value)| {
            let height = (value / top) * (H - BOTTOM - 8.0);
            let x = LEFT + (f64::from(*day) - 1.0) * slot + slot * 0.15;
            let y = H - BOTTOM - height;
            let label = (*day == 1 || day % 5 == 0).then(|| {
                view! {
                    <text x=format!("{:.1}", x + slot * 0.35) y=format!("{}", H - 5.0) class="chart-label" text-anchor="middle">
                        {day.to_string()}
                    </text>
                }
            });
            view! {
                <rect x=format!("{x:.1}") y=format!("{y:.1}") width=format!("{:.1}", slot * 0.7) height=format!("{height:.1}") class="chart-bar">
                    <title>{format!("day {day}: {value:.2} AKU-hours")}</title>
                </rect>
                {label}
            }
        })
        .collect_view();
    view! {
        <svg viewBox=format!("0 0 {W} {H}") class="chart" role="img" aria-label="AKU-hours per day" data-testid="usage-chart">
            <line x1=LEFT.to_string() y1=(H - BOTTOM).to_string() x2=W.to_string() y2=(H - BOTTOM).to_string() class="chart-axis" />
            <text x=(LEFT - 6.0).to_string() y="14" class="chart-label" text-anchor="end">{format!("{top}")}</text>
            <text x=(LEFT - 6.0).to_string() y=(H - BOTTOM).to_string() class="chart-label" text-anchor="end">"0"</text>
            {bars}
        </svg>
    }
}

/// 1, 2 or 5 times a power of ten, at least `v`: a readable top for the axis.
fn nice_ceiling(v: f64) -> f64 {
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * magnitude)
}

#[cfg(test)]
mod tests {
    #[test]
    fn axis_tops_are_round() {
        assert_eq!(super::nice_ceiling(7.0), 10.0);
        assert_eq!(super::nice_ceiling(144.0), 200.0);
        assert_eq!(super::nice_ceiling(0.3), 0.5);
        assert_eq!(super::nice_ceiling(500.0), 500.0);
    }
}
