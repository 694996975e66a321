//! SQLite introspection: every table and view in `sqlite_master` except SQLite's own
//! (`sqlite_*`), columns from `pragma_table_info`, types by SQLite's affinity rules.

use shared::{Column, ColumnType, Relation, RelationKind};
use sqlx::SqlitePool;

use super::TableDef;

const RELATIONS_SQL: &str =
    "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";
const COLUMNS_SQL: &str = "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid";

pub async fn load(pool: &SqlitePool) -> Result<Vec<TableDef>, sqlx::Error> {
    let relations: Vec<(String, String)> = sqlx::query_as(RELATIONS_SQL).fetch_all(pool).await?;
    let mut tables = Vec::with_capacity(relations.len());
    for (name, kind) in relations {
        let columns: Vec<(String, String, bool, i64)> = sqlx::query_as(COLUMNS_SQL).bind(&name).fetch_all(pool).await?;
        let mut key: Vec<(i64, String)> = columns.iter().filter(|c| c.3 > 0).map(|c| (c.3, c.0.clone())).collect();
        key.sort();
        let columns: Vec<Column> = columns
            .into_iter()
            .map(|(column, declared, not_null, pk)| Column {
                name: column,
                column_type: ColumnType::from_sqlite_declared(&declared),
                // An INTEGER PRIMARY KEY is the rowid: never NULL, whatever `notnull` says.
                nullable: !(not_null || pk > 0 && declared.eq_ignore_ascii_case("integer")),
                sql_type: declared,
            })
            .collect();
        let cast_types = vec![String::new(); columns.len()];
        let kind = if kind == "view" { RelationKind::View } else { RelationKind::Table };
        tables.push(TableDef {
            relation: Relation {
                name: name.clone(),
                kind,
                columns,
                primary_key: key.into_iter().map(|k| k.1).collect(),
            },
            schema: None,
            table: name,
            cast_types,
        });
    }
    Ok(tables)
}
