//! The signed-in user's orders, with their receipts mailed again on request.

use leptos::prelude::*;
use shared_types::{OrderPage, OrderStatus};

use crate::api;
use crate::components::{
    date, dynamic, set_title, ErrorBox, Loading, RequireSignIn, ResendReceipt,
};

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
                        <thead><tr><th>"Item"</th><th>"Amount"</th><th>"Status"</th><th>"Date"</th><th><span class="visually-hidden">"Actions"</span></th></tr></thead>
                        <tbody>
                            {page.items.into_iter().map(|o| {
                                let receipt = (o.status == OrderStatus::Paid).then(|| view! {
                                    <ResendReceipt path=format!("/api/v1/orders/{}/receipt", o.id)/>
                                });
                                view! {
                                    <tr class="order-row" data-order=o.id.to_string()>
                                        <td class="cell-title"><a href=format!("/products/{}", o.product.slug)>{o.product.title}</a></td>
                                        <td data-label="Amount">{o.amount.display}</td>
                                        <td data-label="Status"><span class=format!("status status-{}", o.status.as_str())>{o.status.as_str()}</span></td>
                                        <td data-label="Date">{date(&o.created_at)}</td>
                                        <td class="row-actions">{receipt}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            })}
        </section>
    }
}
