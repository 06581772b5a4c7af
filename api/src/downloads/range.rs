//! Which bytes of a file a download sends: the whole file, or one `Range` (RFC 9110).

/// What a granted download sends: the whole file or one range of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `None`: the whole file (200); otherwise these bytes (206).
    pub range: Option<std::ops::Range<u64>>,
    /// Bytes in the body.
    pub length: u64,
    /// The file's size.
    pub size: u64,
}

#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    Full,
    Partial(std::ops::Range<u64>),
    Unsatisfiable,
}

/// Parses a single `bytes=` range. Multiple ranges and malformed headers are ignored (the whole
/// file is sent), as RFC 9110 allows.
fn parse_range(value: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (start, end) = (start.trim(), end.trim());
    let parsed = match (start.is_empty(), end.is_empty()) {
        (true, true) => return RangeRequest::Full,
        (true, false) => match end.parse::<u64>() {
            Ok(0) => return RangeRequest::Unsatisfiable,
            Ok(n) => (size.saturating_sub(n), size),
            Err(_) => return RangeRequest::Full,
        },
        (false, _) => {
            let Ok(first) = start.parse::<u64>() else {
                return RangeRequest::Full;
            };
            let last = if end.is_empty() {
                size.saturating_sub(1)
            } else {
                match end.parse::<u64>() {
                    Ok(l) if l >= first => l.min(size.saturating_sub(1)),
                    _ => return RangeRequest::Full,
                }
            };
            if first >= size {
                return RangeRequest::Unsatisfiable;
            }
            (first, last + 1)
        }
    };
    if parsed.0 >= parsed.1 {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Partial(parsed.0..parsed.1)
}

/// The range the client asked for, if its copy (`If-Range`, against `etag`) is still the
/// current one; `None` when the range cannot be satisfied.
pub fn plan(size: u64, etag: &str, range: Option<&str>, if_range: Option<&str>) -> Option<Plan> {
    let request = match if_range {
        Some(tag) if tag != etag => RangeRequest::Full,
        _ => parse_range(range, size),
    };
    match request {
        RangeRequest::Unsatisfiable => None,
        RangeRequest::Full => Some(Plan {
            range: None,
            length: size,
            size,
        }),
        RangeRequest::Partial(r) => Some(Plan {
            length: r.end - r.start,
            range: Some(r),
            size,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeRequest::*;

    #[test]
    fn single_ranges_are_parsed_against_the_size() {
        assert_eq!(parse_range(None, 100), Full);
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Partial(0..10));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Partial(90..100));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Partial(90..100));
        assert_eq!(parse_range(Some("bytes=-1000"), 100), Partial(0..100));
        assert_eq!(parse_range(Some("bytes=50-1000"), 100), Partial(50..100));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Full);
        assert_eq!(parse_range(Some("bytes=9-1"), 100), Full);
        assert_eq!(parse_range(Some("items=0-1"), 100), Full);
        assert_eq!(parse_range(Some("bytes=x-"), 100), Full);
    }

    #[test]
    fn a_stale_if_range_gets_the_whole_file() {
        let whole = plan(100, "\"a\"", Some("bytes=0-9"), Some("\"b\"")).unwrap();
        assert_eq!((whole.range, whole.length), (None, 100));
        let part = plan(100, "\"a\"", Some("bytes=0-9"), Some("\"a\"")).unwrap();
        assert_eq!((part.range, part.length), (Some(0..10), 10));
        assert!(plan(100, "\"a\"", Some("bytes=200-"), None).is_none());
    }
}
