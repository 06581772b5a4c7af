//! Small pieces every page uses: loading and error states, prices, the tab title, downloads.

use leptos::prelude::*;
use shared_types::{AcceptedResponse, DownloadTokenResponse, Pricing, Product};

use crate::api::{self, ApiError};
use crate::router;

/// A reactive view behind one type, `Arc<Mutex<dyn FnMut() -> AnyView>>` (what Leptos's
/// `erase_components` mode does): the render-effect machinery is then compiled once for all such
/// views instead of once per closure, which keeps the wasm small.
pub fn dynamic(
    view: impl FnMut() -> AnyView + Send + 'static,
) -> leptos::tachys::reactive_graph::SharedReactiveFunction<AnyView> {
    std::sync::Arc::new(std::sync::Mutex::new(view))
}

/// `view()` while `cond()` holds: what `<Show>` does, behind [`dynamic`]'s one type (each
/// `<Show>` compiles its own copy of the rendering code).
pub fn when(
    cond: impl Fn() -> bool + Send + 'static,
    view: impl Fn() -> AnyView + Send + 'static,
) -> leptos::tachys::reactive_graph::SharedReactiveFunction<AnyView> {
    dynamic(move || if cond() { view() } else { ().into_any() })
}

/// A reactive text, behind [`dynamic`]'s one type.
pub fn text(
    text: impl Fn() -> &'static str + Send + 'static,
) -> leptos::tachys::reactive_graph::SharedReactiveFunction<AnyView> {
    dynamic(move || text().into_any())
}

/// Sets the tab title while the page is shown.
pub fn set_title(page: &str) {
    if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
        doc.set_title(&format!("{page} · Folio"));
    }
}

/// Its children for a signed-in visitor. A signed-out one is sent to the sign-in page, which
/// brings them back here: a redirect, so it replaces this page in the history.
#[component]
pub fn RequireSignIn(children: ChildrenFn) -> impl IntoView {
    let session = api::session();
    redirect_signed_out();
    dynamic(move || {
        if session.ready.get() && session.user.with(Option::is_some) {
            children().into_any()
        } else {
            view! { <Loading/> }.into_any()
        }
    })
}

/// Sends a signed-out visitor to the sign-in page (with `next` = this page) once the session
/// has settled, unless the app has already left this page (signing out goes to the catalog).
pub fn redirect_signed_out() {
    let session = api::session();
    let here = router::location().with_untracked(router::Loc::href);
    let restored = router::restored();
    Effect::new(move |_| {
        restored.track();
        if session.ready.get()
            && session.user.with(Option::is_none)
            && router::location().with_untracked(|l| l.href() == here)
        {
            router::navigate(&crate::shell::signin_href_to(&here), true);
        }
    });
}

#[component]
pub fn Loading(#[prop(default = "Loading…")] label: &'static str) -> impl IntoView {
    view! { <p class="loading" role="status" aria-live="polite"><span class="spinner" aria-hidden="true"></span>{label}</p> }
}

#[component]
pub fn ErrorBox(error: ApiError) -> impl IntoView {
    view! { <div class="error-box" role="alert"><strong>"Something went wrong. "</strong>{error.message}</div> }
}

/// The error box for `error`, while there is one. One function (so one closure type) for every
/// page that shows a call's error.
pub fn error_slot(error: ReadSignal<Option<ApiError>>) -> impl IntoView {
    dynamic(move || match error.get() {
        Some(e) => view! { <ErrorBox error=e/> }.into_any(),
        None => ().into_any(),
    })
}

/// A form's own error (not tied to a field), while there is one.
pub fn form_error_slot(message: ReadSignal<Option<String>>) -> impl IntoView {
    dynamic(move || match message.get() {
        Some(m) => {
            view! { <div class="error-box" role="alert" id="form-error">{m}</div> }.into_any()
        }
        None => ().into_any(),
    })
}

/// What a product costs, for people: its price, `Free`, or for pay what you want `From $2.00`
/// (the minimum) or `Name your price` (no minimum).
pub fn price_text(product: &Product) -> String {
    if product.pricing == Pricing::PayWhatYouWant {
        if product.price.amount_cents == 0 {
            "Name your price".to_owned()
        } else {
            format!("From {}", product.price.display)
        }
    } else if product.is_free {
        "Free".to_owned()
    } else {
        product.price.display.clone()
    }
}

/// Minor units as the decimal text a price field holds: `1999` is `19.99`.
pub fn decimal(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// A value as one part of an address (a path segment or a query value).
pub fn encode(value: &str) -> String {
    String::from(js_sys::encode_uri_component(value))
}

/// Price, Free, pay what you want, Owned, or Included (in the caller's membership: the owned
/// badge, in other words).
#[component]
pub fn PriceTag(product: Product) -> impl IntoView {
    let class = if product.owned || product.included {
        "price owned"
    } else if product.is_free {
        "price free"
    } else {
        "price"
    };
    let text = if product.owned {
        "Owned".to_owned()
    } else if product.included {
        "Included".to_owned()
    } else {
        price_text(&product)
    };
    view! { <span class=class>{text}</span> }
}

#[component]
pub fn Preview(product: Product) -> impl IntoView {
    match product.preview_url {
        Some(url) => view! { <img class="preview" src=url alt=format!("Cover of {}", product.title) loading="lazy"/> }.into_any(),
        None => {
            let first = product.title.chars().next().unwrap_or('F');
            // The browser's toUpperCase: Rust's case tables would add kilobytes to the wasm.
            let initial = String::from(js_sys::JsString::from(first).to_upper_case());
            view! { <div class="preview placeholder" aria-hidden="true">{initial}</div> }.into_any()
        }
    }
}

/// A field's message under its input, from the shared parser or the server.
#[component]
pub fn FieldMessage(field: &'static str, message: Signal<Option<String>>) -> impl IntoView {
    dynamic(move || {
        match message.get() {
        Some(m) => view! { <p class="field-error" data-field=field id=format!("{field}-error") role="alert">{m}</p> }.into_any(),
        None => ().into_any(),
    }
    })
}

/// A Download button: asks for a short-lived link, then lets the browser fetch the file. The
/// link comes from the product's download-token endpoint (with `body`, a
/// `DownloadTokenRequest` as JSON: one file, or all of them as a ZIP; none for a product's only
/// file), or from `token_path` (a guest's checkout session's). The library has its own, with
/// the counts of a download limit (`pages::library`): this one is the shop's, kept small.
#[component]
pub fn DownloadButton(
    slug: String,
    #[prop(optional)] id: Option<&'static str>,
    #[prop(optional)] token_path: Option<String>,
    #[prop(optional)] body: Option<String>,
    #[prop(optional)] label: Option<&'static str>,
) -> impl IntoView {
    let (link, set_link) = signal(None::<String>);
    let (error, set_error) = signal(None::<ApiError>);
    let (busy, set_busy) = signal(false);
    let label = label.unwrap_or("Download");
    let path = token_path.unwrap_or_else(|| format!("/api/v1/products/{slug}/download-token"));
    let download = move |ev: leptos::ev::MouseEvent| {
        // A member's button is in the product page's buy form: it does not send it.
        ev.prevent_default();
        let path = path.clone();
        let body = body.clone();
        set_busy.set(true);
        leptos::task::spawn_local(async move {
            match api::post_text::<DownloadTokenResponse>(&path, body).await {
                Ok(token) => {
                    set_error.set(None);
                    set_link.set(Some(token.url.clone()));
                    if let Some(window) = web_sys::window() {
                        let _ = window.location().set_href(&token.url);
                    }
                }
                Err(e) => set_error.set(Some(e)),
            }
            set_busy.set(false);
        });
    };
    view! {
        <div class="download">
            <button id=id class="button download-button" data-slug=slug on:click=download disabled=busy>
                {text(move || if busy.get() { "Preparing…" } else { label })}
            </button>
            {dynamic(move || match link.get() {
                Some(url) => view! {
                    <p class="hint">"Your download should start. If not, "
                        <a class="download-link" id="download-link" href=url download="">"use this link"</a>
                        " (valid for a few minutes)."</p>
                }.into_any(),
                None => ().into_any(),
            })}
            {error_slot(error)}
        </div>
    }
}

/// What a file is, for people, from its content type: `PDF`, `EPUB`, `ZIP`, `MP3`, `MP4`,
/// `PNG`, `JPEG`, else `File`.
pub fn file_kind(content_type: &str) -> &'static str {
    match content_type {
        "application/pdf" => "PDF",
        "application/epub+zip" => "EPUB",
        "application/zip" => "ZIP",
        "audio/mpeg" => "MP3",
        "video/mp4" => "MP4",
        "image/png" => "PNG",
        "image/jpeg" => "JPEG",
        "image/webp" => "WebP",
        "image/svg+xml" => "SVG",
        _ => "File",
    }
}

/// A product's download limit and access window in one line ("3 downloads per file · access
/// for 30 days"), or nothing without either.
pub fn delivery_line(limit: Option<i32>, days: Option<i32>) -> Option<String> {
    let s = |n: i32| if n == 1 { "" } else { "s" };
    match (limit, days) {
        (None, None) => None,
        (Some(l), None) => Some(format!("{l} download{} per file", s(l))),
        (None, Some(d)) => Some(format!("Access for {d} day{}", s(d))),
        (Some(l), Some(d)) => Some(format!(
            "{l} download{} per file · access for {d} day{}",
            s(l),
            s(d)
        )),
    }
}

/// Whether a timestamp is in the past, by the browser's clock.
pub fn is_past(t: &impl std::fmt::Display) -> bool {
    js_sys::Date::new(&t.to_string().as_str().into()).get_time() <= js_sys::Date::now()
}

/// The day of a timestamp as the reader's browser writes dates (`Dec 1, 2026` in English), in
/// the reader's time zone: the browser's Intl does it, so the wasm carries no date formatting.
/// In the browser a timestamp is the server's RFC 3339 text; text the browser cannot read is
/// shown as it came.
pub fn date(t: &impl std::fmt::Display) -> String {
    intl_date(t, false)
}

/// The day and time of a timestamp (`Dec 1, 2026, 10:21 AM`), as [`date`] writes the day.
pub fn date_time(t: &impl std::fmt::Display) -> String {
    intl_date(t, true)
}

fn intl_date(t: &impl std::fmt::Display, with_time: bool) -> String {
    let text = t.to_string();
    let when = js_sys::Date::new(&text.as_str().into());
    if when.get_time().is_nan() {
        return text;
    }
    let locale = window()
        .navigator()
        .language()
        .unwrap_or_else(|| "en".to_owned());
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into());
    if with_time {
        let _ = js_sys::Reflect::set(&options, &"timeStyle".into(), &"short".into());
        return when.to_locale_string(&locale, &options).into();
    }
    when.to_locale_date_string(&locale, &options).into()
}

/// "Resend receipt" for a paid order: posts to `path` (the buyer's or the admin's receipt
/// endpoint) and says beside the button what the server said (queued, or asked too often).
#[component]
pub fn ResendReceipt(path: String) -> impl IntoView {
    let (said, set_said) = signal(None::<Result<String, String>>);
    let (busy, set_busy) = signal(false);
    let resend = move |_| {
        let path = path.clone();
        set_busy.set(true);
        set_said.set(None);
        leptos::task::spawn_local(async move {
            let answer = api::post_empty::<AcceptedResponse>(&path).await;
            set_said.set(Some(answer.map(|a| a.message).map_err(|e| e.message)));
            set_busy.set(false);
        });
    };
    view! {
        <button class="button small secondary resend-receipt" on:click=resend disabled=busy>
            {text(move || if busy.get() { "Sending…" } else { "Resend receipt" })}
        </button>
        {dynamic(move || match said.get() {
            Some(Ok(m)) => view! { <span class="row-note receipt-sent" role="status">{m}</span> }.into_any(),
            Some(Err(m)) => view! { <span class="row-note receipt-refused" role="alert">{m}</span> }.into_any(),
            None => ().into_any(),
        })}
    }
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: u64) {
    let (tx, rx) = futures_channel::oneshot::channel::<()>();
    set_timeout(
        move || {
            let _ = tx.send(());
        },
        std::time::Duration::from_millis(ms),
    );
    let _ = rx.await;
}
