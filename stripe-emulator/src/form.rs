//! Stripe's request encoding: `application/x-www-form-urlencoded` pairs whose keys use bracket
//! notation, e.g. `line_items[0][price_data][unit_amount]=1999`, `metadata[order_id]=42` or
//! `expand[]=line_items`.
//!
//! The parser turns a body or query string into a `serde_json::Value` tree whose leaves are all
//! strings, because that is all the wire carries: handlers convert leaves to integers or booleans
//! themselves, so that a bad value is reported with the full parameter name (see `params.rs`).
//! Numeric indices and `[]` both make arrays; numeric indices are ordered by value and compacted,
//! as Stripe does.
//!
//! async-stripe (through serde_qs) writes structural brackets literally and percent-encodes
//! brackets that are part of a name, while browsers and `curl --data-urlencode` encode every
//! bracket. Keys that contain a literal `[` are therefore split before decoding, and keys that do
//! not are decoded first and then split.

use serde_json::{Map, Value};

/// Deeper keys than this are refused: nothing Stripe accepts nests further, and the tree is built
/// recursively, so an unbounded depth would let one request exhaust the stack.
const MAX_DEPTH: usize = 12;

/// A body or query string that cannot be read as Stripe form parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError {
    /// The key as received (decoded), for the error's `param`.
    pub param: String,
    pub message: String,
}

/// One step of a bracketed key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    /// `[]`: append a new element.
    Append,
}

/// The tree while it is being built; maps keep numeric keys until `finish` decides they are arrays.
#[derive(Debug)]
enum Node {
    Leaf(String),
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
}

/// Parses `a=1&b[c]=2&d[]=3&e[0][f]=4` into `{"a":"1","b":{"c":"2"},"d":["3"],"e":[{"f":"4"}]}`.
pub fn parse(input: &str) -> Result<Map<String, Value>, FormError> {
    let mut root = Node::Map(Vec::new());
    for pair in input.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let segments = split_key(raw_key)?;
        let param = display_key(&segments);
        let value = decode(raw_value).map_err(|message| FormError {
            param: param.clone(),
            message,
        })?;
        insert(&mut root, &segments, value).map_err(|message| FormError { param, message })?;
    }
    match finish(root) {
        Value::Object(map) => Ok(map),
        // The root is always a map with string keys that are not all numeric, or empty.
        Value::Array(items) => Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect()),
        _ => Ok(Map::new()),
    }
}

/// Renders segments back as `a[b][]`, the way Stripe names parameters in errors.
fn display_key(segments: &[Segment]) -> String {
    let mut out = String::new();
    for (i, segment) in segments.iter().enumerate() {
        match (i, segment) {
            (0, Segment::Key(k)) => out.push_str(k),
            (_, Segment::Key(k)) => {
                out.push('[');
                out.push_str(k);
                out.push(']');
            }
            (_, Segment::Append) => out.push_str("[]"),
        }
    }
    out
}

fn split_key(raw: &str) -> Result<Vec<Segment>, FormError> {
    let invalid = |key: &str, why: &str| FormError {
        param: key.to_string(),
        message: format!("Invalid parameter name `{key}`: {why}."),
    };
    let segments = if raw.contains('[') {
        let parts = split_brackets(raw).ok_or_else(|| invalid(raw, "unbalanced brackets"))?;
        parts
            .into_iter()
            .map(|part| match part {
                None => Ok(Segment::Append),
                Some(p) => decode(p).map(Segment::Key).map_err(|m| invalid(raw, &m)),
            })
            .collect::<Result<Vec<_>, _>>()?
    } else {
        let decoded = decode(raw).map_err(|m| invalid(raw, &m))?;
        split_brackets(&decoded)
            .ok_or_else(|| invalid(&decoded, "unbalanced brackets"))?
            .into_iter()
            .map(|part| part.map_or(Segment::Append, |p| Segment::Key(p.to_string())))
            .collect()
    };
    match segments.first() {
        Some(Segment::Key(k)) if !k.is_empty() => {}
        _ => return Err(invalid(raw, "it has no name")),
    }
    if segments.len() > MAX_DEPTH {
        return Err(invalid(raw, "it is nested too deeply"));
    }
    Ok(segments)
}

/// Splits `a[b][][c]` into `Some("a"), Some("b"), None, Some("c")`; `None` is `[]`.
fn split_brackets(key: &str) -> Option<Vec<Option<&str>>> {
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    let mut parts = vec![Some(head)];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        let name = &inner[..close];
        if name.contains('[') {
            return None;
        }
        parts.push(if name.is_empty() { None } else { Some(name) });
        rest = &inner[close + 1..];
    }
    Some(parts)
}

/// Percent-decoding with `+` as space; a `%` not followed by two hex digits is kept as is,
/// like browsers do.
fn decode(raw: &str) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(hex),
                bytes.get(i + 2).and_then(hex),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "the value is not valid UTF-8".to_string())
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).map(|d| d as u8)
}

fn insert(node: &mut Node, segments: &[Segment], value: String) -> Result<(), String> {
    let conflict = || "it is used both as a value and as a nested parameter".to_string();
    let Some((first, rest)) = segments.split_first() else {
        return match node {
            Node::Leaf(_) => {
                *node = Node::Leaf(value);
                Ok(())
            }
            _ => Err(conflict()),
        };
    };
    match (node, first) {
        (Node::Map(entries), Segment::Key(key)) => {
            let index = match entries.iter().position(|(k, _)| k == key) {
                Some(i) => i,
                None => {
                    entries.push((key.clone(), empty_for(rest)));
                    entries.len() - 1
                }
            };
            insert(&mut entries[index].1, rest, value)
        }
        (Node::List(items), Segment::Append) => {
            // `a[][x]=1&a[][y]=2` describes one element, `a[][x]=1&a[][x]=2` two: reuse the
            // last element while it does not have the key yet (Rack's rule).
            let reuse = match (items.last(), rest.first()) {
                (Some(Node::Map(entries)), Some(Segment::Key(k))) => {
                    !entries.iter().any(|(existing, _)| existing == k)
                }
                _ => false,
            };
            if !reuse {
                items.push(empty_for(rest));
            }
            let last = items.len() - 1;
            insert(&mut items[last], rest, value)
        }
        (Node::Leaf(_), _) => Err(conflict()),
        _ => Err("it mixes `[]` with named or numbered elements".to_string()),
    }
}

/// The node a segment path needs next: a leaf at the end, a list before `[]`, a map otherwise.
fn empty_for(rest: &[Segment]) -> Node {
    match rest.first() {
        None => Node::Leaf(String::new()),
        Some(Segment::Append) => Node::List(Vec::new()),
        Some(Segment::Key(_)) => Node::Map(Vec::new()),
    }
}

fn finish(node: Node) -> Value {
    match node {
        Node::Leaf(s) => Value::String(s),
        Node::List(items) => Value::Array(items.into_iter().map(finish).collect()),
        Node::Map(entries) => {
            let indices: Option<Vec<u64>> = entries
                .iter()
                .map(|(k, _)| {
                    if k.bytes().all(|b| b.is_ascii_digit()) {
                        k.parse().ok()
                    } else {
                        None
                    }
                })
                .collect();
            match indices {
                Some(indices) if !entries.is_empty() => {
                    let mut numbered: Vec<(u64, Node)> = indices
                        .into_iter()
                        .zip(entries.into_iter().map(|(_, n)| n))
                        .collect();
                    numbered.sort_by_key(|(i, _)| *i);
                    Value::Array(numbered.into_iter().map(|(_, n)| finish(n)).collect())
                }
                _ => Value::Object(entries.into_iter().map(|(k, n)| (k, finish(n))).collect()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Value {
        Value::Object(parse(s).expect("parses"))
    }

    #[test]
    fn nested_objects_and_indexed_arrays() {
        assert_eq!(
            p("mode=payment&line_items[0][price_data][unit_amount]=1999&line_items[0][quantity]=1&metadata[order_id]=42"),
            json!({
                "mode": "payment",
                "line_items": [{"price_data": {"unit_amount": "1999"}, "quantity": "1"}],
                "metadata": {"order_id": "42"}
            })
        );
    }

    #[test]
    fn indices_are_ordered_and_compacted() {
        assert_eq!(p("a[10]=z&a[2]=y&a[0]=x"), json!({"a": ["x", "y", "z"]}));
    }

    #[test]
    fn empty_brackets_append() {
        assert_eq!(
            p("expand[]=line_items&expand[]=payment_intent"),
            json!({"expand": ["line_items", "payment_intent"]})
        );
        assert_eq!(
            p("a[][x]=1&a[][y]=2&a[][x]=3"),
            json!({"a": [{"x": "1", "y": "2"}, {"x": "3"}]})
        );
    }

    #[test]
    fn encoded_brackets_and_values() {
        assert_eq!(
            p("line_items%5B0%5D%5Bquantity%5D=2&success_url=http%3A%2F%2Fx%2Fok%3Fs%3D%7BCHECKOUT_SESSION_ID%7D&name=a+b"),
            json!({
                "line_items": [{"quantity": "2"}],
                "success_url": "http://x/ok?s={CHECKOUT_SESSION_ID}",
                "name": "a b"
            })
        );
    }

    #[test]
    fn literal_structure_keeps_encoded_brackets_in_names() {
        assert_eq!(
            p("metadata[a%5Bb%5D]=1"),
            json!({"metadata": {"a[b]": "1"}})
        );
    }

    #[test]
    fn malformed_keys_are_errors() {
        assert!(parse("a[b=1").is_err());
        assert!(parse("[a]=1").is_err());
        assert!(parse("a[b]x=1").is_err());
        assert!(parse("a=1&a[b]=2").is_err());
        assert!(parse("a[b]=1&a=2").is_err());
        assert!(parse(&format!("a{}=1", "[x]".repeat(50))).is_err());
        let err = parse("a[x]=1&a[]=2").unwrap_err();
        assert_eq!(err.param, "a[]");
    }

    #[test]
    fn invalid_utf8_is_an_error_and_stray_percent_is_kept() {
        assert!(parse("a=%FF").is_err());
        assert_eq!(p("a=100%25&b=5%"), json!({"a": "100%", "b": "5%"}));
    }

    #[test]
    fn last_value_wins_and_empty_input_is_empty() {
        assert_eq!(p("a=1&a=2"), json!({"a": "2"}));
        assert_eq!(p(""), json!({}));
        assert_eq!(p("flag"), json!({"flag": ""}));
    }
}
