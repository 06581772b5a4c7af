//! One product: preview, description, price, and Buy, Download or Sign in. Signed out, a paid
//! item is bought with an email address alone (a guest checkout): the server keeps the
//! checkout's claim in an HttpOnly cookie, and the success page (the account bundle) follows it
//! to the file.

use leptos::prelude::*;
use shared_types::{CheckoutRequest, CheckoutResponse, Product};

use crate::api::{self, ApiError};
use crate::components::{
    delivery_line, dynamic, error_slot, file_kind, set_title, when, DownloadButton, ErrorBox,
    FieldMessage, Loading, Preview, PriceTag,
};

/// Where a guest's checkout keeps the address it gave, by session id, for the success page to
/// say where the receipt went (this tab's sessionStorage: Stripe comes back to the same tab).
pub fn guest_email_key(session_id: &str) -> String {
    format!("folio_guest_email:{session_id}")
}

#[component]
pub fn ProductPage() -> impl IntoView {
    let session = api::session();
    let slug = crate::router::param("/products/", "");
    let checkout = crate::router::query_memo("checkout");
    let product = api::resource(move || {
        let slug = slug.get();
        // Reload when the session settles: `owned` depends on it.
        let _ = (
            session.ready.get(),
            session
                .user
                .with(|u| u.as_ref().map(|s| s.profile.id.clone())),
        );
        format!("/api/v1/products/{slug}")
    });
    let cancelled = move || checkout.with(|c| c.as_deref() == Some("cancelled"));

    view! {
        <section class="product-page">
            {when(cancelled, || view! { <div class="notice" role="status">"Checkout was cancelled. Nothing was charged."</div> }.into_any())}
            {dynamic(move || match api::parsed::<Product>(product.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(p)) => view! { <ProductDetail product=p/> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn ProductDetail(product: Product) -> impl IntoView {
    set_title(&product.title);
    let session = api::session();
    let signed_in = move || session.user.with(Option::is_some);
    let (error, set_error) = signal(None::<ApiError>);
    let (email_error, set_email_error) = signal(None::<String>);
    let (busy, set_busy) = signal(false);
    let slug = product.slug.clone();
    // Signed in, for the account; signed out, for the address in the form's field. One form
    // either way, so the shop carries one Buy button.
    let buy = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_error.set(None);
        set_email_error.set(None);
        // The address is left to the server's parser (see the registration form); the field is
        // read when the form is sent rather than bound to a signal.
        let email = document()
            .get_element_by_id("guest-email")
            .and_then(|el| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(el).ok())
            .map(|input| input.value());
        let slug = slug.clone();
        set_busy.set(true);
        leptos::task::spawn_local(async move {
            let request = CheckoutRequest { slug, email };
            // Signed out there is no access token to send: the same call is a guest checkout.
            match api::post::<_, CheckoutResponse>("/api/v1/checkout", &request).await {
                Ok(c) => {
                    if let (Some(storage), Some(email)) = (api::tab_storage(), &request.email) {
                        let _ = storage.set_item(&guest_email_key(&c.session_id), email);
                    }
                    let _ = window().location().set_href(&c.checkout_url);
                }
                Err(e) => {
                    set_email_error.set(e.field("email"));
                    if e.fields.is_empty() {
                        set_error.set(Some(e));
                    }
                    set_busy.set(false);
                }
            }
        });
    };
    let can_download = product.owned || product.is_free;
    let signin_href = crate::shell::signin_href_to(&format!("/products/{}", product.slug));
    let action = {
        let product = product.clone();
        dynamic(move || {
            let guest = !signed_in();
            if guest && product.is_free {
                view! { <a href=signin_href.clone() id="signin-to-buy" class="button">"Sign in to download"</a> }
                    .into_any()
            } else if !guest && can_download {
                // Several files: one ZIP of them all (the library offers each one).
                if product.files.len() > 1 {
                    let all = r#"{"all":true}"#.to_owned();
                    view! { <DownloadButton slug=product.slug.clone() id="download" body=all label="Download all (ZIP)"/> }.into_any()
                } else {
                    view! { <DownloadButton slug=product.slug.clone() id="download"/> }.into_any()
                }
            } else {
                let label = format!("Buy for {}", product.price.display);
                let signin_href = signin_href.clone();
                view! {
                    <form class="form buy" on:submit=buy.clone() novalidate>
                        {guest.then(|| view! {
                            <div class="field">
                                <label for="guest-email">"Your email, for the receipt"</label>
                                <input id="guest-email" name="email" type="email" autocomplete="email" required
                                    aria-describedby="email-error"/>
                                <FieldMessage field="email" message=email_error.into()/>
                            </div>
                        })}
                        <button id=if guest { "guest-buy" } else { "buy" } class="button primary" type="submit" disabled=busy>
                            {dynamic(move || if busy.get() { "Opening checkout…".to_owned() } else { label.clone() }.into_any())}
                        </button>
                        {guest.then(|| view! {
                            <p class="hint">"No account needed: the receipt brings a link to your library. Have an account? "
                                <a href=signin_href id="signin-to-buy">"Sign in"</a></p>
                        })}
                    </form>
                }
                .into_any()
            }
        })
    };
    view! {
        <article class="product">
            <div class="product-media"><Preview product=product.clone()/></div>
            <div class="product-info">
                <h1>{product.title.clone()}</h1>
                <PriceTag product=product.clone()/>
                // Texts, not a list of elements: each element type is code in the first view.
                <p class="file-info product-files" id="product-files">{product.files.iter().map(|f| format!("{} · {} · {}", f.name, file_kind(&f.content_type), human_size(f.size))).collect::<Vec<_>>().join("\n")}</p>
                <p class="file-info delivery" id="delivery">{delivery_line(product.download_limit, product.access_days).unwrap_or_default()}</p>
                <div class="actions">{action}</div>
                {error_slot(error)}
                <div class="description">
                    {product.description.split("\n\n").map(|para| view! { <p>{para.to_owned()}</p> }).collect_view()}
                </div>
            </div>
        </article>
    }
}

/// A file size for people. Integer arithmetic: float formatting is large in wasm. Rounds as
/// `{:.1}`/`{:.0}` on the exact quotient would: to nearest, ties to even.
pub fn human_size(bytes: i64) -> String {
    const KB: i64 = 1024;
    const MB: i64 = 1024 * 1024;
    if bytes >= MB {
        let tenths = div_round((bytes as u64).saturating_mul(10), MB as u64);
        format!("{}.{} MB", tenths / 10, tenths % 10)
    } else if bytes >= KB {
        format!("{} KB", div_round(bytes as u64, KB as u64))
    } else {
        format!("{bytes} bytes")
    }
}

/// `n / d` rounded to the nearest integer, ties to even.
fn div_round(n: u64, d: u64) -> u64 {
    let (q, r) = (n / d, n % d);
    if r * 2 > d || (r * 2 == d && q % 2 == 1) {
        q + 1
    } else {
        q
    }
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn file_sizes_read_like_their_rounded_quotient() {
        assert_eq!(human_size(0), "0 bytes");
        assert_eq!(human_size(1023), "1023 bytes");
        assert_eq!(human_size(1024), "1 KB");
        // 1.5 KB rounds to even (2), 2.5 KB to even (2).
        assert_eq!(human_size(1536), "2 KB");
        assert_eq!(human_size(2560), "2 KB");
        assert_eq!(human_size(1024 * 1024), "1.0 MB");
        assert_eq!(human_size(3 * 1024 * 1024 + 300 * 1024), "3.3 MB");
        assert_eq!(human_size(200 * 1024 * 1024), "200.0 MB");
    }
}
