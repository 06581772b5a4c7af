//! CSV exports, streamed: rows are read a page at a time (keyset, like the lists) and written as
//! they come, so a million orders take the memory of one page. Cells follow RFC 4180 (quoted
//! when they hold a comma, quote or line break; CRLF between records), and a text cell that a
//! spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return) gets a leading `'`, as OWASP advises, so a product called `=HYPERLINK(…)` stays text.

use actix_web::http::header;
use actix_web::HttpResponse;
use bytes::Bytes;
use futures_util::stream;

use crate::error::ApiError;

/// Rows read per database call.
pub const PAGE: i64 = 500;

/// One text cell, neutralised and quoted as needed.
pub fn text(value: &str, out: &mut String) {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let needs_quotes = formula || value.contains([',', '"', '\r', '\n']);
    if needs_quotes {
        out.push('"');
        if formula {
            out.push('\'');
        }
        for c in value.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// A record: text cells (user data) and plain ones (numbers and times Folio wrote).
pub enum Cell<'a> {
    Text(&'a str),
    Plain(String),
    Empty,
}

pub fn record(cells: &[Cell<'_>], out: &mut String) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match cell {
            Cell::Text(t) => text(t, out),
            Cell::Plain(p) => out.push_str(p),
            Cell::Empty => {}
        }
    }
    out.push_str("\r\n");
}

/// The header row.
pub fn header_row(names: &[&str]) -> String {
    let cells: Vec<Cell<'_>> = names.iter().map(|n| Cell::Text(n)).collect();
    let mut out = String::new();
    record(&cells, &mut out);
    out
}

/// A page of the export: its CSV text and where the next page starts (None: the last).
pub type Page<C> = (String, Option<C>);

/// Streams `header` then every page `next` makes, starting from `None`. A failure after the
/// first bytes ends the body early (the client sees a cut download, and the log says why).
pub fn stream<C, F, Fut>(filename: &str, header: String, next: F) -> HttpResponse
where
    C: Send + 'static,
    F: Fn(Option<C>) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<Page<C>, ApiError>> + 'static,
{
    enum At<C> {
        Start,
        After(Option<C>),
        Done,
    }
    let body = stream::unfold((At::Start, next, header), |(at, next, header)| async move {
        match at {
            At::Start => Some((
                Ok::<_, ApiError>(Bytes::from(header.clone())),
                (At::After(None), next, header),
            )),
            At::After(cursor) => match next(cursor).await {
                Ok((text, Some(cursor))) => Some((
                    Ok(Bytes::from(text)),
                    (At::After(Some(cursor)), next, header),
                )),
                Ok((text, None)) => Some((Ok(Bytes::from(text)), (At::Done, next, header))),
                Err(e) => {
                    tracing::error!(error = %e, "CSV export cut short");
                    Some((Err(e), (At::Done, next, header)))
                }
            },
            At::Done => None,
        }
    });
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(v: &str) -> String {
        let mut out = String::new();
        text(v, &mut out);
        out
    }

    #[test]
    fn cells_are_quoted_only_when_they_must_be() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn formulas_become_text() {
        for f in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            let out = cell(f);
            assert!(out.starts_with("\"'"), "{f:?} → {out:?}");
        }
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("a=b"), "a=b");
    }

    #[test]
    fn records_end_with_crlf() {
        let mut out = String::new();
        record(
            &[Cell::Text("x"), Cell::Plain("12".into()), Cell::Empty],
            &mut out,
        );
        assert_eq!(out, "x,12,\r\n");
    }
}
