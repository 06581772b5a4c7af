//! Back from Stripe: waits for the order to be paid (polling with backoff), then offers the file.
//!
//! A signed-in buyer follows the session with their access token; a guest's browser with the
//! HttpOnly `folio_guest` cookie the checkout set (fetch sends it: same origin), and downloads
//! through the session's own download-token endpoint. The guest is told where the receipt went:
//! it carries the link that signs them in to their library.

use leptos::prelude::*;
use shared_types::{Order, OrderStatus};

use crate::api::{self, ApiError};
use crate::components::{dynamic, set_title, sleep, DownloadButton, ErrorBox, Loading};

#[component]
pub fn Success() -> impl IntoView {
    set_title("Thank you");
    let session = api::session();
    // Who follows the session is known once the session has settled (a reload refreshes it).
    dynamic(move || {
        if session.ready.get() {
            SuccessBody().into_any()
        } else {
            view! { <Loading label="Confirming your payment…"/> }.into_any()
        }
    })
}

#[component]
fn SuccessBody() -> impl IntoView {
    let session = api::session();
    let guest = session.user.with_untracked(Option::is_none);
    let raw_id = crate::router::query("session_id").unwrap_or_default();
    // Into the API path as one segment, whatever the address said.
    let session_id = String::from(js_sys::encode_uri_component(&raw_id));
    let guest_email = api::tab_storage().and_then(|s| {
        s.get_item(&super::product::guest_email_key(&raw_id))
            .ok()
            .flatten()
    });
    let (order, set_order) = signal(None::<Order>);
    let (error, set_error) = signal(None::<ApiError>);
    let (gave_up, set_gave_up) = signal(false);
    let path = format!("/api/v1/checkout/sessions/{session_id}");
    leptos::task::spawn_local({
        let path = path.clone();
        async move {
            let mut wait = 400;
            // About 40 s in all, then the page says to check the library later.
            for _ in 0..9 {
                match api::get::<Order>(&path).await {
                    Ok(o) => {
                        let settled = o.status != OrderStatus::Pending;
                        set_order.try_set(Some(o));
                        if settled {
                            return;
                        }
                    }
                    // Not this browser's checkout (another browser's, or the guest's claim has
                    // run out), or no such session: asking again will not change that.
                    Err(e) if e.status == 404 || e.status == 401 => {
                        set_error.try_set(Some(e));
                        return;
                    }
                    // Transient (Stripe or network): keep trying.
                    Err(e) => {
                        set_error.try_set(Some(e));
                    }
                }
                sleep(wait).await;
                wait = (wait * 2).min(10_000);
            }
            set_gave_up.try_set(true);
        }
    });
    let token_path = format!("{path}/download-token");
    let later = move || {
        if guest {
            view! { <p>"This is taking longer than usual. The receipt will be mailed as soon as the payment is confirmed; its link opens your library."</p> }.into_any()
        } else {
            view! { <p>"This is taking longer than usual. Your item will appear in your "<a href="/library">"library"</a>" as soon as the payment is confirmed."</p> }.into_any()
        }
    };
    view! {
        <section class="narrow card success">
            {dynamic(move || match order.get() {
                Some(o) if o.status == OrderStatus::Paid && guest => {
                    let to = guest_email.clone();
                    view! {
                        <h1>"Thank you!"</h1>
                        <p id="order-status" data-status="paid">{format!("{} is yours.", o.product.title)}</p>
                        <DownloadButton slug=o.product.slug.clone() id="download" token_path=token_path.clone()/>
                        <p id="receipt-note">
                            {match to {
                                Some(email) => view! { "We mailed the receipt to "<strong id="receipt-to">{email}</strong>"." }.into_any(),
                                None => view! { "We mailed the receipt to the address you gave." }.into_any(),
                            }}
                            " It has a link that signs you in to your library, where the file stays yours to download."
                        </p>
                    }.into_any()
                }
                Some(o) if o.status == OrderStatus::Paid => view! {
                    <h1>"Thank you!"</h1>
                    <p id="order-status" data-status="paid">{format!("{} is yours. It is in your library too.", o.product.title)}</p>
                    <DownloadButton slug=o.product.slug.clone() id="download"/>
                    <p><a href="/library">"Go to your library"</a></p>
                }.into_any(),
                Some(o) if o.status == OrderStatus::Pending => view! {
                    <h1>"Confirming your payment…"</h1>
                    <p id="order-status" data-status="pending">"Waiting for the payment to be confirmed. This page updates by itself."</p>
                    {dynamic(move || if gave_up.get() {
                        later()
                    } else {
                        view! { <Loading label="Checking…"/> }.into_any()
                    })}
                }.into_any(),
                Some(o) => view! {
                    <h1>"The payment did not go through"</h1>
                    <p id="order-status" data-status=o.status.as_str()>{format!("This order is {}. Nothing was charged.", o.status.as_str())}</p>
                    <a href=format!("/products/{}", o.product.slug)>"Back to the item"</a>
                }.into_any(),
                None => match error.get() {
                    Some(e) if e.status == 401 => view! {
                        <h1>"Your order"</h1>
                        <p id="order-status" data-status="elsewhere">"Only the browser that started this checkout can follow it here, and only for a while. The receipt we mailed has a link that signs you in to your library; or "
                            <a href="/signin">"sign in"</a>" if you have a password."</p>
                    }.into_any(),
                    Some(e) => view! { <ErrorBox error=e/> }.into_any(),
                    None => view! { <Loading label="Confirming your payment…"/> }.into_any(),
                },
            })}
        </section>
    }
}
