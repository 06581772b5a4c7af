//! The one typed client for Folio's API. Every request and response type comes from
//! `shared-types`; errors arrive as the server's problem+json.

use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use shared_types::{FieldError, Problem, TokenResponse, UserProfile};

/// A failed call: the server's problem, or a network failure described for people.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub fields: Vec<FieldError>,
}

impl ApiError {
    fn network() -> Self {
        Self {
            status: 0,
            code: "network".into(),
            message: "Could not reach the server. Check your connection and try again.".into(),
            fields: Vec::new(),
        }
    }

    /// An answer that is not what the API documents (never from a Folio server).
    fn unreadable() -> Self {
        Self {
            status: 0,
            code: "unreadable".into(),
            message: "The server's answer could not be read. Try again in a moment.".into(),
            fields: Vec::new(),
        }
    }

    /// The message for one form field, if the server named it.
    pub fn field(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|f| f.field == name)
            .map(|f| f.message.clone())
    }
}

impl ApiError {
    /// The error for a non-2xx answer whose body is (or should be) problem+json.
    pub fn from_problem_text(status: u16, body: &str) -> Self {
        match serde_json::from_str::<Problem>(body) {
            Ok(p) => Self {
                status,
                code: p.code,
                message: p.detail,
                fields: p.errors,
            },
            Err(_) => Self {
                status,
                code: "http_error".into(),
                message: format!("The server answered {status}."),
                fields: Vec::new(),
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

/// Who is signed in. The access token lives only in memory; the refresh token is an HttpOnly
/// cookie the browser sends to /api/v1/auth.
#[derive(Debug, Clone)]
pub struct Signed {
    pub token: String,
    pub profile: UserProfile,
}

#[derive(Clone, Copy)]
pub struct Session {
    pub user: RwSignal<Option<Signed>>,
    /// False until the first refresh attempt at start has answered.
    pub ready: RwSignal<bool>,
}

impl Session {
    pub fn is_admin(&self) -> bool {
        self.user.with(|u| {
            u.as_ref()
                .is_some_and(|s| s.profile.role == shared_types::Role::Admin)
        })
    }

    fn token(&self) -> Option<String> {
        self.user
            .with_untracked(|u| u.as_ref().map(|s| s.token.clone()))
    }
}

thread_local! {
    static SESSION: std::cell::OnceCell<Session> = const { std::cell::OnceCell::new() };
}

/// Installs the app's session (once, at start). A global rather than a context: requests run in
/// spawned tasks, which have no reactive owner to look a context up in.
pub fn install_session(session: Session) {
    SESSION.with(|cell| {
        let _ = cell.set(session);
    });
}

pub fn session() -> Session {
    SESSION.with(|cell| *cell.get().expect("install_session runs before any page"))
}

/// One request to the API: the status and body text of the answer. The only code that talks
/// to `fetch` (the browser's, through web_sys: a wrapper crate cost kilobytes of wasm), and not
/// generic, so its async machinery exists once. Cookies go along on this origin (and only
/// there), as the refresh cookie and a guest's checkout cookie must.
async fn fetch(
    method: &str,
    path: &str,
    token: Option<&str>,
    json: Option<&str>,
) -> Result<(u16, String), ApiError> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let network = |_| ApiError::network();
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    let headers = web_sys::Headers::new().map_err(network)?;
    if let Some(token) = token {
        headers
            .set("Authorization", &format!("Bearer {token}"))
            .map_err(network)?;
    }
    if let Some(json) = json {
        headers
            .set("Content-Type", "application/json")
            .map_err(network)?;
        init.set_body(&json.into());
    }
    init.set_headers(&headers);
    let res: web_sys::Response = JsFuture::from(window().fetch_with_str_and_init(path, &init))
        .await
        .map_err(network)?
        .unchecked_into();
    let text = JsFuture::from(res.text().map_err(network)?)
        .await
        .map_err(network)?
        .as_string()
        .unwrap_or_default();
    Ok((res.status(), text))
}

/// The body of a 2xx answer; otherwise the server's problem.
fn body_text((status, text): (u16, String)) -> Result<String, ApiError> {
    if (200..300).contains(&status) {
        Ok(text)
    } else {
        Err(ApiError::from_problem_text(status, &text))
    }
}

/// Parses an answer's JSON body: the only part of a call that depends on the response type.
pub fn parse<T: DeserializeOwned>(text: Result<String, ApiError>) -> Result<T, ApiError> {
    serde_json::from_str(&text?).map_err(|_| ApiError::unreadable())
}

fn to_json<B: Serialize + ?Sized>(body: &B) -> Result<String, ApiError> {
    serde_json::to_string(body).map_err(|_| ApiError::unreadable())
}

/// Whether this browser may hold a session: the server sets the non-secret cookie
/// `folio_session=1` beside the HttpOnly refresh cookie, and clears it on sign-out and when a
/// refresh is refused.
pub fn may_have_session() -> bool {
    use wasm_bindgen::JsCast;
    document()
        .dyn_into::<web_sys::HtmlDocument>()
        .ok()
        .and_then(|d| d.cookie().ok())
        .is_some_and(|cookies| cookies.split(';').any(|c| c.trim() == "folio_session=1"))
}

/// Buys a new access token with the refresh cookie; false when there is no session.
pub async fn refresh_session(session: Session) -> bool {
    let answer = fetch("POST", "/api/v1/auth/refresh", None, None).await;
    let Ok(answer) = answer else { return false };
    let Ok(tokens) = parse::<TokenResponse>(body_text(answer)) else {
        session.user.set(None);
        return false;
    };
    sign_in_with(session, tokens).await.is_ok()
}

/// Stores the tokens of a sign-in or registration, with the profile they belong to.
pub async fn sign_in_with(session: Session, tokens: TokenResponse) -> Result<(), ApiError> {
    let answer = fetch("GET", "/api/v1/me", Some(&tokens.access_token), None).await?;
    let profile: UserProfile = parse(body_text(answer))?;
    session.user.set(Some(Signed {
        token: tokens.access_token,
        profile,
    }));
    Ok(())
}

pub async fn sign_out(session: Session) {
    let _ = fetch("POST", "/api/v1/auth/logout", None, None).await;
    session.user.set(None);
}

/// Sends a request with the access token (and a JSON body, already serialized), then gives
/// the body of a 2xx answer; on a 401 refreshes once through the cookie and retries.
async fn call(method: &str, path: &str, body: Option<String>) -> Result<String, ApiError> {
    let session = session();
    let mut refreshed = false;
    loop {
        let token = session.token();
        let answer = fetch(method, path, token.as_deref(), body.as_deref()).await?;
        if answer.0 == 401 && !refreshed && token.is_some() && refresh_session(session).await {
            refreshed = true;
            continue;
        }
        return body_text(answer);
    }
}

/// What a page's resource holds: the JSON text of a 2xx answer, or the error. Every resource
/// has this one type, so the code that fetches and stores it exists once; the page parses the
/// text with [`parse`] where it shows it.
pub type Fetched = Result<String, ApiError>;

/// The answer to a GET that a page shows, fetched again when the path changes. A signal, a
/// path and a spawned request: leptos's `LocalResource` does more (suspense, transitions) and
/// cost several times the wasm.
#[derive(Clone, Copy)]
pub struct Resource {
    value: RwSignal<Option<Fetched>>,
    path: StoredValue<String>,
    /// Bumped by each request: only the latest answer is kept.
    ticket: StoredValue<u32>,
}

impl Resource {
    /// The latest answer (tracked); `None` until the first one arrives.
    pub fn get(&self) -> Option<Fetched> {
        self.value.get()
    }

    /// Asks again for the same path; the old answer stays on screen meanwhile.
    pub fn refetch(&self) {
        self.fetch(self.path.get_value());
    }

    fn fetch(self, path: String) {
        let ticket = self.ticket.get_value().wrapping_add(1);
        self.ticket.set_value(ticket);
        self.path.set_value(path.clone());
        leptos::task::spawn_local(async move {
            let answer = call("GET", &path, None).await;
            if self.ticket.try_get_value() == Some(ticket) {
                self.value.try_set(Some(answer));
            }
        });
    }
}

/// A resource that GETs the path `path()` gives (again when what `path` reads changes), once
/// the session has settled: on a reload, the refresh must answer before a call can carry the
/// access token.
pub fn resource(path: impl Fn() -> String + 'static) -> Resource {
    let resource = Resource {
        value: RwSignal::new(None),
        path: StoredValue::new(String::new()),
        ticket: StoredValue::new(0),
    };
    let path: Box<dyn Fn() -> String> = Box::new(path);
    let ready = session().ready;
    Effect::new(move |_| {
        if ready.get() {
            resource.fetch(path());
        }
    });
    resource
}

/// Parses a resource's value: `None` while it loads.
pub fn parsed<T: DeserializeOwned>(value: Option<Fetched>) -> Option<Result<T, ApiError>> {
    value.map(parse)
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    parse(call("GET", path, None).await)
}

/// A GET's answer as [`Fetched`], unparsed: for a page that keeps it in a signal of the type
/// resources have (each signal type is code of its own) and parses it where it shows it.
pub async fn get_text(path: &str) -> Fetched {
    call("GET", path, None).await
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    let json = to_json(body)?;
    parse(call("POST", path, Some(json)).await)
}

/// POST without a body.
pub async fn post_empty<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    parse(call("POST", path, None).await)
}

/// POST with a JSON body already serialized, or none: a caller whose body is fixed text (or
/// one made elsewhere) carries no serializer of its own.
pub async fn post_text<T: DeserializeOwned>(
    path: &str,
    json: Option<String>,
) -> Result<T, ApiError> {
    parse(call("POST", path, json).await)
}

pub async fn patch<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    let json = to_json(body)?;
    parse(call("PATCH", path, Some(json)).await)
}

/// PUT with a JSON body: the whole resource replaced.
pub async fn put<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    let json = to_json(body)?;
    parse(call("PUT", path, Some(json)).await)
}

pub async fn delete(path: &str) -> Result<(), ApiError> {
    call("DELETE", path, None).await.map(drop)
}

/// Auth calls carry no token and must not trigger a refresh.
pub async fn post_public<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<T, ApiError> {
    let json = to_json(body)?;
    parse(
        fetch("POST", path, None, Some(&json))
            .await
            .and_then(body_text),
    )
}

/// An auth call whose answer has no body (204), like setting a new password.
pub async fn post_public_no_content<B: Serialize>(path: &str, body: &B) -> Result<(), ApiError> {
    let json = to_json(body)?;
    fetch("POST", path, None, Some(&json))
        .await
        .and_then(body_text)
        .map(drop)
}

/// This tab's sessionStorage (kept over reloads, gone with the tab), when the browser allows it.
pub fn tab_storage() -> Option<web_sys::Storage> {
    window().session_storage().ok().flatten()
}

/// The current access token, for the upload request that bypasses fetch.
pub fn access_token() -> Option<String> {
    session().token()
}

/// A public POST without a body whose answer has none (204), like an unsubscribe link's.
pub async fn post_public_empty(path: &str) -> Result<(), ApiError> {
    fetch("POST", path, None, None)
        .await
        .and_then(body_text)
        .map(drop)
}

/// POST without a body whose answer has none (204), with the access token.
pub async fn post_no_content(path: &str) -> Result<(), ApiError> {
    call("POST", path, None).await.map(drop)
}
