//! PostgreSQL introspection: tables, partitioned tables, views, materialized views and
//! foreign tables of the configured schemas, from `pg_catalog` (columns, types, enums) and
//! `information_schema` (primary keys). No function newer than `format_type` is used, so
//! PostgreSQL-compatible servers answer too.

use std::collections::HashMap;

use shared::{Column, ColumnType, Relation, RelationKind};
use sqlx::{Executor as _, PgPool};

use super::{IntrospectError, TableDef};
use crate::source::role::Role;

const COLUMNS_SQL: &str = "\
SELECT n.nspname::text, c.relname::text, c.relkind::text, a.attname::text, a.attnotnull,
       t.typname::text, t.typtype::text, t.typcategory::text, t.oid::int8,
       coalesce(et.typname::text, ''), coalesce(et.typtype::text, ''), coalesce(et.oid::int8, 0),
       format_type(a.atttypid, NULL), format_type(a.atttypid, a.atttypmod)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_type et ON t.typcategory = 'A' AND et.oid = t.typelem
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname = ANY($1)
ORDER BY n.nspname, c.relname, a.attnum";

const ENUMS_SQL: &str =
    "SELECT enumtypid::int8, enumlabel::text FROM pg_catalog.pg_enum ORDER BY enumtypid, enumsortorder";

const PRIMARY_KEYS_SQL: &str = "\
SELECT k.table_schema::text, k.table_name::text, k.column_name::text
FROM information_schema.table_constraints c
JOIN information_schema.key_column_usage k
  ON k.constraint_schema = c.constraint_schema AND k.constraint_name = c.constraint_name
 AND k.table_schema = c.table_schema AND k.table_name = c.table_name
WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = ANY($1)
ORDER BY k.table_schema, k.table_name, k.ordinal_position";

/// The relations of the served schemas that the current role may read (some column of).
const READABLE_SQL: &str = "\
SELECT n.nspname::text, c.relname::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname = ANY($1)
  AND has_any_column_privilege(c.oid, 'SELECT')";

type ColumnRow =
    (String, String, String, String, bool, String, String, String, i64, String, String, i64, String, String);

pub async fn load(pool: &PgPool, schemas: &[String]) -> Result<Vec<TableDef>, sqlx::Error> {
    let rows: Vec<ColumnRow> = sqlx::query_as(COLUMNS_SQL).bind(schemas).fetch_all(pool).await?;
    let mut enums: HashMap<i64, Vec<String>> = HashMap::new();
    for (oid, label) in sqlx::query_as::<_, (i64, String)>(ENUMS_SQL).fetch_all(pool).await? {
        enums.entry(oid).or_default().push(label);
    }
    let mut keys: HashMap<(String, String), Vec<String>> = HashMap::new();
    for (schema, table, column) in
        sqlx::query_as::<_, (String, String, String)>(PRIMARY_KEYS_SQL).bind(schemas).fetch_all(pool).await?
    {
        keys.entry((schema, table)).or_default().push(column);
    }
    let first_schema = schemas.first().map(String::as_str);
    let mut tables: Vec<TableDef> = Vec::new();
    for (
        schema,
        table,
        relkind,
        column,
        not_null,
        typname,
        typtype,
        category,
        oid,
        elem,
        elem_typtype,
        elem_oid,
        cast,
        declared,
    ) in rows
    {
        let is_same = tables.last().is_some_and(|t| t.schema.as_deref() == Some(&schema) && t.table == table);
        if !is_same {
            let name = if Some(schema.as_str()) == first_schema { table.clone() } else { format!("{schema}.{table}") };
            let kind = match relkind.as_str() {
                "v" => RelationKind::View,
                "m" => RelationKind::MaterializedView,
                _ => RelationKind::Table,
            };
            let primary_key = keys.remove(&(schema.clone(), table.clone())).unwrap_or_default();
            tables.push(TableDef {
                relation: Relation { name, kind, columns: Vec::new(), primary_key },
                schema: Some(schema.clone()),
                table,
                cast_types: Vec::new(),
            });
        }
        let column_type = if category == "A" && !elem.is_empty() {
            match scalar_type(&elem, &elem_typtype, elem_oid, &cast, &enums) {
                ColumnType::Other(_) => ColumnType::Other(typname.clone()),
                element => ColumnType::Array(Box::new(element)),
            }
        } else {
            scalar_type(&typname, &typtype, oid, &cast, &enums)
        };
        // `character` without a length means char(1): cast to the unbounded `bpchar` instead.
        let cast = if typname == "bpchar" { "bpchar".to_owned() } else { cast };
        if let Some(t) = tables.last_mut() {
            t.relation.columns.push(Column { name: column, column_type, nullable: !not_null, sql_type: declared });
            t.cast_types.push(cast);
        }
    }
    Ok(tables)
}

/// `(schema, name)` of the relations of `schemas` that `role` may read, asked as that role
/// (in a transaction that is rolled back). A role that cannot be assumed is
/// [`IntrospectError::ForbiddenRole`].
pub async fn readable(
    pool: &PgPool,
    role: &Role,
    schemas: &[String],
) -> Result<Vec<(String, String)>, IntrospectError> {
    let mut transaction = pool.begin().await?;
    let set_role = role.set_local_sql();
    if let Err(error) = (&mut *transaction).execute(sqlx::raw_sql(&set_role)).await {
        return Err(match error {
            sqlx::Error::Database(e) => {
                IntrospectError::ForbiddenRole { role: role.name().to_owned(), message: e.message().to_owned() }
            }
            other => other.into(),
        });
    }
    let readable = sqlx::query_as(READABLE_SQL).bind(schemas).fetch_all(&mut *transaction).await?;
    transaction.rollback().await?;
    Ok(readable)
}

/// A non-array type by its `pg_type` name (`cast` is `format_type`'s spelling, which names
/// an enum the way SQL must).
fn scalar_type(typname: &str, typtype: &str, oid: i64, cast: &str, enums: &HashMap<i64, Vec<String>>) -> ColumnType {
    if typtype == "e" {
        let name = cast.trim_end_matches("[]").to_owned();
        return ColumnType::Enum { name, labels: enums.get(&oid).cloned().unwrap_or_default() };
    }
    ColumnType::from_postgres_name(typname)
}
