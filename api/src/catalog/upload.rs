//! Reading the admin's multipart forms: text fields into memory (small, bounded), files
//! streamed straight to storage.

use actix_multipart::{Field, Multipart};
use futures_util::TryStreamExt;

use super::NewProduct;
use crate::error::ApiError;
use crate::storage::{sniff, StoredObject};
use crate::AppState;

/// Largest text field accepted (a 20,000-character description in 4-byte UTF-8 fits).
const MAX_TEXT_BYTES: usize = 96 * 1024;

fn multipart_error(e: actix_multipart::MultipartError) -> ApiError {
    ApiError::bad_request("invalid_multipart", e.to_string())
}

async fn read_text(field: &mut Field, name: &'static str) -> Result<String, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.try_next().await.map_err(multipart_error)? {
        if buf.len() + chunk.len() > MAX_TEXT_BYTES {
            return Err(ApiError::validation(name, format!("{name} is too long")));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf)
        .map_err(|_| ApiError::validation(name, format!("{name} must be UTF-8 text")))
}

fn file_name(field: &Field) -> Option<String> {
    field
        .content_disposition()
        .and_then(|cd| cd.get_filename())
        .map(str::to_owned)
}

async fn store_file(state: &AppState, field: &mut Field) -> Result<StoredObject, ApiError> {
    let uploaded = file_name(field);
    state
        .storage
        .put_stream(
            field,
            state.settings.max_file_bytes,
            sniff::Purpose::File,
            uploaded.as_deref(),
        )
        .await
        .map_err(|e| e.into_api("file"))
}

async fn store_preview(state: &AppState, field: &mut Field) -> Result<StoredObject, ApiError> {
    state
        .storage
        .put_stream(
            field,
            state.settings.max_preview_bytes,
            sniff::Purpose::Preview,
            None,
        )
        .await
        .map_err(|e| e.into_api("preview"))
}

/// A field the form does not have: refused, so that a misspelt `preveiw` is not silently lost.
fn unknown_field(name: &str) -> ApiError {
    ApiError::validation(name, format!("`{name}` is not a field of this form"))
}

fn duplicate(name: &str) -> ApiError {
    ApiError::bad_request(
        "duplicate_field",
        format!("the field `{name}` was sent twice"),
    )
}

/// Reads a create form. Whatever was stored before an error is removed again.
pub async fn read_new_product(
    state: &AppState,
    mut form: Multipart,
) -> Result<NewProduct, ApiError> {
    let mut input = NewProduct::default();
    let result = read_fields(state, &mut form, &mut input).await;
    if let Err(e) = result {
        let stored: Vec<&StoredObject> = input
            .file
            .iter()
            .map(|(o, _)| o)
            .chain(input.preview.iter())
            .collect();
        state.storage.discard(&stored).await;
        return Err(e);
    }
    Ok(input)
}

async fn read_fields(
    state: &AppState,
    form: &mut Multipart,
    input: &mut NewProduct,
) -> Result<(), ApiError> {
    while let Some(mut field) = form.try_next().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        let slot = match name.as_str() {
            "title" => &mut input.title,
            "description" => &mut input.description,
            "price" => &mut input.price,
            "currency" => &mut input.currency,
            "status" => &mut input.status,
            "download_limit" => &mut input.download_limit,
            "access_days" => &mut input.access_days,
            "stamp_pdfs" => &mut input.stamp_pdfs,
            "pay_what_you_want" => &mut input.pay_what_you_want,
            "suggested_price" => &mut input.suggested_price,
            "bundle_items" => &mut input.bundle_items,
            "file" => {
                if input.file.is_some() {
                    return Err(duplicate("file"));
                }
                let uploaded = file_name(&field);
                input.file = Some((store_file(state, &mut field).await?, uploaded));
                continue;
            }
            "preview" => {
                if input.preview.is_some() {
                    return Err(duplicate("preview"));
                }
                input.preview = Some(store_preview(state, &mut field).await?);
                continue;
            }
            _ => return Err(unknown_field(&name)),
        };
        if slot.is_some() {
            return Err(duplicate(&name));
        }
        let field_name: &'static str = match name.as_str() {
            "title" => "title",
            "description" => "description",
            "price" => "price",
            "currency" => "currency",
            "download_limit" => "download_limit",
            "access_days" => "access_days",
            "stamp_pdfs" => "stamp_pdfs",
            "pay_what_you_want" => "pay_what_you_want",
            "suggested_price" => "suggested_price",
            "bundle_items" => "bundle_items",
            _ => "status",
        };
        *slot = Some(read_text(&mut field, field_name).await?);
    }
    Ok(())
}

/// An uploaded file with the text fields that came with it.
pub struct FileUpload {
    pub object: StoredObject,
    /// The name the browser gave the file.
    pub uploaded_name: Option<String>,
    /// The text fields, by name (only the ones the form allows).
    pub fields: std::collections::HashMap<&'static str, String>,
}

impl FileUpload {
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// Reads a form of one file field (`file` or `preview`, stored as it streams) and the text
/// fields in `texts`. Whatever was stored before an error is removed again.
pub async fn read_file_form(
    state: &AppState,
    mut form: Multipart,
    expected: &'static str,
    texts: &[&'static str],
) -> Result<FileUpload, ApiError> {
    let mut found: Option<(StoredObject, Option<String>)> = None;
    let mut fields = std::collections::HashMap::new();
    let result: Result<(), ApiError> = async {
        while let Some(mut field) = form.try_next().await.map_err(multipart_error)? {
            let name = field.name().unwrap_or_default().to_owned();
            if let Some(text) = texts.iter().find(|t| **t == name) {
                if fields.contains_key(text) {
                    return Err(duplicate(text));
                }
                fields.insert(*text, read_text(&mut field, text).await?);
                continue;
            }
            if name != expected {
                return Err(unknown_field(&name));
            }
            if found.is_some() {
                return Err(duplicate(expected));
            }
            let uploaded = file_name(&field);
            let object = if expected == "file" {
                store_file(state, &mut field).await?
            } else {
                store_preview(state, &mut field).await?
            };
            found = Some((object, uploaded));
        }
        Ok(())
    }
    .await;
    match (result, found) {
        (Ok(()), Some((object, uploaded_name))) => Ok(FileUpload {
            object,
            uploaded_name,
            fields,
        }),
        (Ok(()), None) => Err(ApiError::validation(
            expected,
            format!("the `{expected}` field is required"),
        )),
        (Err(e), found) => {
            if let Some((object, _)) = &found {
                state.storage.discard(&[object]).await;
            }
            Err(e)
        }
    }
}
