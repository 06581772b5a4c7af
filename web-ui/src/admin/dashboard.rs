//! `/admin`: the sales dashboard. A period (two dates, inclusive UTC days) and how its series
//! are cut (day, week or month) are in the address (`/admin?from=…&to=…&interval=…`), so a
//! reload, Back and Forward keep them; without them the page shows the last 30 days by day,
//! as the API does. Figures (net revenue per currency, paid orders, conversion, new customers,
//! downloads) and three charts drawn here as inline SVG: net revenue over time (one chart per
//! currency), paid orders over time and the best sellers. Each chart is an image with a
//! summary for screen readers, and a real table below it ("Show as table").
//!
//! The charts are drawn at the size they are shown (their viewBox is their width in CSS
//! pixels, measured, and again when the window is resized), so their text is 12 px on a phone
//! as on a desktop.

use leptos::prelude::*;
use shared_types::{Currency, Money, Revenue, Stats, StatsBucket, StatsInterval, TopProduct};

use super::{admin_nav, encode, RequireAdmin};
use crate::api;
use crate::components::{dynamic, set_title, ErrorBox, Loading};
use crate::router;

const DAY_MS: f64 = 86_400_000.0;
const STATS: &str = "/api/v1/admin/stats";

/// `YYYY-MM-DD` (UTC) of a time in milliseconds.
fn iso_day(ms: f64) -> String {
    let text: String = js_sys::Date::new(&ms.into()).to_iso_string().into();
    text.get(..10).unwrap_or_default().to_owned()
}

/// Midnight UTC today, in milliseconds.
fn today_ms() -> f64 {
    (js_sys::Date::now() / DAY_MS).floor() * DAY_MS
}

/// The period shown: what the address says, else what the API chose (its default is the last
/// 30 days by day).
#[derive(Clone, PartialEq)]
struct Range {
    from: String,
    to: String,
    interval: StatsInterval,
}

impl Range {
    fn href(&self) -> String {
        format!(
            "/admin?from={}&to={}&interval={}",
            encode(&self.from),
            encode(&self.to),
            self.interval.as_str()
        )
    }
}

/// The quick ranges: the button's id and label, and the period ending today (with the
/// interval that suits it).
const PRESETS: [(&str, &str); 4] = [
    ("range-7d", "7 d"),
    ("range-30d", "30 d"),
    ("range-90d", "90 d"),
    ("range-12m", "12 months"),
];

fn preset(index: usize) -> Range {
    let today = today_ms();
    let back = |days: f64| iso_day(today - days * DAY_MS);
    let (from, interval) = match index {
        0 => (back(6.0), StatsInterval::Day),
        1 => (back(29.0), StatsInterval::Day),
        2 => (back(89.0), StatsInterval::Week),
        _ => {
            // The first of the month eleven months ago: twelve calendar months, this one too.
            let d = js_sys::Date::new(&today.into());
            d.set_utc_date(1);
            d.set_utc_month(d.get_utc_month() + 1);
            d.set_utc_full_year(d.get_utc_full_year() - 1);
            (iso_day(d.get_time()), StatsInterval::Month)
        }
    };
    Range {
        from,
        to: iso_day(today),
        interval,
    }
}

/// The browser's language, for Intl.
fn locale() -> String {
    window()
        .navigator()
        .language()
        .unwrap_or_else(|| "en".to_owned())
}

/// A UTC day (`YYYY-MM-DD`) as the browser writes it with the Intl `options` given (pairs).
fn day_text(day: &str, options: &[(&str, &str)]) -> String {
    let when = js_sys::Date::new(&day.into());
    if when.get_time().is_nan() {
        return day.to_owned();
    }
    let opts = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&opts, &"timeZone".into(), &"UTC".into());
    for (k, v) in options {
        let _ = js_sys::Reflect::set(&opts, &(*k).into(), &(*v).into());
    }
    when.to_locale_date_string(&locale(), &opts).into()
}

/// A bucket's start on the x axis: `Mar 14` (or `Mar 26` for a month).
fn axis_day(day: &str, interval: StatsInterval) -> String {
    match interval {
        StatsInterval::Month => day_text(day, &[("month", "short"), ("year", "2-digit")]),
        _ => day_text(day, &[("month", "short"), ("day", "numeric")]),
    }
}

/// A bucket in words: `Mar 14, 2026`, `Week of Mar 9, 2026`, `March 2026`.
fn period_text(day: &str, interval: StatsInterval) -> String {
    match interval {
        StatsInterval::Day => day_text(day, &[("dateStyle", "medium")]),
        StatsInterval::Week => format!("Week of {}", day_text(day, &[("dateStyle", "medium")])),
        StatsInterval::Month => day_text(day, &[("month", "long"), ("year", "numeric")]),
    }
}

fn interval_words(interval: StatsInterval) -> &'static str {
    match interval {
        StatsInterval::Day => "by day",
        StatsInterval::Week => "by week",
        StatsInterval::Month => "by month",
    }
}

/// Money on an axis: `$1,200` for whole amounts, else as the API writes it.
fn money_tick(currency: Currency, cents: i64) -> String {
    let text = currency.format(cents);
    match text.strip_suffix(".00") {
        Some(whole) => whole.to_owned(),
        None => text,
    }
}

/// `66.7%` (one decimal, none when whole), from a ratio.
fn percent(ratio: f64) -> String {
    let tenths = (ratio * 1000.0).round() as i64;
    if tenths % 10 == 0 {
        format!("{}%", tenths / 10)
    } else {
        format!("{}.{}%", tenths / 10, (tenths % 10).abs())
    }
}

/// Text for HTML and SVG markup.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A coordinate to a tenth of a pixel, without float formatting's code.
fn px(v: f64) -> String {
    let tenths = (v * 10.0).round() as i64;
    let sign = if tenths < 0 { "-" } else { "" };
    let t = tenths.unsigned_abs();
    if t.is_multiple_of(10) {
        format!("{sign}{}", t / 10)
    } else {
        format!("{sign}{}.{}", t / 10, t % 10)
    }
}

/// Axis bounds and step covering `lo..=hi` (and zero) in about four round steps (1, 2 or 5
/// times a power of ten, at least 1).
fn scale(lo: i64, hi: i64) -> (i64, i64, i64) {
    let (lo, hi) = (lo.min(0), hi.max(0));
    let span = (hi - lo).max(1);
    let raw = (span + 3) / 4;
    let mut magnitude = 1i64;
    while magnitude * 10 <= raw {
        magnitude *= 10;
    }
    let step = [1, 2, 5, 10]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10 * magnitude);
    let floor = lo.div_euclid(step) * step;
    let ceil = -((-hi).div_euclid(step)) * step;
    (floor, ceil.max(floor + step), step)
}

const CHART_HEIGHT: f64 = 220.0;
/// About how wide a character of the charts' 12 px text is.
const CHAR_PX: f64 = 7.0;

/// A column chart (bars, or a line over points with `line`) of `values`, one per bucket, at
/// `width` pixels: y ticks written by `fmt`, x labels thinned to fit.
fn columns_svg(
    width: f64,
    labels: &[String],
    values: &[i64],
    fmt: &dyn Fn(i64) -> String,
    line: bool,
    aria: &str,
) -> String {
    let h = CHART_HEIGHT;
    let lo = values.iter().copied().min().unwrap_or(0);
    let hi = values.iter().copied().max().unwrap_or(0);
    let (lo, hi, step) = scale(lo, hi);
    let ticks: Vec<i64> = (0..)
        .map(|i| lo + i * step)
        .take_while(|t| *t <= hi)
        .collect();
    let widest = ticks
        .iter()
        .map(|t| fmt(*t).chars().count())
        .max()
        .unwrap_or(1);
    let (top, bottom, right) = (12.0, 28.0, 14.0);
    let left = widest as f64 * CHAR_PX + 10.0;
    let plot_w = (width - left - right).max(20.0);
    let plot_h = h - top - bottom;
    let y = |v: i64| top + plot_h * (hi - v) as f64 / (hi - lo) as f64;
    let mut s = format!(
        r#"<svg viewBox="0 0 {} {}" width="100%" height="{}" role="img" aria-label="{}" class="chart-svg">"#,
        px(width),
        px(h),
        px(h),
        esc(aria)
    );
    for t in &ticks {
        let ty = y(*t);
        let class = if *t == 0 { "axis" } else { "grid" };
        s.push_str(&format!(
            r#"<line class="{class}" x1="{}" x2="{}" y1="{}" y2="{}"/><text class="tick" x="{}" y="{}" text-anchor="end">{}</text>"#,
            px(left),
            px(width - right),
            px(ty),
            px(ty),
            px(left - 6.0),
            px(ty + 4.0),
            esc(&fmt(*t))
        ));
    }
    let n = values.len().max(1);
    let band = plot_w / n as f64;
    let center = |i: usize| left + (i as f64 + 0.5) * band;
    if line {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{},{}", px(center(i)), px(y(*v))))
            .collect();
        let zero = px(y(0));
        s.push_str(&format!(
            r#"<polygon class="area" points="{},{zero} {} {},{zero}"/><polyline class="line" points="{}"/>"#,
            px(center(0)),
            points.join(" "),
            px(center(values.len().saturating_sub(1))),
            points.join(" ")
        ));
        // Points while they stand apart.
        if band >= 12.0 {
            for (i, v) in values.iter().enumerate() {
                s.push_str(&format!(
                    r#"<circle class="point" cx="{}" cy="{}" r="3"><title>{}: {}</title></circle>"#,
                    px(center(i)),
                    px(y(*v)),
                    esc(&labels[i]),
                    esc(&fmt(*v))
                ));
            }
        }
    } else {
        let bar = if band < 3.0 { band } else { band * 0.7 };
        for (i, v) in values.iter().enumerate() {
            let (y0, y1) = (y(*v), y(0));
            s.push_str(&format!(
                r#"<rect class="bar" x="{}" y="{}" width="{}" height="{}"><title>{}: {}</title></rect>"#,
                px(center(i) - bar / 2.0),
                px(y0.min(y1)),
                px(bar),
                px((y1 - y0).abs()),
                esc(&labels[i]),
                esc(&fmt(*v))
            ));
        }
    }
    // As many x labels as fit, evenly spread (the first always).
    let room = labels.iter().map(|l| l.chars().count()).max().unwrap_or(6) as f64 * CHAR_PX + 14.0;
    let fit = ((plot_w / room).floor() as usize).max(1);
    let every = labels.len().div_ceil(fit).max(1);
    for (i, label) in labels.iter().enumerate().step_by(every) {
        let cx = center(i);
        let half = label.chars().count() as f64 * CHAR_PX / 2.0;
        let anchor = if cx + half > width {
            "end"
        } else if cx - half < 0.0 {
            "start"
        } else {
            "middle"
        };
        s.push_str(&format!(
            r#"<text class="tick" x="{}" y="{}" text-anchor="{anchor}">{}</text>"#,
            px(cx),
            px(h - 8.0),
            esc(label)
        ));
    }
    s.push_str("</svg>");
    s
}

/// What a best seller brought in, for people: `$45.00 · 3 orders`.
fn top_value(p: &TopProduct) -> String {
    format!("{} · {}", p.gross.display, orders_text(p.paid_orders))
}

fn orders_text(n: i64) -> String {
    if n == 1 {
        "1 order".to_owned()
    } else {
        format!("{n} orders")
    }
}

/// Horizontal bars of the best sellers at `width` pixels: each product's title above its bar,
/// and what it brought in beside it.
fn top_svg(width: f64, products: &[TopProduct], aria: &str) -> String {
    let row = 46.0;
    let h = row * products.len() as f64 + 4.0;
    let widest_value = products
        .iter()
        .map(|p| top_value(p).chars().count())
        .max()
        .unwrap_or(10) as f64
        * CHAR_PX
        + 12.0;
    let bar_room = (width - widest_value).max(40.0);
    let fits = ((width / CHAR_PX) as usize).max(8);
    let mut s = format!(
        r#"<svg viewBox="0 0 {} {}" width="100%" height="{}" role="img" aria-label="{}" class="chart-svg">"#,
        px(width),
        px(h),
        px(h),
        esc(aria)
    );
    // Ranked as the API ranks them, by takings in minor units (whatever the currency).
    let most = products
        .iter()
        .map(|p| p.gross.amount_cents)
        .max()
        .unwrap_or(1)
        .max(1);
    for (i, p) in products.iter().enumerate() {
        let length = (bar_room * p.gross.amount_cents.max(0) as f64 / most as f64).max(2.0);
        let y0 = i as f64 * row;
        let mut title: String = p.product.title.chars().take(fits).collect();
        if p.product.title.chars().count() > fits {
            title.pop();
            title.push('…');
        }
        s.push_str(&format!(
            r#"<text class="label" x="0" y="{}">{}</text><rect class="bar" x="0" y="{}" width="{}" height="14" rx="2"><title>{}: {}</title></rect><text class="tick" x="{}" y="{}">{}</text>"#,
            px(y0 + 15.0),
            esc(&title),
            px(y0 + 22.0),
            px(length),
            esc(&p.product.title),
            esc(&top_value(p)),
            px(length + 6.0),
            px(y0 + 33.0),
            esc(&top_value(p))
        ));
    }
    s.push_str("</svg>");
    s
}

/// A chart's drawing: a div as wide as its column, the SVG drawn by `draw` for that width
/// (again when the window's width changes).
fn plot(draw: impl Fn(f64) -> String + Send + Sync + 'static) -> impl IntoView {
    let node = NodeRef::<leptos::html::Div>::new();
    let width = RwSignal::new(0.0f64);
    let measure = move || {
        if let Some(el) = node.get_untracked() {
            let w = f64::from(el.client_width());
            if w > 0.0 && (w - width.get_untracked()).abs() >= 1.0 {
                width.set(w);
            }
        }
    };
    Effect::new(move |_| {
        if node.get().is_some() {
            measure();
        }
    });
    let listener = window_event_listener_untyped("resize", move |_| measure());
    on_cleanup(move || listener.remove());
    view! {
        <div class="chart-plot" node_ref=node inner_html=move || {
            let w = width.get();
            if w > 0.0 { draw(w) } else { String::new() }
        }></div>
    }
}

/// The net takings of `currency` in a bucket (zero when it had none).
fn net_in(bucket: &StatsBucket, currency: Currency) -> Option<&Revenue> {
    bucket.revenue.iter().find(|r| r.currency == currency)
}

fn cents(m: Option<&Money>) -> i64 {
    m.map_or(0, |m| m.amount_cents)
}

fn revenue_chart(stats: &Stats, revenue: &Revenue, several: bool) -> impl IntoView {
    let currency = revenue.currency;
    let code = currency.code();
    let interval = stats.interval;
    let labels: Vec<String> = stats
        .series
        .iter()
        .map(|b| axis_day(&b.start, interval))
        .collect();
    let values: Vec<i64> = stats
        .series
        .iter()
        .map(|b| cents(net_in(b, currency).map(|r| &r.net)))
        .collect();
    let best = stats
        .series
        .iter()
        .zip(&values)
        .max_by_key(|(_, v)| **v)
        .filter(|(_, v)| **v > 0)
        .map(|(b, v)| {
            format!(
                ", highest {} ({})",
                currency.format(*v),
                period_text(&b.start, interval)
            )
        })
        .unwrap_or_default();
    let aria = format!(
        "Net revenue in {} {}, {} to {}: {} in total{best}.",
        code.to_ascii_uppercase(),
        interval_words(interval),
        day_text(&stats.from, &[("dateStyle", "medium")]),
        day_text(&stats.to, &[("dateStyle", "medium")]),
        revenue.net.display,
    );
    let rows: Vec<(String, Option<Revenue>)> = stats
        .series
        .iter()
        .map(|b| {
            (
                period_text(&b.start, interval),
                net_in(b, currency).cloned(),
            )
        })
        .collect();
    let zero = currency.format(0);
    let heading = several.then(|| view! { <h3>{format!("In {}", code.to_ascii_uppercase())}</h3> });
    view! {
        <div class="chart" data-currency=code id=format!("chart-revenue-{code}")>
            {heading}
            {plot(move |w| columns_svg(w, &labels, &values, &|v| money_tick(currency, v), true, &aria))}
            <details class="chart-table">
                <summary>"Show as table"</summary>
                <div class="table-wrap">
                <table class="table" id=format!("table-revenue-{code}")>
                    <thead><tr><th>"Period"</th><th>"Gross"</th><th>"Refunds"</th><th>"Net"</th></tr></thead>
                    <tbody>
                        {rows.into_iter().map(|(period, r)| {
                            let show = |m: Option<&Money>| m.map_or_else(|| zero.clone(), |m| m.display.clone());
                            view! {
                                <tr>
                                    <td class="cell-title">{period}</td>
                                    <td data-label="Gross">{show(r.as_ref().map(|r| &r.gross))}</td>
                                    <td data-label="Refunds">{show(r.as_ref().map(|r| &r.refunds))}</td>
                                    <td data-label="Net" class="cell-net">{show(r.as_ref().map(|r| &r.net))}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                </div>
            </details>
        </div>
    }
}

fn orders_chart(stats: &Stats) -> impl IntoView {
    let interval = stats.interval;
    let labels: Vec<String> = stats
        .series
        .iter()
        .map(|b| axis_day(&b.start, interval))
        .collect();
    let values: Vec<i64> = stats.series.iter().map(|b| b.paid_orders).collect();
    let best = stats
        .series
        .iter()
        .max_by_key(|b| b.paid_orders)
        .filter(|b| b.paid_orders > 0)
        .map(|b| {
            format!(
                ", most {} ({})",
                b.paid_orders,
                period_text(&b.start, interval)
            )
        })
        .unwrap_or_default();
    let aria = format!(
        "Paid orders {}, {} to {}: {} in total{best}.",
        interval_words(interval),
        day_text(&stats.from, &[("dateStyle", "medium")]),
        day_text(&stats.to, &[("dateStyle", "medium")]),
        stats.paid_orders
    );
    let rows: Vec<(String, i64)> = stats
        .series
        .iter()
        .map(|b| (period_text(&b.start, interval), b.paid_orders))
        .collect();
    view! {
        <section class="chart-card" id="chart-orders">
            <h2>"Paid orders"</h2>
            {plot(move |w| columns_svg(w, &labels, &values, &|v| v.to_string(), false, &aria))}
            <details class="chart-table">
                <summary>"Show as table"</summary>
                <div class="table-wrap">
                <table class="table" id="table-orders">
                    <thead><tr><th>"Period"</th><th>"Paid orders"</th></tr></thead>
                    <tbody>
                        {rows.into_iter().map(|(period, n)| view! {
                            <tr><td class="cell-title">{period}</td><td data-label="Paid orders" class="cell-orders">{n}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
                </div>
            </details>
        </section>
    }
}

fn top_chart(stats: &Stats) -> impl IntoView {
    let products = stats.top_products.clone();
    let body = if products.is_empty() {
        view! { <p class="empty">"No products sold in this period."</p> }.into_any()
    } else {
        let aria = format!(
            "Top products by takings: {}.",
            products
                .iter()
                .map(|p| format!("{}, {}", p.product.title, top_value(p)))
                .collect::<Vec<_>>()
                .join("; ")
        );
        let rows = products.clone();
        view! {
            {plot(move |w| top_svg(w, &products, &aria))}
            <details class="chart-table">
                <summary>"Show as table"</summary>
                <div class="table-wrap">
                <table class="table" id="table-top">
                    <thead><tr><th>"Product"</th><th>"Paid orders"</th><th>"Gross"</th></tr></thead>
                    <tbody>
                        {rows.into_iter().map(|p| view! {
                            <tr data-slug=p.product.slug.clone()>
                                <td class="cell-title">{p.product.title.clone()}</td>
                                <td data-label="Paid orders" class="cell-orders">{p.paid_orders}</td>
                                <td data-label="Gross" class="cell-gross">{p.gross.display.clone()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                </div>
            </details>
        }
        .into_any()
    };
    view! {
        <section class="chart-card" id="chart-top">
            <h2>"Top products"</h2>
            {body}
        </section>
    }
}

/// One figure: its label, value and an optional note below.
fn tile(id: &'static str, label: &'static str, value: AnyView, note: Option<String>) -> AnyView {
    view! {
        <li class="stat" id=id>
            <span class="stat-label">{label}</span>
            <span class="stat-value">{value}</span>
            {note.map(|n| view! { <span class="stat-note">{n}</span> })}
        </li>
    }
    .into_any()
}

fn figures(stats: &Stats) -> impl IntoView {
    let revenue = if stats.revenue.is_empty() {
        "0".into_any()
    } else {
        stats
            .revenue
            .iter()
            .map(|r| {
                view! { <span class="stat-money" data-currency=r.currency.code()>{r.net.display.clone()}</span> }
            })
            .collect_view()
            .into_any()
    };
    let refunds = stats
        .revenue
        .iter()
        .filter(|r| r.refunds.amount_cents != 0)
        .map(|r| format!("{} refunded", r.refunds.display))
        .collect::<Vec<_>>();
    let conversion = stats.conversion.map_or_else(|| "—".to_owned(), percent);
    let checkouts = format!(
        "{} of {} checkouts paid",
        stats.checkouts_completed, stats.checkouts_started
    );
    view! {
        <ul class="stat-tiles">
            {tile("stat-revenue", "Net revenue", revenue, (!refunds.is_empty()).then(|| refunds.join(" · ")))}
            {tile("stat-paid-orders", "Paid orders", stats.paid_orders.into_any(), None)}
            {tile("stat-conversion", "Conversion", conversion.into_any(), Some(checkouts))}
            {tile("stat-new-customers", "New customers", stats.new_customers.into_any(), None)}
            {tile("stat-downloads", "Downloads", stats.downloads.into_any(), None)}
        </ul>
    }
}

fn report(stats: Stats) -> impl IntoView {
    let sold = stats.paid_orders > 0
        || stats
            .revenue
            .iter()
            .any(|r| r.gross.amount_cents != 0 || r.refunds.amount_cents != 0);
    let charts = if sold {
        let several = stats.revenue.len() > 1;
        view! {
            <section class="chart-card wide" id="chart-revenue">
                <h2>"Net revenue"</h2>
                {stats.revenue.iter().map(|r| revenue_chart(&stats, r, several)).collect_view()}
            </section>
            {orders_chart(&stats)}
            {top_chart(&stats)}
        }
        .into_any()
    } else {
        view! { <p class="empty" id="no-sales">"No sales in this period."</p> }.into_any()
    };
    view! {
        <div id="dashboard-figures" data-from=stats.from.clone() data-to=stats.to.clone() data-interval=stats.interval.as_str()>
            <p class="hint" id="range-summary">{format!(
                "{} to {}, {}",
                day_text(&stats.from, &[("dateStyle", "medium")]),
                day_text(&stats.to, &[("dateStyle", "medium")]),
                interval_words(stats.interval),
            )}</p>
            {figures(&stats)}
            <div class="charts">{charts}</div>
        </div>
    }
}

#[component]
pub fn Dashboard() -> impl IntoView {
    set_title("Admin · Dashboard");
    view! { <RequireAdmin><DashboardPage/></RequireAdmin> }
}

#[component]
fn DashboardPage() -> impl IntoView {
    let from = router::query_memo("from");
    let to = router::query_memo("to");
    let interval = router::query_memo("interval");
    // The address's period goes to the API as it is; without one the API picks its default,
    // which the inputs then show.
    let stats = api::resource(move || {
        let mut query = Vec::new();
        for (name, value) in [
            ("from", from.get()),
            ("to", to.get()),
            ("interval", interval.get()),
        ] {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                query.push(format!("{name}={}", encode(&v)));
            }
        }
        if query.is_empty() {
            STATS.to_owned()
        } else {
            format!("{STATS}?{}", query.join("&"))
        }
    });
    let answered = Memo::new(move |_| {
        api::parsed::<Stats>(stats.get())
            .and_then(Result::ok)
            .map(|s| (s.from, s.to, s.interval))
    });
    let range = Memo::new(move |_| {
        let (default_from, default_to, default_interval) = answered.get().unwrap_or_else(|| {
            let d = preset(1);
            (d.from, d.to, d.interval)
        });
        Range {
            from: from.get().filter(|s| !s.is_empty()).unwrap_or(default_from),
            to: to.get().filter(|s| !s.is_empty()).unwrap_or(default_to),
            interval: interval
                .get()
                .and_then(|i| StatsInterval::parse(&i))
                .unwrap_or(default_interval),
        }
    });
    let (problem, set_problem) = signal(None::<&'static str>);
    // A new period is a new address: Back returns to the one before.
    let go = move |next: Range| {
        if next.from > next.to {
            set_problem.set(Some("The first day is after the last."));
            return;
        }
        set_problem.set(None);
        if next != range.get_untracked() || from.get_untracked().is_none() {
            router::navigate(&next.href(), false);
        }
    };
    let set_from = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        if !value.is_empty() {
            go(Range {
                from: value,
                ..range.get_untracked()
            });
        }
    };
    let set_to = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        if !value.is_empty() {
            go(Range {
                to: value,
                ..range.get_untracked()
            });
        }
    };
    let set_interval = move |ev: leptos::ev::Event| {
        if let Some(i) = StatsInterval::parse(&event_target_value(&ev)) {
            go(Range {
                interval: i,
                ..range.get_untracked()
            });
        }
    };
    view! {
        <section id="dashboard">
            <h1>"Dashboard"</h1>
            {admin_nav()}
            <form class="range-picker" aria-label="Period" on:submit=|ev| ev.prevent_default()>
                <div class="range-fields">
                    <div class="field">
                        <label for="range-from">"From"</label>
                        <input type="date" id="range-from" prop:value=move || range.get().from
                            prop:max=move || range.get().to on:change=set_from/>
                    </div>
                    <div class="field">
                        <label for="range-to">"To"</label>
                        <input type="date" id="range-to" prop:value=move || range.get().to
                            prop:min=move || range.get().from on:change=set_to/>
                    </div>
                    <div class="field">
                        <label for="range-interval">"Show"</label>
                        <select id="range-interval" on:change=set_interval>
                            {StatsInterval::ALL.map(|i| view! {
                                <option value=i.as_str() prop:selected=move || range.get().interval == i>{interval_words(i)}</option>
                            }).collect_view()}
                        </select>
                    </div>
                </div>
                <div class="range-quick" role="group" aria-label="Quick periods">
                    {PRESETS.iter().enumerate().map(|(n, (id, label))| view! {
                        <button type="button" id=*id class="button small secondary"
                            aria-pressed=move || (preset(n) == range.get()).to_string()
                            on:click=move |_| go(preset(n))>{*label}</button>
                    }).collect_view()}
                </div>
                {dynamic(move || match problem.get() {
                    Some(m) => view! { <p class="field-error" id="range-error" role="alert">{m}</p> }.into_any(),
                    None => ().into_any(),
                })}
            </form>
            {dynamic(move || match api::parsed::<Stats>(stats.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(s)) => report(s).into_any(),
            })}
        </section>
    }
}
