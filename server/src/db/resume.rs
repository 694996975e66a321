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
//! [`ResumableMessages`]: `/api/messages`, resumed by id. Its head and bulk queries already
//! read a snapshot each (see [`super::rows::stream_rows`]); a resumed part reads one more.
//! Every row sent was committed, and every row committed before the stream began and still
//! present is sent once, in id order. Streams that have no key to resume by (saved queries,
//! ad-hoc SQL, relations without a primary key) and relation streams (which promise one
//! snapshot for the whole stream) are [`Unparkable`]: they keep their connection.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, Stream};

use super::rows::{stream_messages, MessageItem, RowRange};
use super::{Connection, Database, RowStreamError};
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

/// The `messages` rows of a range (see [`stream_messages`]), resumable by id. `S` is the
/// type of [`stream_messages`]'s stream, named by inference: a boxed `dyn Stream` here cost
/// ~15% of the stream's time (every row through a virtual call, nothing inlined).
pub struct ResumableMessages<S> {
    db: Database,
    role: Option<Role>,
    /// What is left to send: strictly after the last row yielded, at most the rows still
    /// wanted.
    left: RowRange,
    current: Option<Pin<Box<S>>>,
    /// Takes a connection and starts the query again, after a park.
    reopen: Reopen<S>,
    opening: Option<BoxFuture<'static, Result<S, RowStreamError>>>,
    ended: bool,
}

type Reopen<S> = fn(Database, RowRange, Option<Role>) -> BoxFuture<'static, Result<S, RowStreamError>>;

/// Starts `range` on `connection` (taken by the handler, so that a busy pool is a 503
/// before the status line); later parts take theirs from `db`.
pub async fn resumable_messages(
    db: Database,
    connection: Connection,
    range: RowRange,
    role: Option<Role>,
) -> Result<ResumableMessages<impl Stream<Item = Result<MessageItem, RowStreamError>> + Send + 'static>, RowStreamError>
{
    let current = stream_messages(connection, range, role.as_ref()).await?;
    // The same function, so the same stream type as `current`.
    let reopen: Reopen<_> = |db, range, role| {
        async move {
            let connection = db.acquire().await?;
            stream_messages(connection, range, role.as_ref()).await
        }
        .boxed()
    };
    Ok(ResumableMessages {
        db,
        role,
        left: range,
        current: Some(Box::pin(current)),
        reopen,
        opening: None,
        ended: false,
    })
}

impl<S> Stream for ResumableMessages<S>
where
    S: Stream<Item = Result<MessageItem, RowStreamError>> + Send + 'static,
{
    type Item = Result<MessageItem, RowStreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        if this.current.is_none() {
            let (reopen, db, left, role) = (this.reopen, &this.db, this.left, &this.role);
            let opening = this.opening.get_or_insert_with(|| reopen(db.clone(), left, role.clone()));
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
        let Some(current) = this.current.as_mut() else {
            return Poll::Ready(None);
        };
        let mut item = ready!(current.as_mut().poll_next(cx));
        match &mut item {
            Some(Ok(MessageItem::Row(row))) => {
                this.left.after = Some(row.id);
                this.left.limit = this.left.limit.map(|l| l.saturating_sub(1));
            }
            Some(Ok(MessageItem::End { cut, next })) => {
                // A part resumed with no rows left to send knows of none it sent itself.
                if *cut && next.is_none() {
                    *next = this.left.after;
                }
                this.ended = true;
            }
            Some(Err(_)) | None => this.ended = true,
        }
        Poll::Ready(item)
    }
}

impl<S> Park for ResumableMessages<S> {
    fn park(&mut self) -> bool {
        if self.ended || self.current.is_none() {
            return false;
        }
        // Dropping the stream closes its connection (`rows::CloseUnlessFinished`).
        self.current = None;
        true
    }
}
