//! Reading as a request: the read-only transaction every row stream runs in (with the
//! request's role, `--jwt-role-claim`), and the rows of one statement that is not a
//! relation (a saved query, an ad-hoc `POST /api/sql`).
//!
//! - [`begin`]: `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY` on PostgreSQL, then
//!   `SET LOCAL ROLE` when the request has a role; SQLite: nothing (one statement, one snapshot).
//!   A role that does not exist or may not be assumed rolls the transaction back and is a
//!   [`RowStreamError::ForbiddenRole`]; the connection is clean again.
//! - [`StatementReader`]: one connection for one statement: [`StatementReader::describe`]
//!   (prepare it: result columns and, on PostgreSQL, parameter types),
//!   [`StatementReader::check`] (let PostgreSQL parse the text parameters once), then
//!   [`StatementReader::rows`]: a stream like [`super::table_rows::stream_table`]'s (one
//!   query, no head/bulk split: a query has no key to resume after), close-on-drop
//!   included. A reader made with `keep: false` (ad-hoc SQL) never returns its connection
//!   to the pool: whatever session state the statement changed (`set_config`, advisory
//!   locks) goes with the connection.

use futures_util::{Stream, StreamExt as _};
use shared::{Column, ColumnType};
use sqlx::postgres::types::Oid;
use sqlx::{Column as _, Either, Executor as _, Statement as _, TypeInfo as _};

use super::error::RowStreamError;
use super::rows::CloseUnlessFinished;
use super::table_rows::{check_params, fetch, one_item_a_row, within_limit, Part, TableItem};
use super::{pg_types, Connection};
use crate::source::role::Role;
use crate::source::{Param, Statement};

/// The SQL name of a type by OID (schema-qualified and quoted where it must be), for the
/// cast of a parameter whose type is not built in.
pub const FORMAT_TYPE_SQL: &str = "SELECT format_type($1, NULL)";

/// Starts the read-only transaction a stream reads in, as `role` when given (PostgreSQL).
/// SQLite has none to start: a stream there is one statement, which reads one snapshot, on
/// a read-only connection of [`super::sqlite_read`].
pub(super) async fn begin(connection: &mut Connection, role: Option<&Role>) -> Result<(), RowStreamError> {
    let Connection::Postgres(conn, _) = connection else {
        return Ok(());
    };
    // The simple protocol: one round trip, nothing to prepare on a new connection, and
    // nothing prepared (or cached) per role name. With a role, both statements go in one
    // message. (`Executor::execute`: `RawSql::execute`'s future is not `Send` for every
    // lifetime.)
    let Some(role) = role else {
        (&mut **conn).execute(sqlx::raw_sql(BEGIN_SQL)).await?;
        return Ok(());
    };
    let begin_as = format!("{BEGIN_SQL}; {}", role.set_local_sql());
    match (&mut **conn).execute(sqlx::raw_sql(&begin_as)).await {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(error)) => {
            // `BEGIN` itself cannot fail here: the role was refused, in the transaction.
            let message = error.message().to_owned();
            (&mut **conn).execute(sqlx::raw_sql("ROLLBACK")).await?;
            Err(RowStreamError::ForbiddenRole { role: role.name().to_owned(), message })
        }
        Err(other) => Err(other.into()),
    }
}

const BEGIN_SQL: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

/// Commits the transaction [`begin`] started (PostgreSQL); a SQLite stream has none.
pub(super) async fn commit(connection: &mut Connection) -> Result<(), sqlx::Error> {
    match connection {
        Connection::Postgres(conn, _) => (&mut **conn).execute(sqlx::raw_sql("COMMIT")).await.map(drop),
        Connection::Sqlite(..) => Ok(()),
    }
}

/// A connection in the transaction [`begin_as`] started (closed if dropped):
/// [`super::rows::stream_rows_in`] reads `messages` in it and commits at its end.
pub struct InTransaction(pub(super) CloseUnlessFinished);

/// [`begin`] as `role`, for a stream that reads afterwards. A refused role leaves the
/// connection clean (back to the pool); any other failure closes it.
pub async fn begin_as(connection: Connection, role: &Role) -> Result<InTransaction, RowStreamError> {
    let mut connection = CloseUnlessFinished::new(connection);
    match begin(connection.get_mut(), Some(role)).await {
        Ok(()) => Ok(InTransaction(connection)),
        Err(error) => {
            if matches!(error, RowStreamError::ForbiddenRole { .. }) {
                connection.finished();
            }
            Err(error)
        }
    }
}

/// What the database says a statement returns and takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    /// Result columns, in order (`nullable`: always true, nothing says otherwise).
    pub columns: Vec<Column>,
    /// PostgreSQL: each parameter's type and the SQL name to cast its text to. SQLite: empty
    /// (its parameters have no types).
    pub params: Vec<(ColumnType, String)>,
}

/// One connection, for one statement's rows (see the module doc).
pub struct StatementReader {
    connection: CloseUnlessFinished,
    /// Whether the connection goes back to the pool when the statement is done.
    keep: bool,
}

impl StatementReader {
    pub fn new(connection: Connection, keep: bool) -> StatementReader {
        StatementReader { connection: CloseUnlessFinished::new(connection), keep }
    }

    /// Done without reading rows (after [`StatementReader::describe`]): the connection goes
    /// back to the pool when `keep`, is closed otherwise.
    pub fn done(mut self) {
        if self.keep {
            self.connection.finished();
        }
    }

    /// After a failure the database answered cleanly: the connection may be reused.
    fn settle(&mut self, error: &RowStreamError) {
        if self.keep && !matches!(error, RowStreamError::Database(_)) {
            self.connection.finished();
        }
    }

    /// Forgets the statements sqlx keeps prepared on this connection, so that the next
    /// [`StatementReader::describe`] asks the database afresh (a table may have changed
    /// since the connection prepared a statement over it).
    pub async fn forget_prepared(&mut self) -> Result<(), RowStreamError> {
        use sqlx::Connection as _;
        match self.connection.get_mut() {
            Connection::Postgres(conn, _) => conn.clear_cached_statements().await?,
            Connection::Sqlite(conn, _) => {
                conn.clear_cached_statements().await?;
                // SQLite prepares against the schema the connection last loaded; a statement
                // that reads the schema table notices a change and reloads it.
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sqlite_master").fetch_one(&mut **conn).await?;
            }
        }
        Ok(())
    }

    /// Prepares `sql` (without running it): its result columns and parameter types. SQL
    /// the database cannot prepare is a [`RowStreamError::BadSql`].
    pub async fn describe(&mut self, sql: &str) -> Result<Described, RowStreamError> {
        let result = describe(self.connection.get_mut(), sql).await;
        if let Err(error) = &result {
            self.settle(error);
        }
        result
    }

    /// Lets PostgreSQL parse the text parameters that only it reads exactly; a value it
    /// rejects is a 400 naming its parameter.
    pub async fn check(&mut self, params: &[Param]) -> Result<(), RowStreamError> {
        let result = check_params(self.connection.get_mut(), params).await;
        if let Err(error) = &result {
            self.settle(error);
        }
        result
    }

    /// The statement's rows, in a read-only transaction as `role`: each row, then
    /// one [`TableItem::End`] (`cut` when `limit` stopped it; never a `next` token).
    /// `statement.limit` must be `limit + 1`: one row more tells whether `limit` cut.
    pub fn rows(
        self,
        role: Option<Role>,
        statement: Statement,
        limit: Option<u64>,
        types: Vec<ColumnType>,
    ) -> impl Stream<Item = Result<TableItem, RowStreamError>> + Send + 'static {
        let StatementReader { mut connection, keep } = self;
        let parts = async_stream::try_stream! {
            if let Err(error) = begin(connection.get_mut(), role.as_ref()).await {
                if keep && matches!(error, RowStreamError::ForbiddenRole { .. }) {
                    connection.finished();
                }
                Err(error)?;
            }
            let mut sent: u64 = 0;
            let mut cut = false;
            {
                let mut blocks = fetch(connection.get_mut(), &statement, &types);
                while let Some(block) = blocks.next().await {
                    let (rows, failed) = within_limit(block, limit, &mut sent, &mut cut, |_, _| {});
                    if !rows.is_empty() {
                        yield Part::Rows(rows);
                    }
                    if let Some(error) = failed {
                        Err(error)?;
                    }
                }
            }
            commit(connection.get_mut()).await?;
            if keep {
                connection.finished();
            }
            yield Part::End { cut, next: None };
        };
        one_item_a_row(parts)
    }
}

async fn describe(connection: &mut Connection, sql: &str) -> Result<Described, RowStreamError> {
    match connection {
        Connection::Postgres(conn, _) => {
            let statement = (&mut **conn).prepare(sql).await.map_err(bad_sql)?;
            let columns = statement
                .columns()
                .iter()
                .map(|c| Column {
                    name: c.name().to_owned(),
                    column_type: pg_types::column_type(c.type_info()),
                    nullable: true,
                    sql_type: pg_types::sql_type(c.type_info()),
                })
                .collect();
            let types = match statement.parameters() {
                Some(Either::Left(types)) => types.to_vec(),
                _ => Vec::new(),
            };
            let mut params = Vec::with_capacity(types.len());
            for info in &types {
                let cast = match pg_types::builtin_cast(info) {
                    Some(cast) => cast,
                    None => {
                        let oid = info.oid().unwrap_or(Oid(25));
                        sqlx::query_scalar::<_, String>(FORMAT_TYPE_SQL).bind(oid).fetch_one(&mut **conn).await?
                    }
                };
                params.push((pg_types::column_type(info), cast));
            }
            Ok(Described { columns, params })
        }
        Connection::Sqlite(conn, _) => {
            let statement = (&mut **conn).prepare(sql).await.map_err(bad_sql)?;
            let columns = statement
                .columns()
                .iter()
                .map(|c| {
                    // Expressions have no declared type (sqlx says NULL): no affinity.
                    let declared = match c.type_info().name() {
                        "NULL" => "",
                        name => name,
                    };
                    Column {
                        name: c.name().to_owned(),
                        column_type: ColumnType::from_sqlite_declared(declared),
                        nullable: true,
                        sql_type: declared.to_owned(),
                    }
                })
                .collect();
            Ok(Described { columns, params: Vec::new() })
        }
    }
}

/// A statement the database refuses to prepare: SQL it cannot run as written (syntax,
/// unknown names, ambiguous types: SQLSTATE classes 42 and 0A, SQLite's generic error) is
/// the request's fault; anything else is not.
fn bad_sql(error: sqlx::Error) -> RowStreamError {
    match &error {
        sqlx::Error::Database(e) => {
            let code = e.code().unwrap_or_default();
            let sqlite_error = code == "1";
            if (code.starts_with("42") && code != "42501")
                || code.starts_with("0A")
                || code.starts_with("22")
                || sqlite_error
            {
                RowStreamError::BadSql(e.message().to_owned())
            } else {
                error.into()
            }
        }
        _ => error.into(),
    }
}
