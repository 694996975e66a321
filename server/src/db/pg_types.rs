//! The [`ColumnType`] of a type PostgreSQL names in a statement's description (a prepared
//! statement's result columns and parameters), by the same mapping the introspection uses
//! for table columns ([`ColumnType::from_postgres_name`]): built-in types by their fixed
//! OID, enums with their labels, arrays by their element, anything else as
//! [`ColumnType::Other`] (sent as text).

use shared::ColumnType;
use sqlx::postgres::{PgTypeInfo, PgTypeKind};
use sqlx::TypeInfo as _;

/// `pg_type.typname` of the built-in types rowstream reads natively, by OID (fixed in
/// every PostgreSQL: `pg_type.dat`).
const BUILTIN: &[(u32, &str)] = &[
    (16, "bool"),
    (17, "bytea"),
    (19, "name"),
    (20, "int8"),
    (21, "int2"),
    (23, "int4"),
    (25, "text"),
    (114, "json"),
    (700, "float4"),
    (701, "float8"),
    (1042, "bpchar"),
    (1043, "varchar"),
    (1082, "date"),
    (1083, "time"),
    (1114, "timestamp"),
    (1184, "timestamptz"),
    (1186, "interval"),
    (1700, "numeric"),
    (2950, "uuid"),
    (3802, "jsonb"),
];

/// Arrays of those, by OID, with their element's OID.
const BUILTIN_ARRAYS: &[(u32, u32)] = &[
    (1000, 16),
    (1001, 17),
    (1003, 19),
    (1016, 20),
    (1005, 21),
    (1007, 23),
    (1009, 25),
    (199, 114),
    (1021, 700),
    (1022, 701),
    (1014, 1042),
    (1015, 1043),
    (1182, 1082),
    (1183, 1083),
    (1115, 1114),
    (1185, 1184),
    (1187, 1186),
    (1231, 1700),
    (2951, 2950),
    (3807, 3802),
];

fn builtin(oid: u32) -> Option<&'static str> {
    BUILTIN.iter().find(|(o, _)| *o == oid).map(|(_, name)| *name)
}

/// A described type as rowstream reads it.
pub fn column_type(info: &PgTypeInfo) -> ColumnType {
    let oid = info.oid().map(|o| o.0);
    if let Some(name) = oid.and_then(builtin) {
        return ColumnType::from_postgres_name(name);
    }
    if let Some(element) = oid.and_then(|o| BUILTIN_ARRAYS.iter().find(|(a, _)| *a == o)).and_then(|(_, e)| builtin(*e))
    {
        return ColumnType::Array(Box::new(ColumnType::from_postgres_name(element)));
    }
    match info.kind() {
        PgTypeKind::Enum(labels) => ColumnType::Enum { name: info.name().to_owned(), labels: labels.to_vec() },
        PgTypeKind::Array(element) => match column_type(element) {
            // As the introspection does: arrays of types sent as text are sent as text.
            ColumnType::Other(_) | ColumnType::Array(_) => ColumnType::Other(sql_type(info)),
            element => ColumnType::Array(Box::new(element)),
        },
        PgTypeKind::Simple => ColumnType::from_postgres_name(&info.name().to_ascii_lowercase()),
        _ => ColumnType::Other(sql_type(info)),
    }
}

/// The type's name for display: `int8`, `numeric[]`, `mood`, `point`.
pub fn sql_type(info: &PgTypeInfo) -> String {
    let oid = info.oid().map(|o| o.0);
    if let Some(name) = oid.and_then(builtin) {
        return name.to_owned();
    }
    if let Some(element) = oid.and_then(|o| BUILTIN_ARRAYS.iter().find(|(a, _)| *a == o)).and_then(|(_, e)| builtin(*e))
    {
        return format!("{element}[]");
    }
    info.name().to_ascii_lowercase()
}

/// The name a parameter of this type is cast to in SQL, when it is a built-in type (`int4`,
/// `numeric[]`); `None` for others, whose SQL name the catalog gives
/// ([`super::read::FORMAT_TYPE_SQL`]).
pub fn builtin_cast(info: &PgTypeInfo) -> Option<String> {
    let oid = info.oid()?.0;
    if let Some(name) = builtin(oid) {
        return Some(name.to_owned());
    }
    let (_, element) = BUILTIN_ARRAYS.iter().find(|(a, _)| *a == oid)?;
    builtin(*element).map(|name| format!("{name}[]"))
}

#[cfg(test)]
mod tests {
    use sqlx::postgres::types::Oid;

    use super::*;

    #[test]
    fn builtin_types_map_like_the_introspection() {
        let of = |oid| column_type(&PgTypeInfo::with_oid(Oid(oid)));
        assert_eq!(of(20), ColumnType::Int8);
        assert_eq!(of(1043), ColumnType::Text);
        assert_eq!(of(1700), ColumnType::Numeric);
        assert_eq!(of(1007), ColumnType::Array(Box::new(ColumnType::Int4)));
        assert_eq!(builtin_cast(&PgTypeInfo::with_oid(Oid(1231))).as_deref(), Some("numeric[]"));
        assert_eq!(sql_type(&PgTypeInfo::with_oid(Oid(3802))), "jsonb");
        assert_eq!(builtin_cast(&PgTypeInfo::with_oid(Oid(600))), None);
    }
}
