//! `/membership`: the plans on offer (what each costs and unlocks, with Subscribe), and for a
//! signed-in member their memberships in words with the Manage billing button (Stripe's billing
//! portal, where the card is changed and the membership cancelled or resumed).
//!
//! Stripe Checkout comes back here with `?session_id=cs_…`: the page has the server sync that
//! subscription (access does not wait for the webhook), then takes the id out of the address,
//! so a reload or Back never syncs it again; `?checkout=cancelled` says nothing was charged.
//! The mailed failed-payment notice links to `?portal=1`, which opens the billing portal at
//! once (signed out, through the sign-in page and back); the address loses the query first,
//! so Back from the portal does not open it again.

use leptos::prelude::*;
use shared_types::{
    BillingInterval, Membership, MembershipPage, Money, Plan, PlanId, PlanList, PortalResponse,
    SubscribeRequest, SubscribeResponse, SubscriptionStatus,
};

use crate::api::{self, ApiError};
use crate::components::{
    date, dynamic, encode, error_slot, redirect_signed_out, set_title, sleep, text, when, ErrorBox,
    Loading,
};
use crate::pages::product::escape;
use crate::router;

/// The page's own address.
pub const PAGE: &str = "/membership";

/// "$9.99 a month".
pub fn per_interval(price: &Money, interval: BillingInterval) -> String {
    format!("{} a {}", price.display, interval.as_str())
}

/// What a plan unlocks, in a line: every product, or how many.
pub fn unlocks_text(plan: &Plan) -> String {
    match plan.products.len() {
        _ if plan.all_products => "Everything in the shop, and everything added later".to_owned(),
        1 => "1 product:".to_owned(),
        n => format!("{n} products:"),
    }
}

/// A membership's status in words ("Active — renews on Jan 1, 2027"), and a one-word state
/// for the style (`active`, `ending`, `failed`, `waiting`, `ended`).
pub fn status_words(m: &Membership) -> (&'static str, String) {
    use SubscriptionStatus as S;
    let renews = m.current_period_end.as_ref().map(date);
    let until = m.access_until.as_ref().map(date).or(renews.clone());
    let with = |head: &str, tail: Option<String>| match tail {
        Some(t) => format!("{head} — {t}"),
        None => head.to_owned(),
    };
    match m.status {
        _ if m.status.is_over() && !m.access => ("ended", "Ended".to_owned()),
        S::PastDue | S::Unpaid => (
            "failed",
            match until.filter(|_| m.access) {
                Some(d) => format!("Payment failed — access until {d}, update your card"),
                None => "Payment failed — update your card".to_owned(),
            },
        ),
        _ if m.cancel_at_period_end || m.status == S::Canceled => (
            "ending",
            with("Cancelled", until.map(|d| format!("access until {d}"))),
        ),
        S::Active => (
            "active",
            with("Active", renews.map(|d| format!("renews on {d}"))),
        ),
        S::Trialing => (
            "active",
            with("Trial", renews.map(|d| format!("first payment on {d}"))),
        ),
        S::Paused => ("waiting", "Paused — no access until it resumes".to_owned()),
        S::Incomplete => ("waiting", "Waiting for the first payment".to_owned()),
        _ => ("ended", "Ended".to_owned()),
    }
}

#[component]
pub fn MyMembership() -> impl IntoView {
    set_title("Membership");
    let session = api::session();
    let plans = api::resource(|| "/api/v1/plans".to_owned());
    // The signed-in member's subscriptions (`MembershipPage`'s JSON); None while unknown, or
    // signed out. Signals of types the bundle has anyway: each new one is code of its own.
    let mine = RwSignal::new(None::<api::Fetched>);
    let (notice, set_notice) = signal(None::<String>);
    let (error, set_error) = signal(None::<ApiError>);
    let (portal_error, set_portal_error) = signal(None::<ApiError>);
    let (opening_portal, set_opening_portal) = signal(false);
    // The plan whose Subscribe was pressed: its checkout is opening.
    let (subscribing, set_subscribing) = signal(None::<String>);
    let cancelled = router::query_memo("checkout");
    // Read once: the page takes them out of the address when it has acted on them.
    let returned = router::query("session_id").filter(|s| !s.is_empty());
    let to_portal = router::query("portal").as_deref() == Some("1");
    let (confirming, set_confirming) = signal(returned.is_some());
    if returned.is_some() || to_portal {
        // Both need the member: signed out, sign in and come back to the same address.
        redirect_signed_out();
    }
    // Back here from Stripe's page (the browser's cache): its buttons work again, and the
    // memberships are asked for again (the member may have cancelled there).
    let restored = router::restored();
    Effect::new(move |first: Option<()>| {
        restored.track();
        set_subscribing.set(None);
        set_opening_portal.set(false);
        if first.is_some() && mine.with_untracked(Option::is_some) {
            leptos::task::spawn_local(async move {
                mine.try_set(Some(api::get_text("/api/v1/subscriptions").await));
            });
        }
    });

    // Opens the billing portal; a refusal (never subscribed) goes to `refused`: beside the
    // button, or at the top of the page when the address asked for the portal.
    let open_portal = move |refused: WriteSignal<Option<ApiError>>| {
        refused.set(None);
        set_opening_portal.set(true);
        leptos::task::spawn_local(async move {
            match api::post_empty::<PortalResponse>("/api/v1/subscriptions/portal").await {
                Ok(p) => {
                    let _ = window().location().set_href(&p.url);
                }
                Err(e) => {
                    refused.set(Some(e));
                    set_opening_portal.set(false);
                }
            }
        });
    };
    // Subscribe to `plan`; a refusal (already subscribed, say) goes to `refused`, the card's.
    let subscribe = move |plan: PlanId, refused: WriteSignal<Option<String>>| {
        refused.set(None);
        set_subscribing.set(Some(plan.to_string()));
        leptos::task::spawn_local(async move {
            let body = SubscribeRequest { plan_id: plan };
            match api::post::<_, SubscribeResponse>("/api/v1/subscriptions/checkout", &body).await {
                Ok(s) => {
                    let _ = window().location().set_href(&s.checkout_url);
                }
                Err(e) => {
                    refused.set(Some(e.message));
                    set_subscribing.set(None);
                }
            }
        });
    };

    // Once the session has settled and someone is signed in: their memberships (after syncing
    // the checkout they come back from), and the portal when the address asked for it.
    let mut started = false;
    Effect::new(move |_| {
        if started || !session.ready.get() || session.user.with(Option::is_none) {
            return;
        }
        started = true;
        let returned = returned.clone();
        leptos::task::spawn_local(async move {
            if to_portal {
                router::navigate(PAGE, true);
                open_portal(set_error);
            }
            let mut answer = None;
            if let Some(id) = returned {
                let synced = follow_checkout(&id).await;
                match api::parse::<MembershipPage>(synced.clone()) {
                    Ok(page) => {
                        if let Some(m) = page.items.iter().find(|m| m.access) {
                            set_notice.set(Some(format!(
                                "Thank you! Your {} membership is active: what it unlocks is yours to download while it lasts.",
                                m.plan.name
                            )));
                        }
                        answer = Some(synced);
                    }
                    Err(e) => set_error.set(Some(e)),
                }
                set_confirming.set(false);
                // Done with the session id: a reload, Back and Forward show the page without it.
                if router::location().with_untracked(|l| l.path == PAGE) {
                    router::navigate(PAGE, true);
                }
            }
            let answer = match answer {
                Some(a) => a,
                None => api::get_text("/api/v1/subscriptions").await,
            };
            mine.try_set(Some(answer));
        });
    });

    let yours = move || {
        match api::parsed::<MembershipPage>(mine.get()) {
            None if session.user.with(Option::is_some) => view! { <Loading/> }.into_any(),
            None => ().into_any(),
            Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
            Some(Ok(page)) if page.items.is_empty() => ().into_any(),
            Some(Ok(page)) => view! {
                <section class="memberships" aria-labelledby="yours-heading">
                    <h2 id="yours-heading">"Your membership"</h2>
                    <div class="table-wrap" inner_html=membership_table(&page.items)></div>
                    <div class="actions manage">
                        <button type="button" id="manage-billing" class="button secondary"
                            aria-describedby="manage-hint" disabled=opening_portal
                            on:click=move |_| open_portal(set_portal_error)>
                            {text(move || if opening_portal.get() { "Opening…" } else { "Manage billing" })}
                        </button>
                        <p class="hint" id="manage-hint">"Change your card, see your invoices, cancel or resume: on Stripe’s billing page."</p>
                    </div>
                    {error_slot(portal_error)}
                </section>
            }
            .into_any(),
        }
    };

    let plan_list = move || match api::parsed::<PlanList>(plans.get()) {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
        Some(Ok(list)) if list.items.is_empty() => {
            view! { <p class="empty">"No membership plans yet."</p> }.into_any()
        }
        Some(Ok(list)) => {
            // The plans the member has a subscription to that still counts (live, or still
            // payable): the server refuses a second one.
            let held: Vec<PlanId> = match api::parsed::<MembershipPage>(mine.get()) {
                Some(Ok(page)) => page
                    .items
                    .into_iter()
                    .filter(|m| m.access || !m.status.is_over())
                    .map(|m| m.plan.id)
                    .collect(),
                _ => Vec::new(),
            };
            view! {
                <ul class="plans">
                    {list.items.into_iter().map(|plan| {
                        let member = held.contains(&plan.id);
                        plan_card(plan, member, subscribing, subscribe)
                    }).collect_view()}
                </ul>
            }
            .into_any()
        }
    };

    view! {
        <section class="membership-page">
            <h1>"Membership"</h1>
            {when(
                move || cancelled.with(|c| c.as_deref() == Some("cancelled")),
                || view! { <div class="notice" role="status" id="checkout-cancelled">"Checkout was cancelled. Nothing was charged."</div> }.into_any(),
            )}
            {when(move || confirming.get(), || view! { <Loading label="Confirming your membership…"/> }.into_any())}
            {when(move || to_portal && opening_portal.get(), || view! {
                <Loading label="Opening the billing page…"/>
            }.into_any())}
            {dynamic(move || match notice.get() {
                Some(m) => view! { <div class="notice saved" role="status" id="membership-notice">{m}</div> }.into_any(),
                None => ().into_any(),
            })}
            {error_slot(error)}
            {dynamic(yours)}
            <section class="plan-section" aria-labelledby="plans-heading">
                <h2 id="plans-heading">"Plans"</h2>
                <div class="list-tools">
                    <p class="hint">"A membership unlocks its plan’s products for as long as it lasts: download them from their pages. Cancel any time."</p>
                </div>
                {dynamic(plan_list)}
            </section>
        </section>
    }
}

/// Syncs the checkout the member came back from (the answer is `MembershipPage`'s JSON),
/// asking again a few times while Stripe has not yet settled the first payment.
async fn follow_checkout(session_id: &str) -> api::Fetched {
    let path = format!("/api/v1/subscriptions/checkout/{}", encode(session_id));
    let mut wait = 500;
    let mut answer = api::get_text(&path).await;
    for _ in 0..5 {
        let waiting = match api::parse::<MembershipPage>(answer.clone()) {
            Ok(page) => {
                !page.items.iter().any(|m| m.access)
                    && page
                        .items
                        .first()
                        .is_some_and(|m| m.status == SubscriptionStatus::Incomplete)
            }
            // Stripe or the network, not the request: worth asking again.
            Err(e) => e.status == 0 || e.status >= 500,
        };
        if !waiting {
            break;
        }
        sleep(wait).await;
        wait *= 2;
        answer = api::get_text(&path).await;
    }
    answer
}

/// The member's memberships, as a table's markup: it is static, and a view per cell would be
/// kilobytes more of the account bundle, which every sign-in loads.
fn membership_table(items: &[Membership]) -> String {
    let mut rows = String::new();
    for m in items {
        let (state, words) = status_words(m);
        rows.push_str(&format!(
            "<tr class=\"membership-row\" data-plan=\"{}\" data-status=\"{}\" data-state=\"{state}\">\
             <td class=\"cell-title\">{}</td><td data-label=\"Price\">{}</td>\
             <td data-label=\"Status\" class=\"membership-status\">{}</td><td data-label=\"Since\">{}</td></tr>",
            escape(m.plan.id.as_ref()),
            m.status.as_str(),
            escape(&m.plan.name),
            escape(&per_interval(&m.plan.price, m.plan.interval)),
            escape(&words),
            escape(&date(&m.created_at)),
        ));
    }
    format!(
        "<table class=\"table\"><thead><tr><th>Plan</th><th>Price</th><th>Status</th><th>Since</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

/// One plan on offer: its price, description, what it unlocks, and Subscribe (signed out, a
/// link to sign in that comes back here; a `member` of it is told so instead).
fn plan_card(
    plan: Plan,
    member: bool,
    subscribing: ReadSignal<Option<String>>,
    subscribe: impl Fn(PlanId, WriteSignal<Option<String>>) + Copy + Send + 'static,
) -> impl IntoView {
    let session = api::session();
    let id = plan.id.clone();
    let label = format!("Subscribe to {}", plan.name);
    // The server's refusal of this plan's checkout.
    let (refused, set_refused) = signal(None::<String>);
    // What the card says is static: markup, as a bundle's contents on its product page.
    let mut info = format!(
        "<h3 class=\"plan-name\">{}</h3><p class=\"price plan-price\">{}</p>",
        escape(&plan.name),
        escape(&per_interval(&plan.price, plan.interval))
    );
    if !plan.description.trim().is_empty() {
        info.push_str(&format!(
            "<p class=\"plan-description\">{}</p>",
            escape(&plan.description)
        ));
    }
    info.push_str(&format!(
        "<p class=\"plan-unlocks\">{}</p>",
        escape(&unlocks_text(&plan))
    ));
    if !plan.all_products {
        info.push_str("<ul class=\"bundle-items plan-products\">");
        for p in &plan.products {
            let slug = escape(&p.slug);
            info.push_str(&format!(
                "<li data-slug=\"{slug}\"><a href=\"/products/{slug}\">{}</a></li>",
                escape(&p.title)
            ));
        }
        info.push_str("</ul>");
    }
    let action = move || {
        if member {
            view! { <span class="price owned your-plan">"Your plan"</span> }.into_any()
        } else if session.user.with(Option::is_none) {
            let signin = crate::shell::signin_href_to(PAGE);
            view! { <a href=signin class="button subscribe" aria-label=label.clone()>"Subscribe"</a> }.into_any()
        } else {
            let (mine, go) = (id.to_string(), id.clone());
            let busy = move || subscribing.with(|s| s.as_deref() == Some(mine.as_str()));
            view! {
                <button type="button" class="button subscribe" aria-label=label.clone()
                    disabled=move || subscribing.with(Option::is_some)
                    on:click=move |_| subscribe(go.clone(), set_refused)>
                    {text(move || if busy() { "Opening checkout…" } else { "Subscribe" })}
                </button>
            }
            .into_any()
        }
    };
    view! {
        <li class="card plan" data-plan=plan.id.to_string()>
            <div class="plan-info" inner_html=info></div>
            <div class="plan-action">
                {dynamic(action)}
                {dynamic(move || match refused.get() {
                    Some(m) => view! { <p class="field-error plan-refused" role="alert">{m}</p> }.into_any(),
                    None => ().into_any(),
                })}
            </div>
        </li>
    }
}
