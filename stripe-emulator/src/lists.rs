//! Stripe's list endpoints: `limit`, the `starting_after` / `ending_before` cursors, the
//! `created` filter, and the list object.
//!
//! Lists are newest first. For checkout sessions, charges and refunds that is Stripe's order, by
//! `created`, with the order the objects were made in as the tiebreak within one second (so a
//! subscription renewal dated back with `at` sorts by the time it says it happened). A cursor is
//! an object's id and stands for its place in that order, so it may name an object that the
//! other filters leave out, as with Stripe; an id the emulator does not know is Stripe's
//! `resource_missing` 400.

use serde_json::{json, Value};

use crate::error::ApiError;
use crate::params::Params;

type Result<T, E = ApiError> = std::result::Result<T, E>;

/// `limit`, `starting_after` and `ending_before` of a list.
#[derive(Debug, Clone, Default)]
pub(crate) struct Page {
    pub limit: usize,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
}

/// Reads `limit` (1 to 100, default 10) and the cursors (at most one of them).
pub(crate) fn page(params: &mut Params) -> Result<Page> {
    let limit = match params.integer("limit")? {
        None => 10,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(_) => {
            return Err(ApiError::invalid(
                Some("parameter_invalid_integer"),
                Some("limit"),
                "Invalid limit: must be between 1 and 100",
            ))
        }
    };
    let starting_after = params.string("starting_after")?.filter(|s| !s.is_empty());
    let ending_before = params.string("ending_before")?.filter(|s| !s.is_empty());
    if starting_after.is_some() && ending_before.is_some() {
        return Err(ApiError::invalid(
            Some("parameters_exclusive"),
            Some("ending_before"),
            "You may only specify one of these parameters: ending_before, starting_after.",
        ));
    }
    Ok(Page {
        limit,
        starting_after,
        ending_before,
    })
}

/// `created`: an exact Unix time (`created=1700000000`) or bounds (`created[gt]`, `[gte]`,
/// `[lt]`, `[lte]`), as Stripe's list endpoints take it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Created {
    pub gt: Option<i64>,
    pub gte: Option<i64>,
    pub lt: Option<i64>,
    pub lte: Option<i64>,
}

impl Created {
    pub fn admits(&self, t: i64) -> bool {
        self.gt.is_none_or(|b| t > b)
            && self.gte.is_none_or(|b| t >= b)
            && self.lt.is_none_or(|b| t < b)
            && self.lte.is_none_or(|b| t <= b)
    }
}

pub(crate) fn created(params: &mut Params, key: &str) -> Result<Created> {
    if params.is_object(key) {
        let Some(mut range) = params.object(key)? else {
            return Ok(Created::default());
        };
        let mut bound = |name: &str| -> Result<Option<i64>> {
            let full = range.name(name);
            match range.string(name)? {
                None => Ok(None),
                Some(s) if s.is_empty() => Ok(None),
                Some(s) => s
                    .parse()
                    .map(Some)
                    .map_err(|_| ApiError::invalid_integer(&full)),
            }
        };
        let created = Created {
            gt: bound("gt")?,
            gte: bound("gte")?,
            lt: bound("lt")?,
            lte: bound("lte")?,
        };
        range.finish()?;
        return Ok(created);
    }
    let name = params.name(key);
    match params.string(key)? {
        None => Ok(Created::default()),
        Some(s) if s.is_empty() => Ok(Created::default()),
        Some(s) => {
            let t: i64 = s.parse().map_err(|_| ApiError::invalid_integer(&name))?;
            Ok(Created {
                gte: Some(t),
                lte: Some(t),
                ..Created::default()
            })
        }
    }
}

/// Where an object stands in a list: `created`, then the order it was made in. Lists are
/// newest first, i.e. by descending position.
pub(crate) type Position = (i64, u64);

/// One page of a list.
#[derive(Debug)]
pub(crate) struct Slice<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

/// The page of `items` (every object of the kind, in any order; `position` and `id` read
/// them) that `keep` admits, as `page` asks. `kind` names the object in Stripe's error for an
/// unknown cursor ("No such checkout.session: 'cs_...'").
pub(crate) fn paginate<T>(
    mut items: Vec<T>,
    position: impl Fn(&T) -> Position,
    id: impl Fn(&T) -> &str,
    keep: impl Fn(&T) -> bool,
    page: &Page,
    kind: &str,
) -> Result<Slice<T>> {
    items.sort_by_key(|item| std::cmp::Reverse(position(item)));
    let cursor = |cursor: &str, param: &str| {
        items
            .iter()
            .find(|item| id(item) == cursor)
            .map(&position)
            .ok_or_else(|| {
                ApiError::invalid(
                    Some("resource_missing"),
                    Some(param),
                    format!("No such {kind}: '{cursor}'"),
                )
            })
    };
    let bounds = match (&page.starting_after, &page.ending_before) {
        (Some(c), _) => (Some(cursor(c, "starting_after")?), None),
        (None, Some(c)) => (None, Some(cursor(c, "ending_before")?)),
        (None, None) => (None, None),
    };
    let mut candidates: Vec<T> = items
        .into_iter()
        .filter(|item| {
            let at = position(item);
            bounds.0.is_none_or(|after| at < after)
                && bounds.1.is_none_or(|before| at > before)
                && keep(item)
        })
        .collect();
    let has_more = candidates.len() > page.limit;
    if bounds.1.is_some() {
        // The objects just before the cursor: the end of the newest-first run above it.
        let skip = candidates.len().saturating_sub(page.limit);
        candidates.drain(..skip);
    } else {
        candidates.truncate(page.limit);
    }
    Ok(Slice {
        data: candidates,
        has_more,
    })
}

/// Stripe's list object.
pub(crate) fn list_json(data: Vec<Value>, has_more: bool, url: &str) -> Value {
    json!({"object": "list", "data": data, "has_more": has_more, "url": url})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(slice: &Slice<(&'static str, Position)>) -> Vec<&'static str> {
        slice.data.iter().map(|(id, _)| *id).collect()
    }

    fn run(page: Page, keep: impl Fn(&str) -> bool) -> Result<Slice<(&'static str, Position)>> {
        // Two in the same second (c made after b), one dated back (d), made in the order a..e.
        let items = vec![
            ("a", (100, 1)),
            ("b", (200, 2)),
            ("c", (200, 3)),
            ("d", (50, 4)),
            ("e", (300, 5)),
        ];
        paginate(items, |i| i.1, |i| i.0, |i| keep(i.0), &page, "thing")
    }

    #[test]
    fn pages_walk_newest_first_by_created_then_order() {
        let all = run(
            Page {
                limit: 10,
                ..Page::default()
            },
            |_| true,
        )
        .unwrap();
        assert_eq!(ids(&all), ["e", "c", "b", "a", "d"]);
        assert!(!all.has_more);
        let first = run(
            Page {
                limit: 2,
                ..Page::default()
            },
            |_| true,
        )
        .unwrap();
        assert_eq!((ids(&first), first.has_more), (vec!["e", "c"], true));
        let next = run(
            Page {
                limit: 2,
                starting_after: Some("c".into()),
                ..Page::default()
            },
            |_| true,
        )
        .unwrap();
        assert_eq!((ids(&next), next.has_more), (vec!["b", "a"], true));
        let last = run(
            Page {
                limit: 2,
                starting_after: Some("a".into()),
                ..Page::default()
            },
            |_| true,
        )
        .unwrap();
        assert_eq!((ids(&last), last.has_more), (vec!["d"], false));
        let back = run(
            Page {
                limit: 2,
                ending_before: Some("a".into()),
                ..Page::default()
            },
            |_| true,
        )
        .unwrap();
        assert_eq!((ids(&back), back.has_more), (vec!["c", "b"], true));
    }

    #[test]
    fn cursors_may_be_filtered_out_but_must_exist() {
        let page = run(
            Page {
                limit: 10,
                starting_after: Some("c".into()),
                ..Page::default()
            },
            |id| id != "c" && id != "a",
        )
        .unwrap();
        assert_eq!(ids(&page), ["b", "d"]);
        let err = run(
            Page {
                limit: 10,
                ending_before: Some("zz".into()),
                ..Page::default()
            },
            |_| true,
        )
        .unwrap_err();
        assert_eq!(err.code, Some("resource_missing"));
        assert_eq!(err.param.as_deref(), Some("ending_before"));
        assert_eq!(err.message, "No such thing: 'zz'");
    }

    #[test]
    fn created_ranges() {
        let mut p = Params::parse("created[gte]=10&created[lt]=20").unwrap();
        let c = created(&mut p, "created").unwrap();
        assert!(!c.admits(9) && c.admits(10) && c.admits(19) && !c.admits(20));
        let mut p = Params::parse("created=15").unwrap();
        let c = created(&mut p, "created").unwrap();
        assert!(c.admits(15) && !c.admits(14) && !c.admits(16));
        let mut p = Params::parse("created[gt]=x").unwrap();
        let err = created(&mut p, "created").unwrap_err();
        assert_eq!(err.param.as_deref(), Some("created[gt]"));
        let mut p = Params::parse("created[after]=1").unwrap();
        let err = created(&mut p, "created").unwrap_err();
        assert_eq!(err.code, Some("parameter_unknown"));
        assert_eq!(err.param.as_deref(), Some("created[after]"));
    }
}
