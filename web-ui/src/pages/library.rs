//! What the signed-in user owns, with download buttons.

use leptos::prelude::*;
use shared_types::Product;

use crate::api;
use crate::components::{
    dynamic, set_title, DownloadButton, ErrorBox, Loading, Preview, RequireSignIn,
};

#[component]
pub fn Library() -> impl IntoView {
    set_title("Library");
    view! { <RequireSignIn><LibraryList/></RequireSignIn> }
}

#[component]
fn LibraryList() -> impl IntoView {
    let items = api::resource(|| "/api/v1/library".to_owned());
    view! {
        <section>
            <h1>"Your library"</h1>
            {dynamic(move || match api::parsed::<Vec<Product>>(items.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! {
                    <p class="empty">"Nothing here yet. "<a href="/">"Browse the catalog"</a></p>
                }.into_any(),
                Some(Ok(list)) => view! {
                    <ul class="library">
                        {list.into_iter().map(|p| view! {
                            <li class="library-item">
                                <Preview product=p.clone()/>
                                <div class="library-body">
                                    <h2><a href=format!("/products/{}", p.slug)>{p.title.clone()}</a></h2>
                                    <p class="file-info">{p.file.name.clone()}</p>
                                </div>
                                <DownloadButton slug=p.slug.clone()/>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            })}
        </section>
    }
}
