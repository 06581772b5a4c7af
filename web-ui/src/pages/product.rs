//! One product: preview, description, price, and Buy, Download or Sign in to buy.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};
use shared_types::{CheckoutRequest, CheckoutResponse, Product};

use crate::api::{self, ApiError};
use crate::components::{set_title, DownloadButton, ErrorBox, Loading, Preview, PriceTag};

#[component]
pub fn ProductPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let session = api::session();
    let slug = move || params.with(|p| p.get("slug").unwrap_or_default());
    let product = LocalResource::new(move || {
        let slug = slug();
        // Reload when the session settles: `owned` depends on it.
        let _ = (
            session.ready.get(),
            session
                .user
                .with(|u| u.as_ref().map(|s| s.profile.id.clone())),
        );
        async move { api::get::<Product>(&format!("/api/v1/products/{slug}")).await }
    });
    let cancelled = move || query.with(|q| q.get("checkout").as_deref() == Some("cancelled"));

    view! {
        <section class="product-page">
            <Show when=cancelled>
                <div class="notice" role="status">"Checkout was cancelled. Nothing was charged."</div>
            </Show>
            {move || match product.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(p)) => view! { <ProductDetail product=p/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn ProductDetail(product: Product) -> impl IntoView {
    set_title(&product.title);
    let session = api::session();
    let signed_in = move || session.user.with(Option::is_some);
    let (error, set_error) = signal(None::<ApiError>);
    let (busy, set_busy) = signal(false);
    let slug = product.slug.clone();
    let buy = move |_| {
        let slug = slug.clone();
        set_busy.set(true);
        leptos::task::spawn_local(async move {
            match api::post::<_, CheckoutResponse>("/api/v1/checkout", &CheckoutRequest { slug })
                .await
            {
                Ok(c) => {
                    if let Some(w) = web_sys::window() {
                        let _ = w.location().set_href(&c.checkout_url);
                    }
                }
                Err(e) => {
                    set_error.set(Some(e));
                    set_busy.set(false);
                }
            }
        });
    };
    let can_download = product.owned || product.is_free;
    let signin_href = format!("/signin?next=/products/{}", product.slug);
    let action = {
        let product = product.clone();
        move || {
            if !signed_in() {
                let label = if product.is_free {
                    "Sign in to download"
                } else {
                    "Sign in to buy"
                };
                view! { <A href=signin_href.clone() attr:id="signin-to-buy" attr:class="button">{label}</A> }.into_any()
            } else if can_download {
                view! { <DownloadButton slug=product.slug.clone() id="download"/> }.into_any()
            } else {
                let label = format!("Buy for {}", product.price.display);
                view! {
                    <button id="buy" class="button primary" on:click=buy.clone() disabled=busy>
                        {move || if busy.get() { "Opening checkout…".to_owned() } else { label.clone() }}
                    </button>
                }
                .into_any()
            }
        }
    };
    view! {
        <article class="product">
            <div class="product-media"><Preview product=product.clone()/></div>
            <div class="product-info">
                <h1>{product.title.clone()}</h1>
                <PriceTag product=product.clone()/>
                <p class="file-info">{format!("{} · {}", product.file.name, human_size(product.file.size))}</p>
                <div class="actions">{action}</div>
                {move || error.get().map(|e| view! { <ErrorBox error=e/> })}
                <div class="description">
                    {product.description.split("\n\n").map(|para| view! { <p>{para.to_owned()}</p> }).collect_view()}
                </div>
            </div>
        </article>
    }
}

pub fn human_size(bytes: i64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.1} MB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.0} KB", b / 1024.0)
    } else {
        format!("{bytes} bytes")
    }
}
