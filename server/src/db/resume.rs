//! Row streams that can give their connection back while their client reads slowly, and
//! take one again to go on strictly after the last row they yielded ([`Park`]).
//!
//! Without this, every client that stops reading keeps a pooled connection for as long as
//! it dawdles: `--pool-size` slow readers would leave nothing for anyone else. The body
//! (`crate::body::streamed_with`) parks a stream whose last chunk has waited `--park-after`
//! for the client; parking drops the running query and closes its connection (PostgreSQL
//! stops the query), and the next poll takes a connection from the pool again and resumes
//! by key, exactly as a client resuming with `after=` would.
//!
//! [`ResumableRows`]: a relation's rows (`/api/tables/{name}/rows`, `/api/messages`),
//! resumed by the sort-column values of the last row sent, as `after=` would. Each part
//! reads one snapshot: a stream that never parks reads one for all its rows; one that parks
//! reads a new one from the row after its last, so every row sent was committed, and every
//! row committed before the stream began and still present is sent once, in order
//! (`--park-after 0s` keeps one snapshot per stream, and a connection per slow reader).
//! Streams that have no key to resume by (saved queries, ad-hoc SQL, relations without a
//! primary key, the seed's `/standard` and `/chunked`) are [`Unparkable`]: they keep their
//! connection.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, Stream};
use shared::ColumnType;

use super::table_rows::{key_params, stream_table, Part, Row, TableItem};
use super::{Connection, Database, RowStreamError};
use crate::cell::Cell;
use crate::source::keyset::{self, Key};
use crate::source::query::Plan;
use crate::source::role::Role;

/// A row stream that can give its database connection back and resume later.
pub trait Park {
    /// Drops the running query and its connection; the next poll takes a connection again
    /// and resumes strictly after the last item yielded. `false`: this stream cannot resume,
    /// so it keeps its query (and its connection).
    fn park(&mut self) -> bool;

    /// Whether [`Park::park`] can ever do anything (no watchdog is started otherwise).
    fn can_park(&self) -> bool {
        true
    }
}

impl<S: Park, F> Park for futures_util::stream::MapOk<S, F> {
    fn park(&mut self) -> bool {
        self.get_mut().park()
    }

    fn can_park(&self) -> bool {
        self.get_ref().can_park()
    }
}

/// A row stream that cannot park: it keeps its connection while its client reads.
pub struct Unparkable<S>(Pin<Box<S>>);

impl<S> Unparkable<S> {
    pub fn new(rows: S) -> Self {
        Unparkable(Box::pin(rows))
    }
}

impl<S: Stream> Stream for Unparkable<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.0.as_mut().poll_next(cx)
    }
}

impl<S> Park for Unparkable<S> {
    fn park(&mut self) -> bool {
        false
    }

    fn can_park(&self) -> bool {
        false
    }
}

/// A relation's rows (see [`stream_table`]), resumable by key when the relation has a
/// primary key. It sends each row's requested cells and keeps the sort keys of the last
/// one ([`LastKey`]), which is where a part started after a park resumes (its `after=`),
/// with the rows still wanted as its `limit`. `S` is the type of [`stream_table`]'s stream, named by
/// inference: a boxed `dyn Stream` here cost ~15% of the stream's time (every row through a
/// virtual call, nothing inlined).
pub struct ResumableRows<S> {
    db: Database,
    role: Option<Role>,
    /// The request as it began.
    plan: Plan,
    /// Rows yielded so far.
    sent: u64,
    /// The type of each read column (of a row as [`stream_table`] yields it).
    read_types: Vec<ColumnType>,
    /// The sort keys of the last row yielded.
    last_key: LastKey,
    /// Rows read and not yet yielded (the rest of the part's last block).
    ready: std::vec::IntoIter<Row>,
    current: Option<Pin<Box<S>>>,
    /// Takes a connection and starts the query again, after a park.
    reopen: Reopen<S>,
    opening: Option<BoxFuture<'static, Result<S, RowStreamError>>>,
    ended: bool,
}

/// The sort keys of the last row yielded: its key cells, or a binary COPY row itself (kept
/// by reference to the chunk it came in, no copy), decoded only when a resume needs them.
enum LastKey {
    None,
    Cells(Vec<Cell>),
    Copy(Row),
}

impl LastKey {
    fn cells(&self, plan: &Plan, read_types: &[ColumnType]) -> Vec<Cell> {
        match self {
            LastKey::None => Vec::new(),
            LastKey::Cells(cells) => cells.clone(),
            LastKey::Copy(row) => row.cells_at(&plan.key_slots, read_types),
        }
    }
}

/// Takes a connection and starts the rest of the stream after a park.
type Reopen<S> = fn(Database, Plan, Option<Role>) -> BoxFuture<'static, Result<S, RowStreamError>>;

/// Starts `plan` on `connection` (taken by the handler, so that a busy pool is a 503
/// before the status line); later parts take theirs from `db`.
pub fn resumable_rows(
    db: Database,
    connection: Connection,
    plan: Plan,
    role: Option<Role>,
) -> ResumableRows<impl Stream<Item = Result<Part, RowStreamError>> + Send + 'static> {
    let current = stream_table(connection, plan.clone(), role.clone());
    // The same function, so the same stream type as `current`.
    let reopen: Reopen<_> = |db, plan, role| {
        async move {
            let connection = db.acquire().await?;
            Ok(stream_table(connection, plan, role))
        }
        .boxed()
    };
    ResumableRows {
        db,
        role,
        read_types: plan.read_types(),
        plan,
        sent: 0,
        last_key: LastKey::None,
        ready: Vec::new().into_iter(),
        current: Some(Box::pin(current)),
        reopen,
        opening: None,
        ended: false,
    }
}

impl<S> ResumableRows<S> {
    /// The request of the part that resumes after the last row yielded.
    fn rest(&self) -> Result<Plan, RowStreamError> {
        let mut plan = self.plan.clone();
        let keys = self.last_key.cells(&self.plan, &self.read_types);
        if !keys.is_empty() {
            plan.request.after = Some(key_params(&plan, &keys).map_err(RowStreamError::BadValue)?);
        }
        plan.request.limit = plan.request.limit.map(|l| l.saturating_sub(self.sent));
        Ok(plan)
    }
}

impl<S> Stream for ResumableRows<S>
where
    S: Stream<Item = Result<Part, RowStreamError>> + Send + 'static,
{
    type Item = Result<TableItem, RowStreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        if this.current.is_none() {
            let opening = match this.opening.as_mut() {
                Some(opening) => opening,
                None => match this.rest() {
                    Ok(plan) => this.opening.insert((this.reopen)(this.db.clone(), plan, this.role.clone())),
                    Err(error) => {
                        this.ended = true;
                        return Poll::Ready(Some(Err(error)));
                    }
                },
            };
            let opened = ready!(opening.poll_unpin(cx));
            this.opening = None;
            match opened {
                Ok(rows) => this.current = Some(Box::pin(rows)),
                Err(error) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(error)));
                }
            }
        }
        loop {
            if let Some(mut row) = this.ready.next() {
                this.yielded(&mut row);
                return Poll::Ready(Some(Ok(TableItem::Row(row))));
            }
            let Some(current) = this.current.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(current.as_mut().poll_next(cx)) {
                Some(Ok(Part::Rows(rows))) => this.ready = rows.into_iter(),
                Some(Ok(Part::End { cut, mut next })) => {
                    // A part resumed with no rows left to send knows of none it sent itself.
                    let keys = this.last_key.cells(&this.plan, &this.read_types);
                    if cut && next.is_none() && !keys.is_empty() {
                        let keys = keys.iter().map(Key::of).collect();
                        next = Some(keyset::encode(&this.plan.request, keys));
                    }
                    this.ended = true;
                    return Poll::Ready(Some(Ok(TableItem::End { cut, next })));
                }
                Some(Err(error)) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(error)));
                }
                None => {
                    this.ended = true;
                    return Poll::Ready(None);
                }
            }
        }
    }
}

impl<S> ResumableRows<S> {
    /// Notes `row` as sent: its sort keys, the count; and trims it to the requested cells.
    fn yielded(&mut self, row: &mut Row) {
        if self.plan.request.keyed() {
            match (&*row, &mut self.last_key) {
                // The same allocation, row after row.
                (Row::Cells(cells), LastKey::Cells(keys)) => {
                    keys.clear();
                    keys.extend(self.plan.key_slots.iter().map(|s| cells.get(*s).cloned().unwrap_or(Cell::Null)));
                }
                (Row::Cells(_), last) => *last = LastKey::Cells(row.cells_at(&self.plan.key_slots, &self.read_types)),
                (Row::Copy(_), last) => *last = LastKey::Copy(row.clone()),
            }
        }
        row.truncate(self.plan.visible());
        self.sent += 1;
    }
}

impl<S> Park for ResumableRows<S> {
    fn park(&mut self) -> bool {
        if self.ended || self.current.is_none() || !self.can_park() {
            return false;
        }
        // Dropping the stream closes its connection (`rows::CloseUnlessFinished`); the rows
        // it read ahead are read again after the last one sent.
        self.current = None;
        self.ready = Vec::new().into_iter();
        true
    }

    /// Only a relation with a primary key has an order to resume in.
    fn can_park(&self) -> bool {
        self.plan.request.keyed()
    }
}
