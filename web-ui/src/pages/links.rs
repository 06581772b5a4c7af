//! The pages of mailed links: `/signin/link#token=…` (sign in without a password) and
//! `/reset-password#token=…` (choose a new password). Neither spends its token on opening: mail
//! scanners open links, so the page waits for the reader's button. Opened without a token (the
//! sign-in page links to both), or with one the server refuses, each asks for a new link.
//!
//! The token arrives in the fragment, which browsers send to no server. The page moves it to
//! this tab's sessionStorage and takes it out of the address at once (`history.replaceState`),
//! so no history entry keeps it, while a reload of the page still finds it. It is forgotten
//! once spent, or once the server says it cannot be.

use leptos::prelude::*;
use shared_types::{
    AcceptedResponse, EmailRequest, Password, RedeemRequest, ResetPasswordRequest, TokenResponse,
};

use super::auth::{remember_email, typed_email};
use crate::api::{self, ApiError};
use crate::components::{dynamic, form_error_slot, set_title, text, FieldMessage};
use crate::router;

/// What a mailed link is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LinkPurpose {
    SignIn,
    PasswordReset,
}

/// An address field and a button that has the server mail a link to that address's account,
/// then shows the server's answer: the same whether the account exists or not, or why it
/// refused (not an address, asked too often).
#[component]
fn LinkRequest(purpose: LinkPurpose) -> impl IntoView {
    let (email, set_email) = signal(typed_email());
    let (email_error, set_email_error) = signal(None::<String>);
    let (form_error, set_form_error) = signal(None::<String>);
    let (sent, set_sent) = signal(None::<String>);
    let (busy, set_busy) = signal(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_busy.set(true);
        set_sent.set(None);
        let path = match purpose {
            LinkPurpose::SignIn => "/api/v1/auth/email-link",
            LinkPurpose::PasswordReset => "/api/v1/auth/password-reset",
        };
        let body = EmailRequest {
            email: email.get_untracked(),
        };
        leptos::task::spawn_local(async move {
            let answer = api::post_public::<_, AcceptedResponse>(path, &body).await;
            set_busy.set(false);
            match answer {
                Ok(accepted) => {
                    set_email_error.set(None);
                    set_form_error.set(None);
                    set_sent.set(Some(accepted.message));
                }
                Err(e) => {
                    set_email_error.set(e.field("email"));
                    set_form_error.set(e.fields.is_empty().then_some(e.message));
                }
            }
        });
    };
    let button = match purpose {
        LinkPurpose::SignIn => "Email me a sign-in link",
        LinkPurpose::PasswordReset => "Email me a reset link",
    };
    view! {
        <form class="form link-request" on:submit=submit novalidate>
            <div class="field">
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="email" required
                    aria-describedby="email-error"
                    prop:value=email on:input=move |ev| {
                        let v = event_target_value(&ev);
                        remember_email(&v);
                        set_email.set(v);
                    }/>
                <FieldMessage field="email" message=email_error.into()/>
            </div>
            {form_error_slot(form_error)}
            {dynamic(move || match sent.get() {
                Some(m) => view! { <div class="notice sent" role="status" id="link-sent">{m}</div> }.into_any(),
                None => ().into_any(),
            })}
            <button id="send-link" class="button primary" type="submit" disabled=busy>
                {text(move || if busy.get() { "Sending…" } else { button })}
            </button>
        </form>
    }
}

const SIGN_IN_KEY: &str = "folio_link_sign_in";
const RESET_KEY: &str = "folio_link_reset";

/// The link's token: what the address brings (then kept in sessionStorage and removed from the
/// address), else what this tab kept from an earlier load of the page. Watched, not read once:
/// a second link opened in the same tab changes only the fragment, which loads no page.
fn link_token(key: &'static str, refused: RwSignal<Option<ApiError>>) -> RwSignal<Option<String>> {
    let kept = api::tab_storage()
        .and_then(|s| s.get_item(key).ok().flatten())
        .filter(|t| !t.is_empty());
    let token = RwSignal::new(kept);
    let loc = router::location();
    let take = move || {
        let (path, search, hash) =
            loc.with_untracked(|l| (l.path.clone(), l.search.clone(), l.hash.clone()));
        let Some(fresh) = hash
            .strip_prefix('#')
            .and_then(|h| router::query_in(h, "token"))
            .filter(|t| !t.is_empty())
        else {
            return;
        };
        if let Some(s) = api::tab_storage() {
            let _ = s.set_item(key, &fresh);
        }
        // The same entry without the fragment: nothing in the history keeps the token.
        router::navigate(&format!("{path}{search}"), true);
        refused.set(None);
        token.set(Some(fresh));
    };
    // Now, so the first render already has it, and whenever the address changes.
    take();
    Effect::new(move |_| {
        loc.track();
        take();
    });
    token
}

fn forget_token(key: &str) {
    if let Some(s) = api::tab_storage() {
        let _ = s.remove_item(key);
    }
}

/// Whether the server refused the link itself (used, expired, or never Folio's): asking again
/// with it will not help.
fn is_dead(e: &ApiError) -> bool {
    matches!(
        e.code.as_str(),
        "link_used" | "link_expired" | "link_invalid"
    )
}

fn dead_link_text(e: &ApiError) -> String {
    match e.code.as_str() {
        "link_used" => "This link has been used already: each link works once.".to_owned(),
        "link_expired" => {
            "This link has expired: links work for a few minutes after they are sent.".to_owned()
        }
        "link_invalid" => "This is not a link Folio sent, or part of it is missing. Open the whole link from the message, or ask for a new one.".to_owned(),
        _ => e.message.clone(),
    }
}

/// What the page shows instead of its button: the form to ask for a link, after why the link
/// it was opened with will not do.
fn ask_for_link(purpose: LinkPurpose, refused: Option<ApiError>) -> AnyView {
    let intro = match (&refused, purpose) {
        (Some(e), _) => view! {
            <div class="error-box" role="alert" id="link-problem" data-code=e.code.clone()>{dead_link_text(e)}</div>
            <h2 class="ask-again">"Ask for a new link"</h2>
        }
        .into_any(),
        (None, LinkPurpose::SignIn) => view! {
            <p>"Type the address of your account: we will mail you a link that signs you in, no password needed."</p>
        }
        .into_any(),
        (None, LinkPurpose::PasswordReset) => view! {
            <p>"Type the address of your account: we will mail you a link to choose a new password."</p>
        }
        .into_any(),
    };
    view! { {intro}<LinkRequest purpose=purpose/> }.into_any()
}

/// `/signin/link`: signs in with the mailed link's token when the reader presses the button,
/// then goes to the library (or a `next` on this shop); without a token, asks for a link.
#[component]
pub fn SignInLink() -> impl IntoView {
    set_title("Sign in with a link");
    let session = api::session();
    let next = router::query("next")
        .and_then(|n| router::safe_next(&n))
        .unwrap_or_else(|| "/library".to_owned());
    let refused = RwSignal::new(None::<ApiError>);
    let token = link_token(SIGN_IN_KEY, refused);
    let (error, set_error) = signal(None::<String>);
    let (busy, set_busy) = signal(false);
    let redeem = move |_| {
        let Some(token) = token.get_untracked() else {
            return;
        };
        let next = next.clone();
        set_busy.set(true);
        set_error.set(None);
        leptos::task::spawn_local(async move {
            let result: Result<(), ApiError> = async {
                let tokens: TokenResponse =
                    api::post_public("/api/v1/auth/email-link/redeem", &RedeemRequest { token })
                        .await?;
                api::sign_in_with(session, tokens).await
            }
            .await;
            set_busy.set(false);
            match result {
                Ok(()) => {
                    forget_token(SIGN_IN_KEY);
                    // A redirect: Back should not come back to a spent link.
                    router::navigate(&next, true);
                }
                Err(e) if is_dead(&e) => {
                    forget_token(SIGN_IN_KEY);
                    refused.set(Some(e));
                }
                Err(e) => set_error.set(Some(e.message)),
            }
        });
    };
    view! {
        <section class="narrow card link-page">
            <h1>"Sign in with a link"</h1>
            {dynamic(move || match refused.get() {
                None if token.with(Option::is_some) => view! {
                    <p>"Press the button to sign in to Folio. The link works once: pressing the button spends it, opening the page does not."</p>
                    {form_error_slot(error)}
                    <button id="redeem" class="button primary" on:click=redeem.clone() disabled=busy>
                        {text(move || if busy.get() { "Signing in…" } else { "Sign in" })}
                    </button>
                }.into_any(),
                refused => ask_for_link(LinkPurpose::SignIn, refused),
            })}
        </section>
    }
}

/// `/reset-password`: a new password with the mailed link's token, then sign in with it;
/// without a token (Forgot password?), asks for a link.
#[component]
pub fn ResetPassword() -> impl IntoView {
    let session = api::session();
    let refused = RwSignal::new(None::<ApiError>);
    let token = link_token(RESET_KEY, refused);
    let has_token = move || token.with(Option::is_some);
    Effect::new(move |_| {
        set_title(if has_token() {
            "Choose a new password"
        } else {
            "Forgot password"
        })
    });
    let (password, set_password) = signal(String::new());
    let (password_error, set_password_error) = signal(None::<String>);
    let (form_error, set_form_error) = signal(None::<String>);
    let (busy, set_busy) = signal(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(token) = token.get_untracked() else {
            return;
        };
        let password = password.get_untracked();
        set_form_error.set(None);
        // The server's own parser first: a password it would refuse spends nothing anyway, but
        // need not make the trip.
        set_password_error.set(Password::parse(&password).err().map(|x| x.message));
        if password_error.get_untracked().is_some() {
            return;
        }
        set_busy.set(true);
        leptos::task::spawn_local(async move {
            let result = api::post_public_no_content(
                "/api/v1/auth/password-reset/confirm",
                &ResetPasswordRequest { token, password },
            )
            .await;
            match result {
                Ok(()) => {
                    forget_token(RESET_KEY);
                    // Every session of the account has ended on the server; this browser's
                    // cookies go too, so nothing tries to refresh a revoked session.
                    if api::may_have_session() || session.user.with_untracked(Option::is_some) {
                        api::sign_out(session).await;
                    }
                    router::navigate("/signin?password=reset", true);
                }
                Err(e) if is_dead(&e) => {
                    set_busy.set(false);
                    forget_token(RESET_KEY);
                    refused.set(Some(e));
                }
                Err(e) => {
                    set_busy.set(false);
                    set_password_error.set(e.field("password"));
                    if e.fields.is_empty() {
                        set_form_error.set(Some(e.message));
                    }
                }
            }
        });
    };
    view! {
        <section class="narrow card link-page">
            <h1>{text(move || if has_token() { "Choose a new password" } else { "Forgot your password?" })}</h1>
            {dynamic(move || match refused.get() {
                None if has_token() => view! {
                    <form class="form" on:submit=submit novalidate>
                        // For password managers, which file the new password under the
                        // account's address (the one typed in this tab, if any).
                        <input type="email" name="username" autocomplete="username" hidden value=typed_email()/>
                        <div class="field">
                            <label for="password">"New password"</label>
                            <input id="password" name="password" type="password" required autocomplete="new-password"
                                aria-describedby="password-error"
                                prop:value=password on:input=move |ev| set_password.set(event_target_value(&ev))/>
                            <FieldMessage field="password" message=password_error.into()/>
                            <p class="hint">"8 to 128 characters. Setting it signs you out everywhere."</p>
                        </div>
                        {form_error_slot(form_error)}
                        <button id="submit" class="button primary" type="submit" disabled=busy>
                            {text(move || if busy.get() { "Saving…" } else { "Set the new password" })}
                        </button>
                    </form>
                }.into_any(),
                refused => ask_for_link(LinkPurpose::PasswordReset, refused),
            })}
        </section>
    }
}
