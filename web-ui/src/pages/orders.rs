//! The signed-in user's orders.

use leptos::prelude::*;
use leptos_router::components::A;
use shared_types::OrderPage;

use crate::api;
use crate::components::{date, dynamic, set_title, ErrorBox, Loading};
use crate::pages::library::RequireSignIn;

#[component]
pub fn MyOrders() -> impl IntoView {
    set_title("Orders");
    view! { <RequireSignIn><OrderList/></RequireSignIn> }
}

#[component]
fn OrderList() -> impl IntoView {
    let orders = api::resource(|| "/api/v1/orders?limit=100".to_owned());
    view! {
        <section>
            <h1>"Your orders"</h1>
            {dynamic(move || match api::parsed::<OrderPage>(orders.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(page)) if page.items.is_empty() => view! { <p class="empty">"No orders yet."</p> }.into_any(),
                Some(Ok(page)) => view! {
                    <table class="table">
                        <thead><tr><th>"Date"</th><th>"Item"</th><th>"Amount"</th><th>"Status"</th></tr></thead>
                        <tbody>
                            {page.items.into_iter().map(|o| view! {
                                <tr class="order-row">
                                    <td>{date(&o.created_at)}</td>
                                    <td><A href=format!("/products/{}", o.product.slug)>{o.product.title}</A></td>
                                    <td>{o.amount.display}</td>
                                    <td><span class=format!("status status-{}", o.status.as_str())>{o.status.as_str()}</span></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            })}
        </section>
    }
}
