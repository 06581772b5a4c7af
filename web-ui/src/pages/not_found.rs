use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    crate::components::set_title("Not found");
    view! {
        <section class="narrow">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. "<a href="/">"Back to the catalog"</a></p>
        </section>
    }
}
