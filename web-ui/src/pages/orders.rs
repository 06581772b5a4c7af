//! The signed-in user's orders (with the discount, tax and total each had, and its invoice),
//! their receipts mailed again on request.

use leptos::prelude::*;
use shared_types::{Order, OrderPage, OrderStatus};

use crate::api;
use crate::components::{
    date, dynamic, set_title, ErrorBox, Loading, RequireSignIn, ResendReceipt,
};

#[component]
pub fn MyOrders() -> impl IntoView {
    set_title("Orders");
    view! { <RequireSignIn><OrderList/></RequireSignIn> }
}

/// "SAVE25: −$2.50", under the amount of an order a code took something off.
fn discount_note(o: &Order) -> Option<impl IntoView> {
    o.discount.as_ref().map(|d| {
        view! { <span class="row-note order-discount">{format!("{}: −{} off {}", d.code, d.amount.display, o.list_price.display)}</span> }
    })
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
                Some(Ok(page)) => {
                    // Tax and total columns only when some order has them (tax on).
                    let taxed = page.items.iter().any(|o| o.tax.is_some() || o.total.is_some());
                    view! {
                    <table class="table">
                        <thead><tr>
                            <th>"Item"</th><th>{if taxed { "Subtotal" } else { "Amount" }}</th>
                            {taxed.then(|| view! { <th>"Tax"</th><th>"Total"</th> })}
                            <th>"Status"</th><th>"Date"</th><th><span class="visually-hidden">"Actions"</span></th>
                        </tr></thead>
                        <tbody>
                            {page.items.into_iter().map(|o| {
                                let receipt = (o.status == OrderStatus::Paid).then(|| view! {
                                    <ResendReceipt path=format!("/api/v1/orders/{}/receipt", o.id)/>
                                });
                                let invoice = o.invoice_url.clone().map(|url| view! {
                                    <a href=url class="button small secondary invoice-link" target="_blank" rel="noopener">
                                        "Invoice"<span class="visually-hidden">{format!(" for {} (opens in a new tab)", o.product.title)}</span>
                                    </a>
                                });
                                let taxes = taxed.then(|| {
                                    let tax = o.tax.as_ref().map(|m| m.display.clone());
                                    let total = o.total.as_ref().map(|m| m.display.clone());
                                    let labels = (tax.is_some().then_some("Tax"), total.is_some().then_some("Total"));
                                    view! {
                                        <td data-label=labels.0 class="cell-opt order-tax">{tax}</td>
                                        <td data-label=labels.1 class="cell-opt order-total">{total}</td>
                                    }
                                });
                                view! {
                                    <tr class="order-row" data-order=o.id.to_string()>
                                        <td class="cell-title"><a href=format!("/products/{}", o.product.slug)>{o.product.title.clone()}</a></td>
                                        <td data-label=if taxed { "Subtotal" } else { "Amount" } class="order-amount">
                                            <span class="amount-stack"><span>{o.amount.display.clone()}</span>{discount_note(&o)}</span>
                                        </td>
                                        {taxes}
                                        <td data-label="Status"><span class=format!("status status-{}", o.status.as_str())>{o.status.as_str()}</span></td>
                                        <td data-label="Date">{date(&o.created_at)}</td>
                                        <td class="row-actions">{invoice}{receipt}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    }.into_any()
                }
            })}
        </section>
    }
}
