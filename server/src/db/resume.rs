//! Row streams that can give their connection back while their client reads slowly, and
//! take one again to go on strictly after the last row they yielded ([`Park`]).
//!
//! Without this, every client that stops reading keeps a pooled connection for as long as
//! it dawdles: `--pool-size` slow readers would leave nothing for anyone else. The body
//! (`crate::body::streamed_with`) parks a stream whose chunks have waited `--park-after`
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
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, Stream, StreamExt, TryStreamExt};

use super::rows::{stream_messages, MessageItem, RowRange};
use super::{Connection, Database, RowStreamError};
use crate::source::role::Role;

/// A row stream that can give its database connection back and resume later.
pub trait Park {
    /// Drops the running query and its connection; the next poll takes a connection again
    /// and resumes strictly after the last item yielded. `false`: this stream cannot resume,
    /// so it keeps its query (and its connection).
    fn park(&mut self) -> bool;
}

impl<S: Park, F> Park for futures_util::stream::MapOk<S, F> {
    fn park(&mut self) -> bool {
        self.get_mut().park()
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
}

type MessageRows = BoxStream<'static, Result<MessageItem, RowStreamError>>;

/// The `messages` rows of a range (see [`stream_messages`]), resumable by id.
pub struct ResumableMessages {
    db: Database,
    role: Option<Role>,
    /// What is left to send: strictly after the last row yielded, at most the rows still
    /// wanted.
    left: RowRange,
    current: Option<MessageRows>,
    /// Taking a connection and starting the query again, after a park.
    opening: Option<BoxFuture<'static, Result<MessageRows, RowStreamError>>>,
    ended: bool,
}

impl ResumableMessages {
    /// Starts on `connection` (taken by the handler, so that a busy pool is a 503 before the
    /// status line); later parts take theirs from `db`.
    pub async fn start(
        db: Database,
        connection: Connection,
        range: RowRange,
        role: Option<Role>,
    ) -> Result<ResumableMessages, RowStreamError> {
        let current = open(connection, range, role.clone()).await?;
        Ok(ResumableMessages { db, role, left: range, current: Some(current), opening: None, ended: false })
    }
}

async fn open(connection: Connection, range: RowRange, role: Option<Role>) -> Result<MessageRows, RowStreamError> {
    Ok(stream_messages(connection, range, role.as_ref()).await?.map_err(RowStreamError::from).boxed())
}

async fn reopen(db: Database, range: RowRange, role: Option<Role>) -> Result<MessageRows, RowStreamError> {
    let connection = db.acquire().await?;
    open(connection, range, role).await
}

impl Stream for ResumableMessages {
    type Item = Result<MessageItem, RowStreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        if this.current.is_none() {
            let (db, left, role) = (&this.db, this.left, &this.role);
            let opening = this.opening.get_or_insert_with(|| reopen(db.clone(), left, role.clone()).boxed());
            let opened = ready!(opening.poll_unpin(cx));
            this.opening = None;
            match opened {
                Ok(rows) => this.current = Some(rows),
                Err(error) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(error)));
                }
            }
        }
        let Some(current) = this.current.as_mut() else {
            return Poll::Ready(None);
        };
        let mut item = ready!(current.poll_next_unpin(cx));
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

impl Park for ResumableMessages {
    fn park(&mut self) -> bool {
        if self.ended || self.current.is_none() {
            return false;
        }
        // Dropping the stream closes its connection (`rows::CloseUnlessFinished`).
        self.current = None;
        true
    }
}
