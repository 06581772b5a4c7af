//! The dev mailbox: the mail a server without SMTP settings (development) kept instead of
//! sending it. `/admin/mailbox` lists it, newest first; `/admin/mailbox/{id}` shows one
//! message's text with its links as links, so a developer can follow a sign-in or reset link.
//! The admin's navigation links here only when `GET /api/v1/config` says mail is kept here; the
//! API answers 404 otherwise, and the page says why.

use leptos::prelude::*;
use shared_types::MailboxMessage;

use super::{admin_nav, encode, RequireAdmin};
use crate::api::{self, ApiError};
use crate::components::{date_time, dynamic, set_title, ErrorBox, Loading};
use crate::router;

const MAILBOX: &str = "/api/v1/admin/mailbox";

/// The answer when mail goes to an SMTP server: there is nothing to show.
fn no_mailbox(e: &ApiError) -> bool {
    e.status == 404
}

fn no_mailbox_text() -> impl IntoView {
    view! { <p class="empty" id="no-mailbox">"This server sends its mail through SMTP (FOLIO_SMTP_URL): there is no dev mailbox to read."</p> }
}

#[component]
pub fn Mailbox() -> impl IntoView {
    set_title("Admin · Mailbox");
    view! { <RequireAdmin><MailList/></RequireAdmin> }
}

#[component]
fn MailList() -> impl IntoView {
    let messages = api::resource(|| MAILBOX.to_owned());
    view! {
        <section>
            <h1>"Mailbox"</h1>
            {admin_nav()}
            <div class="list-tools">
                <p class="hint">"Mail this server kept instead of sending it, as no SMTP server is configured. Newest first."</p>
                <button id="refresh-mail" class="button small secondary" on:click=move |_| messages.refetch()>"Refresh"</button>
            </div>
            {dynamic(move || match api::parsed::<Vec<MailboxMessage>>(messages.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) if no_mailbox(&e) => no_mailbox_text().into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="empty">"No mail yet."</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <div class="table-wrap">
                    <table class="table">
                        <thead><tr><th>"Subject"</th><th>"To"</th><th>"Date"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|m| view! {
                                <tr class="mail-row" data-id=m.id.clone()>
                                    <td class="cell-title"><a href=format!("/admin/mailbox/{}", encode(&m.id))>{m.subject}</a></td>
                                    <td data-label="To" class="cell-email">{m.to}</td>
                                    <td data-label="Date">{date_time(&m.date)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any(),
            })}
        </section>
    }
}

#[component]
pub fn Message() -> impl IntoView {
    set_title("Admin · Mail");
    view! { <RequireAdmin><MessageView/></RequireAdmin> }
}

#[component]
fn MessageView() -> impl IntoView {
    let id = router::param("/admin/mailbox/", "");
    // The list has every message whole: the one asked for is found in it.
    let messages = api::resource(|| MAILBOX.to_owned());
    dynamic(
        move || match api::parsed::<Vec<MailboxMessage>>(messages.get()) {
            None => view! { <Loading/> }.into_any(),
            Some(Err(e)) if no_mailbox(&e) => view! {
                <section><h1>"Mailbox"</h1>{admin_nav()}{no_mailbox_text()}</section>
            }
            .into_any(),
            Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
            Some(Ok(list)) => {
                let wanted = id.get();
                match list.into_iter().find(|m| m.id == wanted) {
                None => view! {
                    <section>
                        <h1>"No such message"</h1>
                        {admin_nav()}
                        <p>"It may have been replaced by a newer copy. "<a href="/admin/mailbox">"Back to the mailbox"</a></p>
                    </section>
                }
                .into_any(),
                Some(m) => {
                    set_title(&format!("Admin · {}", m.subject));
                    view! {
                        <section class="mail">
                            <h1>{m.subject.clone()}</h1>
                            {admin_nav()}
                            <dl class="mail-head">
                                <dt>"To"</dt><dd id="mail-to">{m.to.clone()}</dd>
                                <dt>"Date"</dt><dd>{date_time(&m.date)}</dd>
                            </dl>
                            <pre class="mail-text" id="mail-text">{linked_text(&m.text)}</pre>
                            <p><a href="/admin/mailbox" id="back-to-mailbox">"Back to the mailbox"</a></p>
                        </section>
                    }
                    .into_any()
                }
            }
            }
        },
    )
}

/// A message's text with its http(s) URLs as links (nothing else becomes markup).
fn linked_text(text: &str) -> impl IntoView {
    pieces(text)
        .into_iter()
        .map(|(piece, is_link)| {
            if is_link {
                view! { <a href=piece.to_owned() class="mail-link">{piece.to_owned()}</a> }
                    .into_any()
            } else {
                piece.to_owned().into_any()
            }
        })
        .collect_view()
}

/// `text` cut into plain pieces and URLs (`true`): an `http://` or `https://` up to the next
/// space or angle bracket, without the punctuation that ends a sentence.
fn pieces(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = ["https://", "http://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
            .unwrap_or(tail.len());
        let url = tail[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'']);
        if !rest[..start].is_empty() {
            out.push((&rest[..start], false));
        }
        out.push((url, true));
        rest = &tail[url.len()..];
    }
    if !rest.is_empty() {
        out.push((rest, false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::pieces;

    #[test]
    fn links_in_a_message_are_its_http_urls_without_the_sentence_around_them() {
        let text = "Sign in: http://127.0.0.1:8080/signin/link#token=a-b_c.\nOr visit <https://folio.example/library>, thanks.";
        assert_eq!(
            pieces(text),
            vec![
                ("Sign in: ", false),
                ("http://127.0.0.1:8080/signin/link#token=a-b_c", true),
                (".\nOr visit <", false),
                ("https://folio.example/library", true),
                (">, thanks.", false),
            ]
        );
        assert_eq!(pieces("no links"), vec![("no links", false)]);
        assert_eq!(
            pieces("javascript:alert(1) ftp://x"),
            vec![("javascript:alert(1) ftp://x", false)]
        );
    }
}
