//! PostgREST's filter grammar: `column=[not.]op.value`.
//!
//! | op | SQL |
//! |---|---|
//! | `eq neq gt gte lt lte` | `= <> > >= < <=` |
//! | `like ilike` | `LIKE`, `ILIKE` (`*` stands for `%`; SQLite: `GLOB` / `LIKE`) |
//! | `in.(a,b,"c,d")` | `IN (…)`; `"` quotes an item, `\` escapes inside quotes |
//! | `is.null`, `is.true`, `is.false` | `IS NULL`, `IS TRUE`, `IS FALSE` |
//!
//! `not.` negates (`NOT (…)`). Every operand is parsed by the column's type
//! ([`super::value`]).

use shared::ColumnType;

use super::{value, BadRequest, Dialect, Param};
use crate::introspect::TableDef;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Compare {
    pub fn sql(self) -> &'static str {
        match self {
            Compare::Eq => "=",
            Compare::Neq => "<>",
            Compare::Gt => ">",
            Compare::Gte => ">=",
            Compare::Lt => "<",
            Compare::Lte => "<=",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Is {
    Null,
    True,
    False,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare(Compare, Param),
    /// The pattern, already in the dialect's syntax (`%`/`_` for LIKE, `*`/`?` for GLOB).
    Like {
        pattern: Param,
        case_insensitive: bool,
    },
    In(Vec<Param>),
    Is(Is),
}

/// One filter: a column (index into the relation), a condition, maybe negated.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub column: usize,
    pub negate: bool,
    pub condition: Condition,
}

/// Parses the filter `name=value` on column `column` of `table`.
pub fn parse(dialect: Dialect, table: &TableDef, column: usize, name: &str, value: &str) -> Result<Filter, BadRequest> {
    value::refuse_nul(value, name)?;
    let (negate, rest) = match value.strip_prefix("not.") {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let Some((op, operand)) = rest.split_once('.') else {
        return Err(BadRequest::new(
            name,
            format!("{name}: expected operator.value (e.g. eq.5, in.(1,2), is.null), got {value:?}"),
        ));
    };
    let col = &table.relation.columns[column];
    let not_comparable =
        || BadRequest::new(name, format!("{name}: {} values cannot be compared (only is.null, like)", col.sql_type));
    let compare = |c| -> Result<Condition, BadRequest> {
        if !value::compares(&col.column_type) {
            return Err(not_comparable());
        }
        Ok(Condition::Compare(c, value::parse(dialect, table, column, operand, name)?))
    };
    let condition = match op {
        "eq" => compare(Compare::Eq)?,
        "neq" => compare(Compare::Neq)?,
        "gt" => compare(Compare::Gt)?,
        "gte" => compare(Compare::Gte)?,
        "lt" => compare(Compare::Lt)?,
        "lte" => compare(Compare::Lte)?,
        "like" | "ilike" => {
            let case_insensitive = op == "ilike";
            let like = operand.replace('*', "%");
            let pattern = match (dialect, case_insensitive) {
                (Dialect::Sqlite, false) => like_to_glob(&like),
                _ => like,
            };
            let pattern = Param { bind: super::Bind::Text(pattern), cast: None, check: false, origin: name.to_owned() };
            Condition::Like { pattern, case_insensitive }
        }
        "in" => {
            if !value::compares(&col.column_type) {
                return Err(not_comparable());
            }
            let items = parse_list(operand).ok_or_else(|| {
                BadRequest::new(name, format!("{name}: in takes a list in parentheses, like in.(1,2,\"a,b\"), got {operand:?}"))
            })?;
            Condition::In(items.iter().map(|item| value::parse(dialect, table, column, item, name)).collect::<Result<_, _>>()?)
        }
        "is" => Condition::Is(match operand {
            "null" => Is::Null,
            "true" | "false" if !matches!(col.column_type, ColumnType::Bool) && dialect == Dialect::Postgres => {
                return Err(BadRequest::new(name, format!("{name}: is.{operand} needs a boolean column; {:?} is {}", col.name, col.sql_type)))
            }
            "true" => Is::True,
            "false" => Is::False,
            _ => return Err(BadRequest::new(name, format!("{name}: is takes null, true or false, got {operand:?}"))),
        }),
        _ => {
            return Err(BadRequest::new(
                name,
                format!("{name}: unknown operator {op:?}; use eq, neq, gt, gte, lt, lte, like, ilike, in, is (optionally after not.)"),
            ))
        }
    };
    Ok(Filter { column, negate, condition })
}

/// `(a,b,"c,d")` → `["a", "b", "c,d"]`. Inside quotes, `\` escapes the next character.
fn parse_list(text: &str) -> Option<Vec<String>> {
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    let mut items = Vec::new();
    if inner.is_empty() {
        return Some(items);
    }
    let mut chars = inner.chars().peekable();
    loop {
        let mut item = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '\\' => item.push(chars.next()?),
                    '"' => break,
                    c => item.push(c),
                }
            }
            match chars.next() {
                None => {
                    items.push(item);
                    return Some(items);
                }
                Some(',') => items.push(item),
                Some(_) => return None,
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        items.push(item);
                        return Some(items);
                    }
                    Some(',') => {
                        items.push(item);
                        break;
                    }
                    Some(c) => item.push(c),
                }
            }
        }
    }
}

/// A LIKE pattern (`%`, `_`, `\` escaping) as a case-sensitive GLOB pattern: SQLite's LIKE
/// ignores ASCII case, PostgreSQL's does not.
fn like_to_glob(like: &str) -> String {
    let mut out = String::with_capacity(like.len());
    let mut chars = like.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '\\' => match chars.next() {
                Some(next) => push_glob_literal(&mut out, next),
                None => push_glob_literal(&mut out, '\\'),
            },
            other => push_glob_literal(&mut out, other),
        }
    }
    out
}

fn push_glob_literal(out: &mut String, c: char) {
    match c {
        '*' | '?' | '[' => {
            out.push('[');
            out.push(c);
            out.push(']');
        }
        _ => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lists() {
        assert_eq!(parse_list("(a,b,\"c,d\")").unwrap(), ["a", "b", "c,d"]);
        assert_eq!(parse_list("()").unwrap(), Vec::<String>::new());
        assert_eq!(parse_list("(\"say \\\"hi\\\"\",)").unwrap(), ["say \"hi\"", ""]);
        assert_eq!(parse_list("(1)").unwrap(), ["1"]);
        assert!(parse_list("1,2").is_none());
        assert!(parse_list("(\"open)").is_none());
        assert!(parse_list("(\"a\"b)").is_none());
    }

    #[test]
    fn like_becomes_glob() {
        assert_eq!(like_to_glob("a%b_c"), "a*b?c");
        assert_eq!(like_to_glob("x*[?"), "x[*][[][?]");
        assert_eq!(like_to_glob("50\\%"), "50%");
    }
}
