//! The catalog: cards with preview, title and price; search; load more.

use leptos::prelude::*;
use leptos_router::components::A;
use shared_types::{Product, ProductPage};

use crate::api::{self, ApiError};
use crate::components::{error_slot, set_title, Loading, Preview, PriceTag};

const PAGE: usize = 12;

fn query_path(q: &str, cursor: Option<&str>) -> String {
    let mut path = format!("/api/v1/products?limit={PAGE}");
    if !q.is_empty() {
        path.push_str("&q=");
        path.push_str(&String::from(js_sys::encode_uri_component(q)));
    }
    if let Some(c) = cursor {
        path.push_str("&cursor=");
        path.push_str(c);
    }
    path
}

#[component]
pub fn Catalog() -> impl IntoView {
    set_title("Catalog");
    let session = api::session();
    let (query, set_query) = signal(String::new());
    let (items, set_items) = signal(Vec::<Product>::new());
    let (next, set_next) = signal(None::<String>);
    let (error, set_error) = signal(None::<ApiError>);
    let (loading, set_loading) = signal(true);

    let load = move |reset: bool| {
        let q = query.get_untracked();
        let cursor = if reset { None } else { next.get_untracked() };
        set_loading.set(true);
        leptos::task::spawn_local(async move {
            match api::get::<ProductPage>(&query_path(&q, cursor.as_deref())).await {
                Ok(page) => {
                    set_error.set(None);
                    if reset {
                        set_items.set(page.items);
                    } else {
                        set_items.update(|list| list.extend(page.items));
                    }
                    set_next.set(page.next_cursor);
                }
                Err(e) => set_error.set(Some(e)),
            }
            set_loading.set(false);
        });
    };
    // Load again when the session settles (the `owned` flags depend on it).
    Effect::new(move |_| {
        if session.ready.get() {
            session.user.track();
            load(true);
        }
    });
    let search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        load(true);
    };

    view! {
        <section class="catalog">
            <div class="catalog-head">
                <h1>"Catalog"</h1>
                <form class="search" role="search" on:submit=search>
                    <label for="search" class="visually-hidden">"Search the catalog"</label>
                    <input id="search" type="search" placeholder="Search titles and descriptions"
                        prop:value=query on:input=move |ev| set_query.set(event_target_value(&ev))/>
                    <button class="button" type="submit">"Search"</button>
                </form>
            </div>
            {error_slot(error)}
            <ul class="product-grid">
                <For each=move || items.get() key=|p| (p.id.clone(), p.owned) let:product>
                    <li class="product-card">
                        <A href=format!("/products/{}", product.slug) attr:class="product-link">
                            <Preview product=product.clone()/>
                            <div class="card-body">
                                <h2 class="card-title">{product.title.clone()}</h2>
                                <PriceTag product=product.clone()/>
                            </div>
                        </A>
                    </li>
                </For>
            </ul>
            <Show when=move || loading.get()><Loading/></Show>
            <Show when=move || !loading.get() && items.with(Vec::is_empty) && error.get().is_none()>
                <p class="empty">{move || if query.with(String::is_empty) { "Nothing for sale yet." } else { "Nothing matches that search." }}</p>
            </Show>
            <Show when=move || next.with(Option::is_some) && !loading.get()>
                <button id="load-more" class="button secondary" on:click=move |_| load(false)>"Load more"</button>
            </Show>
        </section>
    }
}
