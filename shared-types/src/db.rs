//! With the `diesel` feature: the types that live in text columns (ids, statuses, roles) read
//! and write themselves, on any backend whose text is a `String` (PostgreSQL, SQLite and the
//! server's multi-backend connection alike).

/// Implements diesel's text conversions for `$ty`: its method `$to` gives the stored text,
/// `$from` parses it back (a row that does not parse is an error, not a default).
macro_rules! text_column {
    ($ty:ty, $to:ident, $from:expr) => {
        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $ty
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                let text: &'b str = self.$to();
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(text, out)
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $ty
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                use diesel::deserialize::FromSql;
                use diesel::sql_types::Text;
                let text = <String as FromSql<Text, DB>>::from_sql(bytes)?;
                ($from)(text).map_err(|e: String| e.into())
            }
        }
    };
}

pub(crate) use text_column;
