//! Admin pages: the sales dashboard ([`dashboard`], the admin's start page), products (table,
//! create, edit with its files and buyers ([`files`]), archive; pay what you want and bundles),
//! orders (refund, resend the receipt, export as CSV), customers ([`customers`]), discount
//! codes ([`discounts`]), membership plans and their members ([`plans`]), API keys
//! ([`api_keys`]), outbound webhooks ([`webhooks`]), the job queue ([`jobs`]) and the dev
//! mailbox ([`mailbox`]). The server checks the role on every call; these pages only hide what
//! a customer could not use anyway.

pub mod api_keys;
pub mod customers;
pub mod dashboard;
pub mod discounts;
pub mod files;
pub mod jobs;
pub mod mailbox;
pub mod plans;
pub mod webhooks;

use std::cell::Cell;

use leptos::prelude::*;
use shared_types::{
    ClientConfig, Currency, Delivery, FieldError, Order, OrderPage, Price, Pricing, Product,
    ProductFields, ProductId, ProductPage, ProductStatus, Selling, UpdateProductRequest,
};
use wasm_bindgen::JsCast;
use web_sys::{FormData, HtmlInputElement};

use crate::api::{self, ApiError};
// `encode` puts `/admin/...?…` parts into the address as one value each.
use crate::components::{
    date, decimal, dynamic, encode, error_slot, form_error_slot, price_text, redirect_signed_out,
    set_title, text, when, ErrorBox, FieldMessage, Loading, ResendReceipt,
};
use crate::router;
use crate::upload::send_form;

/// A form's problems, keyed by field (the client's checks, then the server's).
type Problems = RwSignal<Vec<(String, String)>>;

/// The message for `field` among a form's problems.
fn field_message(errors: Problems, field: &'static str) -> Signal<Option<String>> {
    Signal::derive(move || {
        errors.with(|e| e.iter().find(|(f, _)| f == field).map(|(_, m)| m.clone()))
    })
}

/// Forgets the message of `field` (the reader is fixing it).
fn clear_message(errors: Problems, field: &str) {
    if errors.with_untracked(|e| e.iter().any(|(f, _)| f == field)) {
        errors.update(|e| e.retain(|(f, _)| f != field));
    }
}

/// The shared rules' problems as a form's, keyed by field.
fn problems_of(found: Vec<FieldError>) -> Vec<(String, String)> {
    found.into_iter().map(|p| (p.field, p.message)).collect()
}

/// The server's refusal of a form: beside its fields, or above the form when it names none.
fn show_refusal(e: ApiError, errors: Problems, form_error: WriteSignal<Option<String>>) {
    let fields: Vec<(String, String)> = e
        .fields
        .iter()
        .map(|f| (f.field.clone(), f.message.clone()))
        .collect();
    if fields.is_empty() {
        form_error.set(Some(e.message));
    }
    errors.set(fields);
}

/// Its children for an admin. A signed-out visitor is sent to the sign-in page (in the shop
/// bundle, which brings them back); a signed-in customer is told the page is not for them.
#[component]
fn RequireAdmin(children: ChildrenFn) -> impl IntoView {
    let session = api::session();
    redirect_signed_out();
    dynamic(move || {
        if !session.ready.get() || session.user.with(Option::is_none) {
            view! { <Loading/> }.into_any()
        } else if session.is_admin() {
            children().into_any()
        } else {
            view! {
                <section class="narrow">
                    <h1>"Admins only"</h1>
                    <p id="admin-refused">"This page is for the shop's admins. "<a href="/signin">"Sign in"</a>" with an admin account."</p>
                </section>
            }
            .into_any()
        }
    })
}

thread_local! {
    /// Whether the server keeps its mail in the dev mailbox (`GET /api/v1/config`), once known.
    static DEV_MAILBOX: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Whether the admin has a Mailbox page: asks the server once per page load.
fn dev_mailbox() -> ReadSignal<bool> {
    let known = DEV_MAILBOX.with(Cell::get);
    let (shown, set_shown) = signal(known.unwrap_or(false));
    if known.is_none() {
        leptos::task::spawn_local(async move {
            if let Ok(config) = api::get::<ClientConfig>("/api/v1/config").await {
                DEV_MAILBOX.with(|c| c.set(Some(config.dev_mailbox)));
                set_shown.try_set(config.dev_mailbox);
            }
        });
    }
    shown
}

/// A link of the admin's navigation, marked while its page (or one below it) is shown.
fn admin_link(href: &'static str, id: &'static str, label: &'static str) -> impl IntoView {
    let loc = router::location();
    let current = move || {
        // The dashboard (`/admin`) is marked on its own page only.
        loc.with(|l| {
            l.path.strip_prefix(href).is_some_and(|rest| {
                rest.is_empty() || rest == "/" || (href != "/admin" && rest.starts_with('/'))
            })
        })
        .then_some("page")
    };
    view! { <a href=href id=id aria-current=current>{label}</a> }
}

fn admin_nav() -> impl IntoView {
    let mailbox = dev_mailbox();
    view! {
        <nav class="admin-nav" aria-label="Admin">
            {admin_link("/admin", "admin-dashboard", "Dashboard")}
            {admin_link("/admin/products", "admin-products", "Products")}
            {admin_link("/admin/orders", "admin-orders", "Orders")}
            {admin_link("/admin/customers", "admin-customers", "Customers")}
            {admin_link("/admin/discounts", "admin-discounts", "Discounts")}
            {admin_link("/admin/plans", "admin-plans", "Plans")}
            {admin_link("/admin/members", "admin-members", "Members")}
            {admin_link("/admin/api-keys", "admin-api-keys", "API keys")}
            {admin_link("/admin/webhooks", "admin-webhooks", "Webhooks")}
            {admin_link("/admin/jobs", "admin-jobs", "Jobs")}
            {when(move || mailbox.get(), || admin_link("/admin/mailbox", "admin-mailbox", "Mailbox").into_any())}
            <a href="/admin/products/new" id="new-product" class="button small">"New product"</a>
        </nav>
    }
}

#[component]
pub fn Products() -> impl IntoView {
    set_title("Admin · Products");
    view! { <RequireAdmin><ProductTable/></RequireAdmin> }
}

#[component]
fn ProductTable() -> impl IntoView {
    let products = api::resource(|| "/api/v1/admin/products?limit=100".to_owned());
    let (error, set_error) = signal(None::<ApiError>);
    let archive = move |p: Product| {
        let confirmed = web_sys::window()
            .and_then(|w| {
                w.confirm_with_message(&format!(
                    "Archive “{}”? It leaves the catalog; buyers keep it.",
                    p.title
                ))
                .ok()
            })
            .unwrap_or(false);
        if !confirmed {
            return;
        }
        leptos::task::spawn_local(async move {
            match api::delete(&format!("/api/v1/admin/products/{}", p.id)).await {
                Ok(()) => products.refetch(),
                Err(e) => set_error.set(Some(e)),
            }
        });
    };
    view! {
        <section>
            <h1>"Products"</h1>
            {admin_nav()}
            {error_slot(error)}
            {dynamic(move || match api::parsed::<ProductPage>(products.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(page)) if page.items.is_empty() => view! { <p class="empty">"No products yet."</p> }.into_any(),
                Some(Ok(page)) => view! {
                    <div class="table-wrap">
                    <table class="table">
                        <thead><tr><th>"Title"</th><th>"Status"</th><th>"Price"</th><th>"Sales"</th><th><span class="visually-hidden">"Actions"</span></th></tr></thead>
                        <tbody>
                            {page.items.into_iter().map(|p| {
                                let archived = p.status == ProductStatus::Archived;
                                let for_archive = p.clone();
                                view! {
                                    <tr class="admin-product" data-slug=p.slug.clone()>
                                        <td class="cell-title"><a href=format!("/products/{}", p.slug)>{p.title.clone()}</a></td>
                                        <td data-label="Status"><span class=format!("status status-{}", p.status.as_str())>{p.status.as_str()}</span></td>
                                        <td data-label="Price">{price_text(&p)}{(!p.bundle_items.is_empty()).then(|| view! {
                                            <span class="row-note">{format!("Bundle of {}", p.bundle_items.len())}</span>
                                        })}</td>
                                        <td data-label="Sales">{p.sales.unwrap_or(0)}</td>
                                        <td class="row-actions">
                                            <a href=format!("/admin/products/{}/edit", p.id) class="button small secondary">"Edit"</a>
                                            <Show when=move || !archived>
                                                <button class="button small danger archive" on:click={
                                                    let p = for_archive.clone();
                                                    move |_| archive(p.clone())
                                                }>"Archive"</button>
                                            </Show>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any(),
            })}
        </section>
    }
}

/// Checkboxes to pick products from the admin's list (its first 100), in `selected` in the
/// order they were picked. Archived products (and bundles, with `no_bundles`) are left out
/// unless already picked; so is `exclude` (the product being edited).
#[component]
fn ProductPicker(
    selected: RwSignal<Vec<ProductId>>,
    /// The request field: the fieldset's id, and its message's.
    field: &'static str,
    legend: &'static str,
    #[prop(optional_no_strip)] exclude: Option<ProductId>,
    #[prop(optional)] no_bundles: bool,
) -> impl IntoView {
    let products = api::resource(|| "/api/v1/admin/products?limit=100".to_owned());
    let list = move || match api::parsed::<ProductPage>(products.get()) {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
        Some(Ok(page)) => {
            let offered: Vec<Product> = page
                .items
                .into_iter()
                .filter(|p| {
                    let picked = selected.with_untracked(|s| s.contains(&p.id));
                    Some(&p.id) != exclude.as_ref()
                        && (picked
                            || (p.status != ProductStatus::Archived
                                && (!no_bundles || p.bundle_items.is_empty())))
                })
                .collect();
            if offered.is_empty() {
                return view! { <p class="empty">"No products to pick."</p> }.into_any();
            }
            view! {
                <ul class="picker-list">
                    {offered.into_iter().map(|p| {
                        let (id, toggled) = (p.id.clone(), p.id.clone());
                        view! {
                            <li>
                                <label class="check">
                                    <input type="checkbox" class="pick-product" value=p.id.to_string()
                                        prop:checked=move || selected.with(|s| s.contains(&id))
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            selected.update(|s| {
                                                s.retain(|x| *x != toggled);
                                                if on {
                                                    s.push(toggled.clone());
                                                }
                                            });
                                        }/>
                                    <span class="pick-title">{p.title.clone()}</span>
                                    <span class="pick-price">{price_text(&p)}</span>
                                </label>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }
            .into_any()
        }
    };
    view! {
        <fieldset class="picker" id=field aria-describedby=format!("{field}-error")>
            <legend>{legend}</legend>
            {dynamic(list)}
        </fieldset>
    }
}

fn input_file(node: &NodeRef<leptos::html::Input>) -> Option<web_sys::File> {
    node.get_untracked()
        .and_then(|el| el.unchecked_into::<HtmlInputElement>().files())
        .and_then(|files| files.get(0))
}

/// The form's problems by the server's own form parsers, keyed by field: a new product's
/// fields, or an edit checked against the product as it is (its price and currency). Whether
/// the title makes a slug is left to the server: its transliteration tables are too large to
/// ship to browsers.
fn check_fields(
    existing: Option<&Product>,
    title: &str,
    description: &str,
    price: &str,
    currency: &str,
    status: &str,
) -> Vec<(String, String)> {
    let problems = match existing {
        None => ProductFields::parse(
            title,
            description,
            Some(price),
            Some(currency),
            Some(status),
        )
        .err(),
        Some(p) => UpdateProductRequest {
            title: Some(title.to_owned()),
            description: Some(description.to_owned()),
            price: Some(price.to_owned()),
            currency: currency.parse().ok(),
            status: ProductStatus::from_db(status),
            ..Default::default()
        }
        .parse(p.price.amount_cents, p.price.currency)
        .err(),
    };
    problems
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.field, e.message))
        .collect()
}

/// An upload limit for people: `200 MB`.
fn limit_text(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else {
        crate::pages::product::human_size(bytes as i64)
    }
}

/// The form once the server's limits (and the product being edited) have arrived.
fn with_limits(config: api::Resource, product: Option<api::Resource>) -> impl IntoView {
    dynamic(move || {
        let limits = api::parsed::<ClientConfig>(config.get());
        let existing = product.map(|p| api::parsed::<Product>(p.get()));
        match (limits, existing) {
            (None, _) | (_, Some(None)) => view! { <Loading/> }.into_any(),
            (Some(Err(e)), _) | (_, Some(Some(Err(e)))) => view! { <ErrorBox error=e/> }.into_any(),
            (Some(Ok(limits)), Some(Some(Ok(p)))) => {
                view! { <ProductForm existing=Some(p) limits=limits/> }.into_any()
            }
            (Some(Ok(limits)), None) => {
                view! { <ProductForm existing=None limits=limits/> }.into_any()
            }
        }
    })
}

#[component]
pub fn NewProduct() -> impl IntoView {
    set_title("Admin · New product");
    let config = api::resource(|| "/api/v1/config".to_owned());
    view! { <RequireAdmin>{with_limits(config, None)}</RequireAdmin> }
}

#[component]
pub fn EditProduct() -> impl IntoView {
    set_title("Admin · Edit product");
    let id = router::param("/admin/products/", "/edit");
    let config = api::resource(|| "/api/v1/config".to_owned());
    let product = api::resource(move || {
        format!(
            "/api/v1/admin/products/{}",
            String::from(js_sys::encode_uri_component(&id.get()))
        )
    });
    view! { <RequireAdmin>{with_limits(config, Some(product))}</RequireAdmin> }
}

#[component]
fn ProductForm(existing: Option<Product>, limits: ClientConfig) -> impl IntoView {
    let editing = existing.clone();
    let initial_price = existing
        .as_ref()
        .map(|p| decimal(p.price.amount_cents))
        .unwrap_or_default();
    let (title, set_title_value) = signal(
        existing
            .as_ref()
            .map(|p| p.title.clone())
            .unwrap_or_default(),
    );
    let (description, set_description) = signal(
        existing
            .as_ref()
            .map(|p| p.description.clone())
            .unwrap_or_default(),
    );
    let (price, set_price) = signal(initial_price);
    let (currency, set_currency) = signal(
        existing
            .as_ref()
            .map(|p| p.price.currency.code().to_owned())
            .unwrap_or_else(|| "usd".into()),
    );
    let (status, set_status) = signal(
        existing
            .as_ref()
            .map(|p| p.status.as_str().to_owned())
            .unwrap_or_else(|| "published".into()),
    );
    let count = |n: Option<i32>| n.map(|n| n.to_string()).unwrap_or_default();
    let (download_limit, set_download_limit) =
        signal(count(existing.as_ref().and_then(|p| p.download_limit)));
    let (access_days, set_access_days) =
        signal(count(existing.as_ref().and_then(|p| p.access_days)));
    let (stamp_pdfs, set_stamp_pdfs) = signal(existing.as_ref().is_some_and(|p| p.stamp_pdfs));
    let (pwyw, set_pwyw) = signal(
        existing
            .as_ref()
            .is_some_and(|p| p.pricing == Pricing::PayWhatYouWant),
    );
    let (suggested, set_suggested) = signal(
        existing
            .as_ref()
            .and_then(|p| p.suggested_price.as_ref())
            .map(|m| decimal(m.amount_cents))
            .unwrap_or_default(),
    );
    // A bundle's products, in the order they were picked.
    let initial_items: Vec<ProductId> = existing
        .as_ref()
        .map(|p| p.bundle_items.iter().map(|i| i.id.clone()).collect())
        .unwrap_or_default();
    let (is_bundle, set_is_bundle) = signal(!initial_items.is_empty());
    let bundle_items = RwSignal::new(initial_items.clone());
    let errors = RwSignal::new(Vec::<(String, String)>::new());
    let (form_error, set_form_error) = signal(None::<String>);
    let (progress, set_progress) = signal(0u32);
    let (busy, set_busy) = signal(false);
    let (saved, set_saved) = signal(None::<Product>);
    let file_ref = NodeRef::<leptos::html::Input>::new();
    let preview_ref = NodeRef::<leptos::html::Input>::new();
    let message = move |field: &'static str| field_message(errors, field);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_form_error.set(None);
        let (t, d, p, c, s) = (
            title.get_untracked(),
            description.get_untracked(),
            price.get_untracked(),
            currency.get_untracked(),
            status.get_untracked(),
        );
        let mut found = check_fields(editing.as_ref(), &t, &d, &p, &c, &s);
        let (raw_limit, raw_days, stamp) = (
            download_limit.get_untracked(),
            access_days.get_untracked(),
            stamp_pdfs.get_untracked(),
        );
        // The server's own parsers: empty is no limit, access for ever.
        let limit = Delivery::parse_limit(&raw_limit)
            .map_err(|e| found.push(("download_limit".into(), e.message)))
            .unwrap_or(None);
        let days = Delivery::parse_days(&raw_days)
            .map_err(|e| found.push(("access_days".into(), e.message)))
            .unwrap_or(None);
        // Pay what you want (the price is the minimum) and a bundle's products, by the server's
        // rules: a suggested price at least the minimum, and no free bundle.
        let chooses = pwyw.get_untracked();
        let proposed = suggested.get_untracked().trim().to_owned();
        let proposed = Some(proposed).filter(|s| chooses && !s.is_empty());
        let bundle = is_bundle.get_untracked();
        let items = if bundle {
            bundle_items.get_untracked()
        } else {
            Vec::new()
        };
        if let Some(minimum) = c.parse().ok().and_then(|c| Price::parse(&p, c).ok()) {
            if let Err(e) = Selling::check(chooses, proposed.as_deref(), minimum) {
                found.push(("suggested_price".into(), e.message));
            }
            if bundle && minimum.is_free() && !chooses {
                found.push(("price".into(), shared_types::forms::FREE_BUNDLE.into()));
            }
        }
        if bundle && items.is_empty() {
            found.push((
                "bundle_items".into(),
                "pick the products the bundle contains".into(),
            ));
        }
        // A new product's first file; an existing one's files are in the Files panel.
        let file = if editing.is_none() {
            input_file(&file_ref)
        } else {
            None
        };
        let preview = input_file(&preview_ref);
        match &file {
            None if editing.is_none() && !bundle => {
                found.push(("file".into(), "choose the first file to sell".into()))
            }
            Some(f) if f.size() > limits.max_file_bytes as f64 => found.push((
                "file".into(),
                format!(
                    "the file is larger than {}",
                    limit_text(limits.max_file_bytes)
                ),
            )),
            _ => {}
        }
        if let Some(img) = &preview {
            if img.size() > limits.max_preview_bytes as f64 {
                found.push((
                    "preview".into(),
                    format!(
                        "the preview is larger than {}",
                        limit_text(limits.max_preview_bytes)
                    ),
                ));
            } else if !img.type_().starts_with("image/") {
                found.push((
                    "preview".into(),
                    "the preview must be a PNG, JPEG, WebP or SVG image".into(),
                ));
            }
        }
        errors.set(found);
        if !errors.with_untracked(Vec::is_empty) {
            return;
        }
        set_busy.set(true);
        set_progress.set(0);
        set_saved.set(None);
        let editing = editing.clone();
        let initial_items = initial_items.clone();
        leptos::task::spawn_local(async move {
            let result: Result<Product, ApiError> = async {
                match editing {
                    None => {
                        let form = FormData::new().expect("FormData exists in browsers");
                        for (k, v) in [
                            ("title", &t),
                            ("description", &d),
                            ("price", &p),
                            ("currency", &c),
                            ("status", &s),
                            ("download_limit", &raw_limit),
                            ("access_days", &raw_days),
                        ] {
                            let _ = form.append_with_str(k, v.trim());
                        }
                        let _ = form
                            .append_with_str("stamp_pdfs", if stamp { "true" } else { "false" });
                        let _ = form.append_with_str(
                            "pay_what_you_want",
                            if chooses { "true" } else { "false" },
                        );
                        if let Some(amount) = &proposed {
                            let _ = form.append_with_str("suggested_price", amount);
                        }
                        if !items.is_empty() {
                            let ids: Vec<&str> = items.iter().map(ProductId::as_str).collect();
                            let _ = form.append_with_str("bundle_items", &ids.join(","));
                        }
                        if let Some(f) = &file {
                            let _ = form.append_with_blob_and_filename("file", f, &f.name());
                        }
                        if let Some(img) = &preview {
                            let _ = form.append_with_blob_and_filename("preview", img, &img.name());
                        }
                        send_form::<Product>("POST", "/api/v1/admin/products", form, set_progress)
                            .await
                    }
                    Some(old) => {
                        let status = ProductStatus::from_db(&s);
                        let mut product: Product = api::patch(
                            &format!("/api/v1/admin/products/{}", old.id),
                            &UpdateProductRequest {
                                title: Some(t),
                                description: Some(d),
                                price: Some(p),
                                currency: c.parse().ok(),
                                status,
                                download_limit: Some(limit),
                                access_days: Some(days),
                                stamp_pdfs: Some(stamp),
                                pay_what_you_want: Some(chooses),
                                suggested_price: Some(proposed),
                                // Sent when changed: the list the edit page shows may leave
                                // out items that are not published.
                                bundle_items: (items != initial_items).then_some(items),
                            },
                        )
                        .await?;
                        if let Some(img) = &preview {
                            let form = FormData::new().expect("FormData exists in browsers");
                            let _ = form.append_with_blob_and_filename("preview", img, &img.name());
                            product = send_form::<Product>(
                                "PUT",
                                &format!("/api/v1/admin/products/{}/preview", old.id),
                                form,
                                set_progress,
                            )
                            .await?;
                        }
                        Ok(product)
                    }
                }
            }
            .await;
            set_busy.set(false);
            match result {
                Ok(product) => set_saved.set(Some(product)),
                Err(e) => show_refusal(e, errors, set_form_error),
            }
        });
    };

    let show_progress = move || busy.get() || progress.get() > 0;
    let heading = if existing.is_some() {
        "Edit product"
    } else {
        "New product"
    };
    let file_hint = format!(
        "Any kind of file (PDF, EPUB, ZIP, audio, video, images…), up to {}. Add more files once it is saved.",
        limit_text(limits.max_file_bytes)
    );
    // The edit page's Files and Buyers panels, which know whether the product stamps PDFs
    // as last saved.
    let panels = existing.as_ref().map(|p| {
        let saved_stamp = p.stamp_pdfs;
        let stamping = Signal::derive(move || {
            saved.with(|s| s.as_ref().map_or(saved_stamp, |p| p.stamp_pdfs))
        });
        let files = files::Files::new(p, stamping, limits.max_file_bytes);
        view! {
            <files::FilesPanel files=files/>
            <files::Buyers files=files/>
        }
    });
    let creating = existing.is_none();
    let this_product = existing.as_ref().map(|p| p.id.clone());
    view! {
        <div class="edit-page">
        <section class="card">
            <h1>{heading}</h1>
            {admin_nav()}
            <form class="form" on:submit=submit novalidate>
                <div class="field">
                    <label for="title">"Title"</label>
                    <input id="title" required maxlength="200" prop:value=title on:input=move |ev| set_title_value.set(event_target_value(&ev))/>
                    <FieldMessage field="title" message=message("title")/>
                </div>
                <div class="field">
                    <label for="description">"Description"</label>
                    <textarea id="description" rows="6" prop:value=description on:input=move |ev| set_description.set(event_target_value(&ev))></textarea>
                    <FieldMessage field="description" message=message("description")/>
                </div>
                <div class="field-row">
                    <div class="field">
                        <label for="price">{text(move || if pwyw.get() { "Minimum price" } else { "Price" })}</label>
                        <input id="price" inputmode="decimal" aria-describedby="price-error"
                            placeholder=move || if pwyw.get() { "0 for no minimum" } else { "0 for free" }
                            prop:value=price on:input=move |ev| set_price.set(event_target_value(&ev))/>
                        <FieldMessage field="price" message=message("price")/>
                    </div>
                    <div class="field">
                        <label for="currency">"Currency"</label>
                        <select id="currency" prop:value=currency on:change=move |ev| set_currency.set(event_target_value(&ev))>
                            {Currency::ALL.into_iter().map(|c| view! { <option value=c.code()>{c.code().to_ascii_uppercase()}</option> }).collect_view()}
                        </select>
                        <FieldMessage field="currency" message=message("currency")/>
                    </div>
                    <div class="field">
                        <label for="status">"Status"</label>
                        <select id="status" prop:value=status on:change=move |ev| set_status.set(event_target_value(&ev))>
                            <option value="published">"Published"</option>
                            <option value="draft">"Draft"</option>
                            <Show when={let e = existing.is_some(); move || e}><option value="archived">"Archived"</option></Show>
                        </select>
                    </div>
                </div>
                <fieldset class="delivery-fields pricing-fields">
                    <legend>"Pricing"</legend>
                    <label class="check">
                        <input id="pay_what_you_want" type="checkbox" aria-describedby="pwyw-hint pay_what_you_want-error"
                            prop:checked=pwyw on:change=move |ev| set_pwyw.set(event_target_checked(&ev))/>
                        "Pay what you want"
                    </label>
                    <p class="hint" id="pwyw-hint">"Buyers choose what they pay: the price is then the minimum (0 lets them pay nothing). Discount codes do not apply."</p>
                    <FieldMessage field="pay_what_you_want" message=message("pay_what_you_want")/>
                    {when(move || pwyw.get(), move || view! {
                        <div class="field">
                            <label for="suggested_price">"Suggested price"</label>
                            <input id="suggested_price" inputmode="decimal" placeholder="The minimum" aria-describedby="suggested_price-hint suggested_price-error"
                                prop:value=suggested on:input=move |ev| set_suggested.set(event_target_value(&ev))/>
                            <p class="hint" id="suggested_price-hint">"What the product page proposes; at least the minimum."</p>
                            <FieldMessage field="suggested_price" message=message("suggested_price")/>
                        </div>
                    }.into_any())}
                </fieldset>
                <fieldset class="delivery-fields">
                    <legend>"Delivery"</legend>
                    <div class="field-row">
                        <div class="field">
                            <label for="download_limit">"Downloads per file"</label>
                            <input id="download_limit" inputmode="numeric" placeholder="No limit" aria-describedby="download_limit-error"
                                prop:value=download_limit on:input=move |ev| set_download_limit.set(event_target_value(&ev))/>
                            <FieldMessage field="download_limit" message=message("download_limit")/>
                        </div>
                        <div class="field">
                            <label for="access_days">"Access (days)"</label>
                            <input id="access_days" inputmode="numeric" placeholder="For ever" aria-describedby="access_days-error"
                                prop:value=access_days on:input=move |ev| set_access_days.set(event_target_value(&ev))/>
                            <FieldMessage field="access_days" message=message("access_days")/>
                        </div>
                    </div>
                    <p class="hint">"Each buyer may download each file this many times; access starts at purchase (for free items, at the first download). Empty: no limit, access for ever."</p>
                    <label class="check">
                        <input id="stamp_pdfs" type="checkbox" prop:checked=stamp_pdfs on:change=move |ev| set_stamp_pdfs.set(event_target_checked(&ev))/>
                        "Stamp PDFs with the buyer’s email and order"
                    </label>
                    <FieldMessage field="stamp_pdfs" message=message("stamp_pdfs")/>
                </fieldset>
                <fieldset class="delivery-fields bundle-fields">
                    <legend>"Bundle"</legend>
                    <label class="check">
                        <input id="is_bundle" type="checkbox" aria-describedby="bundle-hint"
                            prop:checked=is_bundle on:change=move |ev| set_is_bundle.set(event_target_checked(&ev))/>
                        "This is a bundle of other products"
                    </label>
                    <p class="hint" id="bundle-hint">"Buying it grants each product picked here. A bundle cannot contain another bundle, and it cannot be free."</p>
                    {when(move || is_bundle.get(), move || view! {
                        <ProductPicker selected=bundle_items field="bundle_items" legend="Products in the bundle"
                            exclude=this_product.clone() no_bundles=true/>
                    }.into_any())}
                    <FieldMessage field="bundle_items" message=message("bundle_items")/>
                </fieldset>
                <Show when=move || creating>
                    <div class="field">
                        <label for="file">"File"</label>
                        <input id="file" type="file" node_ref=file_ref/>
                        <p class="hint">{file_hint.clone()}</p>
                        {when(move || is_bundle.get(), || view! {
                            <p class="hint" id="bundle-file-hint">"Optional for a bundle: buyers get its products."</p>
                        }.into_any())}
                        <FieldMessage field="file" message=message("file")/>
                    </div>
                </Show>
                <div class="field">
                    <label for="preview">"Preview image"</label>
                    <input id="preview" type="file" accept="image/png,image/jpeg,image/webp,image/svg+xml" node_ref=preview_ref/>
                    <p class="hint">{format!("PNG, JPEG, WebP or SVG, up to {}.", limit_text(limits.max_preview_bytes))}</p>
                    <FieldMessage field="preview" message=message("preview")/>
                </div>
                <Show when=show_progress>
                    <div class="progress">
                        <progress id="upload-progress" max="100" prop:value=move || progress.get()></progress>
                        <span id="upload-percent">{move || format!("{}%", progress.get())}</span>
                    </div>
                </Show>
                {form_error_slot(form_error)}
                {move || saved.get().map(|p| view! {
                    <div class="notice saved" role="status" id="saved">
                        {format!("Saved “{}”. ", p.title)}
                        <a href=format!("/products/{}", p.slug) id="view-product">"View it in the shop"</a>
                        {creating.then(|| view! {
                            " · "<a href=format!("/admin/products/{}/edit", p.id) id="edit-saved">"Add files and see buyers"</a>
                        })}
                    </div>
                })}
                <button id="submit" class="button primary" type="submit" disabled=busy>
                    {move || if busy.get() { "Uploading…" } else { "Save product" }}
                </button>
            </form>
        </section>
        {panels}
        </div>
    }
}

#[component]
pub fn Orders() -> impl IntoView {
    set_title("Admin · Orders");
    view! { <RequireAdmin><OrderTable/></RequireAdmin> }
}

#[component]
fn OrderTable() -> impl IntoView {
    let (filter, set_filter) = signal(String::new());
    let orders = api::resource(move || {
        let f = filter.get();
        if f.is_empty() {
            "/api/v1/admin/orders?limit=100".to_owned()
        } else {
            format!("/api/v1/admin/orders?limit=100&status={f}")
        }
    });
    let (error, set_error) = signal(None::<ApiError>);
    let refund = move |o: Order| {
        let ok = web_sys::window()
            .and_then(|w| {
                w.confirm_with_message(&format!(
                    "Refund {} to {}? Their access ends at once.",
                    o.amount.display,
                    o.buyer_email.clone().unwrap_or_default()
                ))
                .ok()
            })
            .unwrap_or(false);
        if !ok {
            return;
        }
        leptos::task::spawn_local(async move {
            match api::post_empty::<Order>(&format!("/api/v1/admin/orders/{}/refund", o.id)).await {
                Ok(_) => {
                    set_error.set(None);
                    orders.refetch();
                }
                Err(e) => set_error.set(Some(e)),
            }
        });
    };
    view! {
        <section>
            <h1>"Orders"</h1>
            {admin_nav()}
            <div class="list-tools">
                <div class="field inline">
                    <label for="order-filter">"Status"</label>
                    <select id="order-filter" on:change=move |ev| set_filter.set(event_target_value(&ev))>
                        <option value="">"All"</option>
                        {["pending", "paid", "refunded", "disputed", "failed", "expired"].map(|s| view! { <option value=s>{s}</option> }).collect_view()}
                    </select>
                </div>
                {export_button("export-orders", move || {
                    let f = filter.get_untracked();
                    if f.is_empty() {
                        "/api/v1/admin/orders.csv".to_owned()
                    } else {
                        format!("/api/v1/admin/orders.csv?status={}", encode(&f))
                    }
                }, "orders.csv")}
            </div>
            {error_slot(error)}
            {dynamic(move || match api::parsed::<OrderPage>(orders.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(page)) if page.items.is_empty() => view! { <p class="empty">"No orders."</p> }.into_any(),
                Some(Ok(page)) => view! {
                    <div class="table-wrap">
                    <table class="table">
                        <thead><tr><th>"Item"</th><th>"Buyer"</th><th>"Amount"</th><th>"Status"</th><th>"Date"</th><th><span class="visually-hidden">"Actions"</span></th></tr></thead>
                        <tbody>
                            {page.items.into_iter().map(|o| {
                                let paid = o.status == shared_types::OrderStatus::Paid;
                                let for_refund = o.clone();
                                view! {
                                    <tr class="admin-order" data-order=o.id.to_string()>
                                        <td class="cell-title">{o.product.title.clone()}</td>
                                        <td data-label="Buyer" class="cell-email">{o.buyer_email.clone().unwrap_or_default()}</td>
                                        <td data-label="Amount"><span class="amount-stack"><span>{o.amount.display.clone()}</span>{o.discount.as_ref().map(|d| view! {
                                            <span class="row-note order-discount">{format!("{}: −{}", d.code, d.amount.display)}</span>
                                        })}</span></td>
                                        <td data-label="Status"><span class=format!("status status-{}", o.status.as_str())>{o.status.as_str()}</span></td>
                                        <td data-label="Date">{date(&o.created_at)}</td>
                                        <td class="row-actions">
                                            // Refund first: the receipt's note ends the cell.
                                            {paid.then(|| view! {
                                                <button class="button small danger refund" on:click={
                                                    let o = for_refund.clone();
                                                    move |_| refund(o.clone())
                                                }>"Refund"</button>
                                                <ResendReceipt path=format!("/api/v1/admin/orders/{}/receipt", o.id)/>
                                            })}
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any(),
            })}
        </section>
    }
}

/// A secret shown once (an API key's, a webhook endpoint's): what it is, and the secret.
#[derive(Clone)]
struct Secret {
    what: String,
    value: String,
}

/// The secret just made, while there is one: in a read-only field to copy, with the warning
/// that it will not be shown again. It lives in this page's memory only.
fn secret_once(secret: RwSignal<Option<Secret>>) -> impl IntoView {
    let (copied, set_copied) = signal(None::<&'static str>);
    dynamic(move || match secret.get() {
        None => ().into_any(),
        Some(s) => {
            set_copied.set(None);
            let value = s.value.clone();
            let copy = move |_| {
                let value = value.clone();
                leptos::task::spawn_local(async move {
                    set_copied.set(Some(if copy_text(&value).await {
                        "Copied."
                    } else {
                        "Select the secret and copy it."
                    }));
                });
            };
            view! {
                <div class="notice secret-once" role="status" id="new-secret">
                    <p>{s.what}</p>
                    <label for="secret-value">"Secret"</label>
                    <div class="inline-form">
                        <input id="secret-value" readonly prop:value=s.value autocomplete="off" spellcheck="false"
                            aria-describedby="secret-warning"
                            on:focus=|ev| {
                                if let Some(input) = ev.target().and_then(|t| t.dyn_into::<HtmlInputElement>().ok()) {
                                    input.select();
                                }
                            }/>
                        <button type="button" id="copy-secret" class="button small" on:click=copy>"Copy"</button>
                    </div>
                    <p class="secret-warning" id="secret-warning">"Copy it now and keep it somewhere safe: it will not be shown again."</p>
                    {dynamic(move || match copied.get() {
                        Some(m) => view! { <p class="hint" id="copy-result">{m}</p> }.into_any(),
                        None => ().into_any(),
                    })}
                    <div><button type="button" id="dismiss-secret" class="button small secondary" on:click=move |_| secret.set(None)>"I have copied it"</button></div>
                </div>
            }
            .into_any()
        }
    })
}

/// Puts `text` on the clipboard (through `navigator.clipboard`, looked up by name: the typed
/// binding needs web-sys features of its own); false when the browser refuses.
async fn copy_text(text: &str) -> bool {
    let navigator = window().navigator();
    let Ok(clipboard) = js_sys::Reflect::get(&navigator, &"clipboard".into()) else {
        return false;
    };
    let Some(write) = js_sys::Reflect::get(&clipboard, &"writeText".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
    else {
        return false;
    };
    let Ok(promise) = write.call1(&clipboard, &text.into()) else {
        return false;
    };
    wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(promise))
        .await
        .is_ok()
}

/// An "Export CSV" button: downloads what `path()` answers as `name`.
fn export_button(
    id: &'static str,
    path: impl Fn() -> String + Copy + Send + 'static,
    name: &'static str,
) -> impl IntoView {
    let (busy, set_busy) = signal(false);
    let (error, set_error) = signal(None::<String>);
    let export = move |_| {
        set_busy.set(true);
        set_error.set(None);
        leptos::task::spawn_local(async move {
            if let Err(e) = download(&path(), name).await {
                set_error.set(Some(e.message));
            }
            set_busy.set(false);
        });
    };
    view! {
        <span class="export">
            <button type="button" id=id class="button small secondary" disabled=move || busy.get() on:click=export>
                {text(move || if busy.get() { "Exporting…" } else { "Export CSV" })}
            </button>
            {dynamic(move || match error.get() {
                Some(m) => view! { <span class="export-error" role="alert">{m}</span> }.into_any(),
                None => ().into_any(),
            })}
        </span>
    }
}

/// Saves the answer to a GET of `path` as the file `name`. The export needs the bearer token,
/// which a plain link cannot send: the answer is fetched into a Blob, given an object URL,
/// clicked as a temporary `<a download>`, and the URL revoked once the browser has it.
async fn download(path: &str, name: &str) -> Result<(), ApiError> {
    use wasm_bindgen_futures::JsFuture;
    let failed = |_| ApiError {
        status: 0,
        code: "network".into(),
        message: "Could not reach the server. Check your connection and try again.".into(),
        fields: Vec::new(),
    };
    let mut refreshed = false;
    let res = loop {
        let token = api::access_token();
        let init = web_sys::RequestInit::new();
        init.set_method("GET");
        init.set_credentials(web_sys::RequestCredentials::SameOrigin);
        let headers = web_sys::Headers::new().map_err(failed)?;
        if let Some(t) = &token {
            headers
                .set("Authorization", &format!("Bearer {t}"))
                .map_err(failed)?;
        }
        init.set_headers(&headers);
        let res: web_sys::Response = JsFuture::from(window().fetch_with_str_and_init(path, &init))
            .await
            .map_err(failed)?
            .unchecked_into();
        if res.status() == 401
            && !refreshed
            && token.is_some()
            && api::refresh_session(api::session()).await
        {
            refreshed = true;
            continue;
        }
        break res;
    };
    if !res.ok() {
        let text = JsFuture::from(res.text().map_err(failed)?)
            .await
            .map_err(failed)?
            .as_string()
            .unwrap_or_default();
        return Err(ApiError::from_problem_text(res.status(), &text));
    }
    let blob: web_sys::Blob = JsFuture::from(res.blob().map_err(failed)?)
        .await
        .map_err(failed)?
        .unchecked_into();
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(failed)?;
    let link = document().create_element("a").map_err(failed)?;
    let _ = link.set_attribute("href", &url);
    let _ = link.set_attribute("download", name);
    let _ = link.set_attribute("hidden", "");
    if let Some(body) = document().body() {
        let _ = body.append_child(&link);
    }
    link.unchecked_ref::<web_sys::HtmlElement>().click();
    link.remove();
    set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        },
        std::time::Duration::from_secs(10),
    );
    Ok(())
}
