//! Strict, typed reading of a parsed form tree (see `form.rs`).
//!
//! Stripe rejects parameters it does not know, so each handler *takes* the parameters it
//! understands and then calls [`Params::finish`], which reports the first one left over as
//! `parameter_unknown`. Every accessor knows the full bracketed name of what it reads, so errors
//! name e.g. `line_items[0][price_data][unit_amount]` exactly like Stripe does.

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::form;

/// The parameters at one level of the tree (the top level, or inside e.g. `line_items[0]`).
#[derive(Debug)]
pub(crate) struct Params {
    map: Map<String, Value>,
    prefix: String,
}

impl Params {
    /// Parses a form body or query string.
    pub fn parse(input: &str) -> Result<Self, ApiError> {
        let map =
            form::parse(input).map_err(|e| ApiError::invalid(None, Some(&e.param), e.message))?;
        Ok(Self {
            map,
            prefix: String::new(),
        })
    }

    /// The full name of a parameter at this level.
    pub fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}[{key}]", self.prefix)
        }
    }

    /// The names present at this level.
    pub fn keys(&self) -> Vec<String> {
        self.map.keys().cloned().collect()
    }

    /// Whether `key` was given as a hash (`created[gte]=...`) rather than a single value.
    pub fn is_object(&self, key: &str) -> bool {
        matches!(self.map.get(key), Some(Value::Object(_)))
    }

    pub fn string(&mut self, key: &str) -> Result<Option<String>, ApiError> {
        match self.map.remove(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(
                None,
                Some(&self.name(key)),
                format!(
                    "Invalid string: {}; expected a single value",
                    self.name(key)
                ),
            )),
        }
    }

    /// A string that must be present and not empty.
    pub fn required_string(&mut self, key: &str) -> Result<String, ApiError> {
        match self.string(key)? {
            None => Err(ApiError::missing(&self.name(key))),
            Some(s) if s.is_empty() => Err(ApiError::invalid(
                Some("parameter_invalid_empty"),
                Some(&self.name(key)),
                format!(
                    "You passed an empty string for '{}'. We assume empty values are an attempt to unset a parameter; however '{}' cannot be unset. You should remove '{}' from your request or supply a non-empty value.",
                    self.name(key),
                    self.name(key),
                    self.name(key)
                ),
            )),
            Some(s) => Ok(s),
        }
    }

    pub fn integer(&mut self, key: &str) -> Result<Option<i64>, ApiError> {
        let name = self.name(key);
        match self.string(key)? {
            None => Ok(None),
            Some(s) => s
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::invalid_integer(&name)),
        }
    }

    /// `true` or `false`, the way Stripe clients (serde_qs, curl) write booleans.
    pub fn boolean(&mut self, key: &str) -> Result<Option<bool>, ApiError> {
        let name = self.name(key);
        match self.string(key)?.as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid(
                None,
                Some(&name),
                format!("Invalid boolean: {other}"),
            )),
        }
    }

    /// One of a fixed set of values.
    pub fn one_of(&mut self, key: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        let name = self.name(key);
        match self.string(key)? {
            Some(s) if !allowed.contains(&s.as_str()) => Err(ApiError::invalid(
                None,
                Some(&name),
                format!("Invalid {name}: must be one of {}", allowed.join(", ")),
            )),
            other => Ok(other),
        }
    }

    /// A nested hash such as `payment_intent_data[...]`.
    pub fn object(&mut self, key: &str) -> Result<Option<Params>, ApiError> {
        let name = self.name(key);
        match self.map.remove(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Params { map, prefix: name })),
            // `key=` is how Stripe clients say "empty hash".
            Some(Value::String(s)) if s.is_empty() => Ok(Some(Params {
                map: Map::new(),
                prefix: name,
            })),
            Some(_) => Err(ApiError::invalid(
                None,
                Some(&name),
                format!("Invalid object: {name}"),
            )),
        }
    }

    /// A list of hashes such as `line_items[n][...]`.
    pub fn object_list(&mut self, key: &str) -> Result<Option<Vec<Params>>, ApiError> {
        let name = self.name(key);
        match self.map.remove(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(map) => Ok(Params {
                        map,
                        prefix: format!("{name}[{i}]"),
                    }),
                    _ => Err(ApiError::invalid(
                        None,
                        Some(&format!("{name}[{i}]")),
                        format!("Invalid object: {name}[{i}]"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(ApiError::invalid(
                None,
                Some(&name),
                format!("Invalid array: {name}"),
            )),
        }
    }

    /// A list of strings such as `expand[]` or `expand[0]`. A single `key=value` counts as a
    /// one-element list, as Stripe accepts it.
    pub fn string_list(&mut self, key: &str) -> Result<Option<Vec<String>>, ApiError> {
        let name = self.name(key);
        match self.map.remove(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(Some(Vec::new())),
            Some(Value::String(s)) => Ok(Some(vec![s])),
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s),
                    _ => Err(ApiError::invalid(
                        None,
                        Some(&format!("{name}[{i}]")),
                        format!("Invalid string: {name}[{i}]"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(ApiError::invalid(
                None,
                Some(&name),
                format!("Invalid array: {name}"),
            )),
        }
    }

    /// `metadata[...]`, with Stripe's limits (50 keys, keys up to 40 characters, values up to
    /// 500), so that code which works here does not fail against Stripe.
    pub fn metadata(&mut self, key: &str) -> Result<Option<Map<String, Value>>, ApiError> {
        let Some(mut hash) = self.object(key)? else {
            return Ok(None);
        };
        let keys: Vec<String> = hash.map.keys().cloned().collect();
        if keys.len() > 50 {
            return Err(ApiError::invalid(
                None,
                Some(&hash.prefix),
                "Metadata can have a maximum of 50 keys.",
            ));
        }
        let mut out = Map::new();
        for k in keys {
            let name = hash.name(&k);
            if k.chars().count() > 40 {
                return Err(ApiError::invalid(
                    None,
                    Some(&name),
                    "Metadata keys can have a maximum length of 40 characters.",
                ));
            }
            let value = hash.string(&k)?.unwrap_or_default();
            if value.chars().count() > 500 {
                return Err(ApiError::invalid(
                    None,
                    Some(&name),
                    "Metadata values can have a maximum length of 500 characters.",
                ));
            }
            // An empty value unsets the key.
            if !value.is_empty() {
                out.insert(k, Value::String(value));
            }
        }
        Ok(Some(out))
    }

    /// `metadata[...]` of an update, where `metadata[key]=` unsets a key and `metadata=` all of
    /// them; the same limits as [`Params::metadata`].
    pub fn metadata_patch(
        &mut self,
        key: &str,
    ) -> Result<Option<crate::subscriptions::MetadataPatch>, ApiError> {
        use crate::subscriptions::MetadataPatch;
        if matches!(self.map.get(key), Some(Value::String(s)) if s.is_empty()) {
            self.map.remove(key);
            return Ok(Some(MetadataPatch {
                clear: true,
                entries: Vec::new(),
            }));
        }
        let Some(mut hash) = self.object(key)? else {
            return Ok(None);
        };
        // Checked as a whole by `metadata`, on a copy that keeps the empty values out.
        let mut check = Params {
            map: Map::from_iter([(key.to_string(), Value::Object(hash.map.clone()))]),
            prefix: self.prefix.clone(),
        };
        check.metadata(key)?;
        let mut entries = Vec::new();
        for k in hash.keys() {
            let value = hash.string(&k)?.unwrap_or_default();
            entries.push((k, Some(value).filter(|v| !v.is_empty())));
        }
        Ok(Some(MetadataPatch {
            clear: false,
            entries,
        }))
    }

    /// Refuses whatever was not taken.
    pub fn finish(&mut self) -> Result<(), ApiError> {
        match std::mem::take(&mut self.map).into_iter().next() {
            None => Ok(()),
            Some((key, value)) => {
                let name = self.name(&key);
                Err(ApiError::unknown(&first_leaf_name(&name, &value)))
            }
        }
    }
}

/// `line_items[0][foo]` rather than `line_items[0]` when reporting an unknown nested key.
fn first_leaf_name(name: &str, value: &Value) -> String {
    match value {
        Value::Object(map) => match map.iter().next() {
            Some((k, v)) => first_leaf_name(&format!("{name}[{k}]"), v),
            None => name.to_string(),
        },
        Value::Array(items) => match items.first() {
            Some(v) => first_leaf_name(&format!("{name}[0]"), v),
            None => name.to_string(),
        },
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_names_in_errors() {
        let mut p = Params::parse("line_items[0][price_data][unit_amount]=abc").unwrap();
        let mut items = p.object_list("line_items").unwrap().unwrap();
        let mut price = items[0].object("price_data").unwrap().unwrap();
        let err = price.integer("unit_amount").unwrap_err();
        assert_eq!(
            err.param.as_deref(),
            Some("line_items[0][price_data][unit_amount]")
        );
        assert_eq!(err.code, Some("parameter_invalid_integer"));
    }

    #[test]
    fn leftovers_are_unknown() {
        let mut p = Params::parse("mode=payment&line_items[0][bogus][x]=1").unwrap();
        p.string("mode").unwrap();
        let err = p.finish().unwrap_err();
        assert_eq!(err.code, Some("parameter_unknown"));
        assert_eq!(err.param.as_deref(), Some("line_items[0][bogus][x]"));
    }
}
