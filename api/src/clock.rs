//! The time the access windows are judged by: the system clock, plus an offset that only tests
//! move (they run the server in-process and reach it through `AppState`), so a 30-day window can
//! be checked without waiting 30 days.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{NaiveDateTime, TimeDelta};

#[derive(Debug, Default)]
pub struct Clock {
    offset_secs: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> NaiveDateTime {
        crate::db::now() + TimeDelta::seconds(self.offset_secs.load(Ordering::Relaxed))
    }

    /// Moves this clock forward (tests).
    pub fn advance(&self, by: TimeDelta) {
        self.offset_secs
            .fetch_add(by.num_seconds(), Ordering::Relaxed);
    }
}
