//! The catalog: cards with preview, title and price (and a bundle's size); search; load more.

use leptos::prelude::*;
use shared_types::{Product, ProductPage};

use crate::api::{self, ApiError};
use crate::components::{dynamic, error_slot, set_title, when, Loading, Preview, PriceTag};
use crate::router;

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

/// The list as last shown, so Back and Forward to the catalog show it at once (every page
/// loaded, and the scroll position with it) instead of loading the first page again.
struct Shown {
    href: String,
    user: Option<shared_types::UserId>,
    items: Vec<Product>,
    next: Option<String>,
}

thread_local! {
    static SHOWN: std::cell::RefCell<Option<Shown>> = const { std::cell::RefCell::new(None) };
}

#[component]
pub fn Catalog() -> impl IntoView {
    set_title("Catalog");
    let session = api::session();
    // The search is part of the address (`/?q=…`): a reload, a shared link and Back keep it.
    let q = router::query_memo("q");
    let (query, set_query) = signal(q.get_untracked().unwrap_or_default());
    let (items, set_items) = signal(Vec::<Product>::new());
    let (next, set_next) = signal(None::<String>);
    let (error, set_error) = signal(None::<ApiError>);
    let (loading, set_loading) = signal(true);
    // Only the answer to the latest request is shown.
    let latest = StoredValue::new(0u32);
    let user = move || {
        session
            .user
            .with_untracked(|u| u.as_ref().map(|s| s.profile.id.clone()))
    };

    let load = move |reset: bool| {
        let q = q.get_untracked().unwrap_or_default();
        let cursor = if reset { None } else { next.get_untracked() };
        let ticket = latest.get_value().wrapping_add(1);
        latest.set_value(ticket);
        set_loading.set(true);
        leptos::task::spawn_local(async move {
            let answer = api::get::<ProductPage>(&query_path(&q, cursor.as_deref())).await;
            if latest.get_value() != ticket {
                return;
            }
            match answer {
                Ok(page) => {
                    set_error.set(None);
                    if reset {
                        set_items.set(page.items);
                    } else {
                        set_items.update(|list| list.extend(page.items));
                    }
                    set_next.set(page.next_cursor);
                    SHOWN.with(|s| {
                        *s.borrow_mut() = Some(Shown {
                            href: router::location().with_untracked(router::Loc::href),
                            user: user(),
                            items: items.get_untracked(),
                            next: next.get_untracked(),
                        })
                    });
                }
                Err(e) => set_error.set(Some(e)),
            }
            set_loading.set(false);
        });
    };
    // Load when the session settles (the `owned` flags depend on it) and when the search in the
    // address changes; on Back or Forward, show the list as it was if nothing else changed.
    Effect::new(move |first: Option<()>| {
        let q = q.get();
        if !session.ready.get() {
            return;
        }
        session.user.track();
        set_query.set(q.unwrap_or_default());
        if first.is_none() && router::popped() {
            let here = router::location().with_untracked(router::Loc::href);
            let kept = SHOWN.with(|s| {
                s.borrow()
                    .as_ref()
                    .filter(|shown| shown.href == here && shown.user == user())
                    .map(|shown| (shown.items.clone(), shown.next.clone()))
            });
            if let Some((list, cursor)) = kept {
                set_items.set(list);
                set_next.set(cursor);
                set_loading.set(false);
                return;
            }
        }
        load(true);
    });
    let search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = query.get_untracked();
        let text = text.trim();
        let target = if text.is_empty() {
            "/".to_owned()
        } else {
            format!("/?q={}", String::from(js_sys::encode_uri_component(text)))
        };
        if router::location().with_untracked(router::Loc::href) == target {
            load(true);
        } else {
            router::navigate(&target, false);
        }
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
                // The whole list again on each change: a page is a dozen cards, and keyed
                // diffing (`<For>`) costs more wasm than it saves time.
                {dynamic(move || items.get().into_iter().map(|product| view! {
                    <li class="product-card">
                        <a href=format!("/products/{}", product.slug) class="product-link">
                            <Preview product=product.clone()/>
                            <div class="card-body">
                                <h2 class="card-title">{product.title.clone()}</h2>
                                <PriceTag product=product.clone()/>
                                // Always there (empty, and hidden, for other products): one view type.
                                <span class="bundle-badge">{match product.bundle_items.len() { 0 => String::new(), n => format!("Bundle of {n}") }}</span>
                            </div>
                        </a>
                    </li>
                }).collect_view().into_any())}
            </ul>
            {when(move || loading.get(), || view! { <Loading/> }.into_any())}
            {when(
                move || !loading.get() && items.with(Vec::is_empty) && error.with(Option::is_none),
                move || {
                    let searched = q.with(|q| q.as_deref().is_some_and(|q| !q.is_empty()));
                    let text = if searched { "Nothing matches that search." } else { "Nothing for sale yet." };
                    view! { <p class="empty">{text}</p> }.into_any()
                },
            )}
            {when(
                move || next.with(Option::is_some) && !loading.get(),
                move || view! { <button id="load-more" class="button secondary" on:click=move |_| load(false)>"Load more"</button> }.into_any(),
            )}
        </section>
    }
}
