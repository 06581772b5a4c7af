//! Renders `schema.rs` from a migrated database, the way `diesel print-schema` would, for both
//! backends. `cargo xtask schema` writes it; a test renders it from PostgreSQL and from SQLite and
//! fails when either differs from the checked-in file, so the schema cannot drift from the
//! migrations and the two migration sets cannot drift from each other.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use super::DbConnection;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    name: String,
    sql_type: String,
    nullable: bool,
}

#[derive(Debug, Default)]
struct Table {
    columns: Vec<Column>,
    primary_key: Vec<String>,
    /// (column, referenced table)
    foreign_keys: Vec<(String, String)>,
}

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

#[derive(QueryableByName)]
struct PgKey {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    target: String,
}

#[derive(QueryableByName)]
struct SqliteTable {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "type")]
    type_: String,
    #[diesel(sql_type = Integer)]
    notnull: i32,
    #[diesel(sql_type = Integer)]
    pk: i32,
}

#[derive(QueryableByName)]
struct SqliteForeignKey {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "table")]
    target: String,
    #[diesel(sql_type = Text)]
    from: String,
}

const MIGRATIONS_TABLE: &str = "__diesel_schema_migrations";

fn diesel_type(raw: &str) -> anyhow::Result<&'static str> {
    Ok(match raw.to_ascii_lowercase().as_str() {
        "text" => "Text",
        "bigint" | "int8" => "BigInt",
        "integer" | "int4" => "Integer",
        "boolean" | "bool" => "Bool",
        "timestamp" | "timestamp without time zone" => "Timestamp",
        other => anyhow::bail!("no diesel type mapping for SQL type `{other}`"),
    })
}

fn read_postgres(conn: &mut diesel::PgConnection) -> anyhow::Result<BTreeMap<String, Table>> {
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    let columns: Vec<PgColumn> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name <> '__diesel_schema_migrations'
         ORDER BY table_name, ordinal_position",
    )
    .load(conn)?;
    for c in columns {
        tables
            .entry(c.table_name)
            .or_default()
            .columns
            .push(Column {
                name: c.column_name,
                sql_type: diesel_type(&c.data_type)?.to_owned(),
                nullable: c.is_nullable == "YES",
            });
    }
    let keys: Vec<PgKey> = diesel::sql_query(
        "SELECT kcu.table_name::text, kcu.column_name::text, tc.constraint_type::text AS target
         FROM information_schema.table_constraints tc
         JOIN information_schema.key_column_usage kcu
           ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema
         WHERE tc.table_schema = current_schema() AND tc.constraint_type = 'PRIMARY KEY'
         ORDER BY kcu.table_name, kcu.ordinal_position",
    )
    .load(conn)?;
    for k in keys {
        if let Some(t) = tables.get_mut(&k.table_name) {
            t.primary_key.push(k.column_name);
        }
    }
    let fks: Vec<PgKey> = diesel::sql_query(
        "SELECT src.relname::text AS table_name, a.attname::text AS column_name,
                dst.relname::text AS target
         FROM pg_constraint c
         JOIN pg_class src ON src.oid = c.conrelid
         JOIN pg_class dst ON dst.oid = c.confrelid
         JOIN pg_namespace n ON n.oid = src.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.contype = 'f' AND n.nspname = current_schema()
         ORDER BY 1, 2",
    )
    .load(conn)?;
    for fk in fks {
        if let Some(t) = tables.get_mut(&fk.table_name) {
            t.foreign_keys.push((fk.column_name, fk.target));
        }
    }
    tables.remove(MIGRATIONS_TABLE);
    Ok(tables)
}

fn read_sqlite(conn: &mut diesel::SqliteConnection) -> anyhow::Result<BTreeMap<String, Table>> {
    let names: Vec<SqliteTable> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'table'
         AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations' ORDER BY name",
    )
    .load(conn)?;
    let mut tables = BTreeMap::new();
    for SqliteTable { name } in names {
        let mut table = Table::default();
        let columns: Vec<SqliteColumn> = diesel::sql_query(format!(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{name}') ORDER BY cid"
        ))
        .load(conn)?;
        let mut pk: Vec<(i32, String)> = Vec::new();
        for c in columns {
            if c.pk > 0 {
                pk.push((c.pk, c.name.clone()));
            }
            table.columns.push(Column {
                // A primary key column is implicitly NOT NULL for diesel's purposes.
                nullable: c.notnull == 0 && c.pk == 0,
                sql_type: diesel_type(&c.type_)?.to_owned(),
                name: c.name,
            });
        }
        pk.sort();
        table.primary_key = pk.into_iter().map(|(_, n)| n).collect();
        let mut fks: Vec<SqliteForeignKey> = diesel::sql_query(format!(
            "SELECT \"table\", \"from\" FROM pragma_foreign_key_list('{name}')"
        ))
        .load(conn)?;
        fks.sort_by(|a, b| a.from.cmp(&b.from));
        table.foreign_keys = fks.into_iter().map(|f| (f.from, f.target)).collect();
        tables.insert(name, table);
    }
    Ok(tables)
}

/// The text of `api/src/schema.rs` for the database behind `conn`.
pub fn render_schema(conn: &mut DbConnection) -> anyhow::Result<String> {
    let tables = match conn {
        DbConnection::Postgresql(c) => read_postgres(c)?,
        DbConnection::Sqlite(c) => read_sqlite(c)?,
    };
    let mut out = String::from(
        "// @generated by `cargo xtask schema` from the migrations; do not edit by hand.\n\
         // A test renders it again from both PostgreSQL and SQLite and fails on any difference.\n",
    );
    for (name, table) in &tables {
        out.push_str(&format!(
            "\ndiesel::table! {{\n    {name} ({}) {{\n",
            table.primary_key.join(", ")
        ));
        for c in &table.columns {
            let ty = if c.nullable {
                format!("Nullable<{}>", c.sql_type)
            } else {
                c.sql_type.clone()
            };
            out.push_str(&format!("        {} -> {ty},\n", c.name));
        }
        out.push_str("    }\n}\n");
    }
    let mut joins: Vec<(String, String, String)> = Vec::new();
    for (name, table) in &tables {
        for (column, target) in &table.foreign_keys {
            // diesel can express only one join per pair of tables.
            let targets = table
                .foreign_keys
                .iter()
                .filter(|(_, t)| t == target)
                .count();
            if targets == 1 && target != name {
                joins.push((name.clone(), target.clone(), column.clone()));
            }
        }
    }
    joins.sort();
    if !joins.is_empty() {
        out.push('\n');
    }
    for (child, parent, column) in &joins {
        out.push_str(&format!(
            "diesel::joinable!({child} -> {parent} ({column}));\n"
        ));
    }
    out.push_str("\ndiesel::allow_tables_to_appear_in_same_query!(\n");
    for name in tables.keys() {
        out.push_str(&format!("    {name},\n"));
    }
    out.push_str(");\n");
    Ok(out)
}
