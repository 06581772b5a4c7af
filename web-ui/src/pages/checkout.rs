//! Back from Stripe: waits for the order to be paid (polling with backoff), then offers the file.

use leptos::prelude::*;
use shared_types::{Order, OrderStatus};

use crate::api::{self, ApiError};
use crate::components::{
    dynamic, set_title, sleep, DownloadButton, ErrorBox, Loading, RequireSignIn,
};

#[component]
pub fn Success() -> impl IntoView {
    set_title("Thank you");
    view! { <RequireSignIn><SuccessBody/></RequireSignIn> }
}

#[component]
fn SuccessBody() -> impl IntoView {
    let session_id = crate::router::query("session_id").unwrap_or_default();
    // Into the API path as one segment, whatever the address said.
    let session_id = String::from(js_sys::encode_uri_component(&session_id));
    let (order, set_order) = signal(None::<Order>);
    let (error, set_error) = signal(None::<ApiError>);
    let (gave_up, set_gave_up) = signal(false);
    leptos::task::spawn_local(async move {
        let mut wait = 400;
        // About 40 s in all, then the page says to check the library later.
        for _ in 0..9 {
            match api::get::<Order>(&format!("/api/v1/checkout/sessions/{session_id}")).await {
                Ok(o) => {
                    let settled = o.status != OrderStatus::Pending;
                    set_order.set(Some(o));
                    if settled {
                        return;
                    }
                }
                Err(e) if e.status == 404 => {
                    set_error.set(Some(e));
                    return;
                }
                // Transient (Stripe or network): keep trying.
                Err(e) => set_error.set(Some(e)),
            }
            sleep(wait).await;
            wait = (wait * 2).min(10_000);
        }
        set_gave_up.set(true);
    });
    view! {
        <section class="narrow card success">
            {dynamic(move || match order.get() {
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
                        view! { <p>"This is taking longer than usual. Your item will appear in your "<a href="/library">"library"</a>" as soon as the payment is confirmed."</p> }.into_any()
                    } else {
                        view! { <Loading label="Checking…"/> }.into_any()
                    })}
                }.into_any(),
                Some(o) => view! {
                    <h1>"The payment did not go through"</h1>
                    <p id="order-status" data-status=o.status.as_str()>{format!("This order is {}. Nothing was charged.", o.status.as_str())}</p>
                    <a href=format!("/products/{}", o.product.slug)>"Back to the item"</a>
                }.into_any(),
                None => view! { <Loading label="Confirming your payment…"/> }.into_any(),
            })}
            {dynamic(move || match error.get().filter(|_| order.with(Option::is_none)) {
                Some(e) => view! { <ErrorBox error=e/> }.into_any(),
                None => ().into_any(),
            })}
        </section>
    }
}
