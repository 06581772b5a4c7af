//! Multipart upload with progress. fetch (and so gloo-net) reports no upload progress, so this
//! one request goes through XMLHttpRequest and its `upload.onprogress` events.

use futures_channel::oneshot;
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{FormData, ProgressEvent, XmlHttpRequest};

use crate::api::ApiError;

/// Sends `form` with `method` to `path`, reporting 0..=100 into `progress`, and parses the
/// JSON answer.
pub async fn send_form<T: serde::de::DeserializeOwned>(
    method: &str,
    path: &str,
    form: FormData,
    progress: WriteSignal<u32>,
) -> Result<T, ApiError> {
    let network = |what: &str| ApiError {
        status: 0,
        code: "network".into(),
        message: format!("The upload failed ({what}). Check your connection and try again."),
        fields: Vec::new(),
    };
    let xhr = XmlHttpRequest::new().map_err(|_| network("no XMLHttpRequest"))?;
    xhr.open_with_async(method, path, true)
        .map_err(|_| network("open"))?;
    if let Some(token) = crate::api::access_token() {
        xhr.set_request_header("Authorization", &format!("Bearer {token}"))
            .map_err(|_| network("header"))?;
    }
    let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
        if e.length_computable() && e.total() > 0.0 {
            progress.set(((e.loaded() / e.total()) * 100.0).floor().min(100.0) as u32);
        }
    });
    if let Ok(upload) = xhr.upload() {
        upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    }
    let (done_tx, done_rx) = oneshot::channel::<bool>();
    let done_tx = std::cell::RefCell::new(Some(done_tx));
    let on_end = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
        if let Some(tx) = done_tx.borrow_mut().take() {
            let _ = tx.send(e.type_() == "load");
        }
    });
    xhr.set_onload(Some(on_end.as_ref().unchecked_ref()));
    xhr.set_onerror(Some(on_end.as_ref().unchecked_ref()));
    xhr.set_onabort(Some(on_end.as_ref().unchecked_ref()));
    xhr.send_with_opt_form_data(Some(&form))
        .map_err(|_| network("send"))?;
    let loaded = done_rx.await.unwrap_or(false);
    // The closures must live until the request ended.
    drop((on_progress, on_end));
    if !loaded {
        return Err(network("connection lost"));
    }
    let status = xhr.status().unwrap_or(0);
    let text = xhr.response_text().ok().flatten().unwrap_or_default();
    if (200..300).contains(&status) {
        progress.set(100);
        serde_json::from_str(&text).map_err(|e| network(&e.to_string()))
    } else {
        Err(ApiError::from_problem_text(status, &text))
    }
}
