//! Keyset pagination on (created_at, id), newest first: deep pages cost the same as the first.

use base64::Engine;
use chrono::{DateTime, NaiveDateTime};

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// Where a page starts: after the row with this creation time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: NaiveDateTime,
    pub id: String,
}

impl Cursor {
    pub fn encode(created_at: NaiveDateTime, id: &str) -> String {
        let micros = created_at.and_utc().timestamp_micros();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{micros}|{id}"))
    }

    pub fn decode(text: &str) -> Result<Cursor, ApiError> {
        let invalid =
            || ApiError::bad_request("invalid_cursor", "the cursor is not one this API returned");
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| invalid())?;
        let raw = String::from_utf8(raw).map_err(|_| invalid())?;
        let (micros, id) = raw.split_once('|').ok_or_else(invalid)?;
        let created_at = micros
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(invalid)?
            .naive_utc();
        uuid::Uuid::parse_str(id).map_err(|_| invalid())?;
        Ok(Cursor {
            created_at,
            id: id.to_owned(),
        })
    }
}

/// The page size asked for, checked.
pub fn limit(requested: Option<i64>) -> Result<i64, ApiError> {
    let limit = requested.unwrap_or(DEFAULT_LIMIT);
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::validation(
            "limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ))
    }
}

/// Cuts the extra row fetched to learn whether another page exists and makes its cursor.
pub fn finish<T>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> (NaiveDateTime, &str),
) -> (Vec<T>, Option<String>) {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        let next = rows.last().map(|r| {
            let (at, id) = key(r);
            Cursor::encode(at, id)
        });
        (rows, next)
    } else {
        (rows, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let at = crate::db::now();
        let id = crate::db::new_id();
        let cursor = Cursor::decode(&Cursor::encode(at, &id)).unwrap();
        assert_eq!(cursor, Cursor { created_at: at, id });
        assert!(Cursor::decode("not-a-cursor").is_err());
        let bad = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("1|x");
        assert!(Cursor::decode(&bad).is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(101)).is_err());
        assert_eq!(limit(Some(100)).unwrap(), 100);
    }
}
