//! One product: preview, description, price, and Buy, Download or Sign in. Signed out, a paid
//! item is bought with an email address alone (a guest checkout): the server keeps the
//! checkout's claim in an HttpOnly cookie, and the success page (the account bundle) follows it
//! to the file. A fixed price takes a discount code (previewed before checkout); a
//! pay-what-you-want item asks for the amount; a bundle lists what it contains. When nothing is
//! left to pay, the checkout grants the item at once and the buyer goes to the library. An item
//! the member's plan includes is downloaded as an owner's is, and can still be bought.

use leptos::prelude::*;
use shared_types::{CheckoutRequest, Currency, DiscountPreview, Pricing, Product};

use crate::api::{self, ApiError};
use crate::components::{
    decimal, delivery_line, dynamic, encode, error_slot, file_kind, set_title, when,
    DownloadButton, DownloadButtonProps, ErrorBox, FieldMessage, Loading, Preview, PriceTag,
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

/// What the page reads of the checkout's answer ([`shared_types::CheckoutResponse`]): its
/// other fields would only add their parsers to the first view's code.
#[derive(serde::Deserialize)]
struct Started {
    checkout_url: Option<String>,
    session_id: Option<String>,
}

/// What the input `id` holds, trimmed (empty when there is none).
fn field_value(id: &str) -> String {
    document()
        .get_element_by_id(id)
        .and_then(|el| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(el).ok())
        .map(|input| input.value().trim().to_owned())
        .unwrap_or_default()
}

/// "Buy for $7.50", or "Get it free" when nothing is left to pay.
fn buy_label(cents: Option<i64>, currency: Currency) -> String {
    match cents {
        Some(0) => "Get it free".to_owned(),
        Some(c) => format!("Buy for {}", currency.format(c)),
        None => "Buy".to_owned(),
    }
}

/// A link that looks like a button; one view type for every such link on the page.
fn link_button(href: String, id: &'static str, label: &'static str) -> AnyView {
    view! { <a href=href id=id class="button">{label}</a> }.into_any()
}

/// Text for HTML: the five characters that could end it escaped.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A bundle's contents, each linked to its page, and what buying them together saves. Static,
/// so written as markup (the router follows its links like any other): a view per item would
/// be kilobytes of code in the first view.
fn bundle_contents(product: &Product) -> Option<impl IntoView> {
    let items = &product.bundle_items;
    if items.is_empty() {
        return None;
    }
    let currency = product.price.currency;
    let saving = (product.pricing == Pricing::Fixed
        && items.iter().all(|i| i.price.currency == currency))
    .then(|| items.iter().map(|i| i.price.amount_cents).sum::<i64>() - product.price.amount_cents)
    .filter(|saved| *saved > 0)
    .map(|saved| {
        format!(
            "You save {} on buying them one by one.",
            currency.format(saved)
        )
    })
    .unwrap_or_default();
    let heading = format!(
        "In this bundle: {} item{}",
        items.len(),
        if items.len() == 1 { "" } else { "s" }
    );
    let list: String = items
        .iter()
        .map(|i| {
            let slug = escape(&i.slug);
            format!(
                "<li data-slug=\"{slug}\"><a href=\"/products/{slug}\">{}</a> <span class=\"bundle-item-price\">{}</span></li>",
                escape(&i.title),
                escape(&i.price.display)
            )
        })
        .collect();
    Some(view! {
        <section class="bundle" aria-labelledby="bundle-heading">
            <h2 id="bundle-heading">{heading}</h2>
            <ul class="bundle-items" id="bundle-items" inner_html=list></ul>
            <p class="bundle-saving" id="bundle-saving">{saving}</p>
        </section>
    })
}

#[component]
fn ProductDetail(product: Product) -> impl IntoView {
    set_title(&product.title);
    let session = api::session();
    let signed_in = move || session.user.with(Option::is_some);
    let (error, set_error) = signal(None::<ApiError>);
    let (email_error, set_email_error) = signal(None::<String>);
    let (busy, set_busy) = signal(false);
    let chooses = product.pricing == Pricing::PayWhatYouWant;
    let currency = product.price.currency;
    let list_cents = product.price.amount_cents;
    // Pay what you want: the amount, proposed as the suggested price (else the minimum); read
    // from its field when the form is sent.
    let proposed = decimal(
        product
            .suggested_price
            .as_ref()
            .map_or(list_cents, |m| m.amount_cents),
    );
    let amount_error = RwSignal::new(None::<String>);
    // A fixed price takes discount codes: what the one applied does. The field is read when
    // asked (like the guest's email), not bound to a signal: less code in the first view.
    let applied = RwSignal::new(None::<DiscountPreview>);
    let code_error = RwSignal::new(None::<String>);
    // Nothing left to pay, bought as a guest: the item is theirs, and the receipt says how to
    // reach it.
    let got = RwSignal::new(None::<String>);
    let slug = product.slug.clone();
    let apply = {
        let slug = slug.clone();
        move |_| {
            let typed = field_value("discount-code");
            applied.set(None);
            code_error.set(None);
            if typed.is_empty() {
                code_error.set(Some("Type the code first.".to_owned()));
                return;
            }
            let path = format!(
                "/api/v1/discounts/{}?slug={}",
                encode(&typed),
                encode(&slug)
            );
            leptos::task::spawn_local(async move {
                match api::get::<DiscountPreview>(&path).await {
                    Ok(preview) => applied.set(Some(preview)),
                    Err(e) => code_error.set(Some(e.field("discount_code").unwrap_or(e.message))),
                }
            });
        }
    };
    // Signed in, for the account; signed out, for the address in the form's field. One form
    // either way, so the shop carries one Buy button.
    let buy = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_error.set(None);
        set_email_error.set(None);
        amount_error.set(None);
        code_error.set(None);
        // The address is left to the server's parser (see the registration form); the field is
        // read when the form is sent rather than bound to a signal.
        let email = document()
            .get_element_by_id("guest-email")
            .and_then(|el| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(el).ok())
            .map(|input| input.value());
        let chosen = chooses.then(|| field_value("amount"));
        if chosen.as_deref() == Some("") {
            amount_error.set(Some("Type the amount you want to pay.".to_owned()));
            return;
        }
        let discount_code =
            Some(field_value("discount-code")).filter(|c| !chooses && !c.is_empty());
        let slug = slug.clone();
        set_busy.set(true);
        leptos::task::spawn_local(async move {
            let request = CheckoutRequest {
                slug,
                email,
                discount_code,
                amount: chosen,
            };
            // Signed out there is no access token to send: the same call is a guest checkout.
            match api::post::<_, Started>("/api/v1/checkout", &request).await {
                Ok(c) => match (c.checkout_url, c.session_id) {
                    (Some(url), session_id) => {
                        if let (Some(storage), Some(email), Some(id)) =
                            (api::tab_storage(), &request.email, session_id)
                        {
                            let _ = storage.set_item(&guest_email_key(&id), email);
                        }
                        let _ = window().location().set_href(&url);
                    }
                    // Nothing to pay: the order is paid and the item in the library.
                    (None, _) => match request.email.filter(|_| !signed_in()) {
                        Some(email) => {
                            got.set(Some(email));
                            set_busy.set(false);
                        }
                        None => crate::router::navigate(
                            &format!("/library?added={}", encode(&request.slug)),
                            false,
                        ),
                    },
                },
                Err(e) => {
                    // Each refusal beside its field (the server names it).
                    let email = e.field("email");
                    let code_said = e.field("discount_code");
                    let amount_said = e.field("amount");
                    let placed = email.is_some() || code_said.is_some() || amount_said.is_some();
                    if code_said.is_some() {
                        applied.set(None);
                    }
                    set_email_error.set(email);
                    code_error.set(code_said);
                    amount_error.set(amount_said);
                    if !placed {
                        set_error.set(Some(e));
                    }
                    set_busy.set(false);
                }
            }
        });
    };
    let can_download = product.owned || product.is_free;
    // A member's plan unlocks it: its files download as an owner's do, in the form that still
    // buys it outright (a bundle's items download from their own pages).
    let member = product.included && !can_download && !product.files.is_empty();
    // Several files: one ZIP of them all (the library offers each one). The props written
    // out: one call for both kinds of button.
    let download = {
        let slug = product.slug.clone();
        let all = product.files.len() > 1;
        move || {
            DownloadButton(DownloadButtonProps {
                slug: slug.clone(),
                id: Some("download"),
                token_path: None,
                body: all.then(|| r#"{"all":true}"#.to_owned()),
                label: all.then_some("Download all (ZIP)"),
            })
            .into_any()
        }
    };
    let signin_href = crate::shell::signin_href_to(&format!("/products/{}", product.slug));
    let label = move || {
        if busy.get() {
            return "Opening checkout…".to_owned();
        }
        if chooses {
            // The amount is the buyer's: the server checks it and says what is wrong.
            return "Buy".to_owned();
        }
        buy_label(
            Some(applied.with(|p| p.as_ref().map_or(list_cents, |p| p.price.amount_cents))),
            currency,
        )
    };
    let amount_field = move || {
        // Stripe charges nothing below 0.50: an amount between 0 and that is refused.
        let min = if list_cents == 0 {
            format!(
                "Any amount: 0 to get it free, or from {}",
                currency.format(shared_types::money::MIN_PAID_CENTS)
            )
        } else {
            format!("At least {}", currency.format(list_cents))
        };
        // The ceiling is the server's: its refusal names it.
        let hint = format!("{min}.");
        view! {
            <div class="field">
                <label for="amount">{format!("Name your price ({})", currency.code().to_ascii_uppercase())}</label>
                <input id="amount" name="amount" type="number" inputmode="decimal" min=decimal(list_cents) step="0.01"
                    aria-describedby="amount-hint amount-error" value=proposed.clone()/>
                <p class="hint" id="amount-hint">{hint}</p>
                <FieldMessage field="amount" message=amount_error.into()/>
            </div>
        }
    };
    let code_field = move || {
        view! {
            <div class="field">
                <label for="discount-code">"Have a code?"</label>
                <div class="code-row">
                    <input id="discount-code" name="discount_code" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="64"
                        aria-describedby="code-preview discount_code-error" on:input=move |_| applied.set(None)/>
                    <button id="apply-code" type="button" class="button secondary" on:click=apply.clone()>"Apply"</button>
                </div>
                // One piece of markup that follows the preview: less code than a view per state.
                <p class="code-preview" id="code-preview" role="status"
                    data-applied=move || applied.with(|p| p.as_ref().map(|p| p.code.clone()))
                    inner_html=move || applied.with(|p| p.as_ref().map(|p| format!(
                        "<s class=\"old-price\"><span class=\"visually-hidden\">Was </span>{}</s> <strong class=\"new-price\"><span class=\"visually-hidden\">now </span>{}</strong> · {} with {}",
                        escape(&p.list_price.display), escape(&p.price.display), escape(&p.description), escape(&p.code)
                    )).unwrap_or_default())></p>
                <FieldMessage field="discount_code" message=code_error.into()/>
            </div>
        }
    };
    let action = {
        let product = product.clone();
        dynamic(move || {
            let guest = !signed_in();
            if let Some(email) = got.get() {
                view! {
                    <div class="notice saved" role="status" id="its-yours">
                        {format!("It’s yours! We mailed the receipt to {email}. Its link signs you in to your library, where {} stays yours to download.", product.title)}
                    </div>
                }
                .into_any()
            } else if guest && product.is_free {
                link_button(signin_href.clone(), "signin-to-buy", "Sign in to download")
            } else if !guest && can_download && product.files.is_empty() {
                // A bundle of other products only: they are in the library.
                link_button("/library".to_owned(), "open-library", "Open your library")
            } else if !guest && can_download {
                download()
            } else {
                let signin_href = signin_href.clone();
                view! {
                    <form class="form buy" on:submit=buy.clone() novalidate>
                        // A guest's address, or a member's download (a member is signed in).
                        {if guest {
                            view! {
                                <div class="field">
                                    <label for="guest-email">"Your email, for the receipt"</label>
                                    <input id="guest-email" name="email" type="email" autocomplete="email" required
                                        aria-describedby="email-error"/>
                                    <FieldMessage field="email" message=email_error.into()/>
                                </div>
                            }.into_any()
                        } else if member {
                            download()
                        } else {
                            ().into_any()
                        }}
                        {if chooses { amount_field().into_any() } else { code_field().into_any() }}
                        <button id=if guest { "guest-buy" } else { "buy" } class="button primary" type="submit" disabled=busy>
                            {dynamic(move || label().into_any())}
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
                {bundle_contents(&product)}
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
