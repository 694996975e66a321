//! [`RowStore`]: every received row, kept compact and outside the reactive graph.
//!
//! Half a million rows as `Message`s would be a million small `String`s; as DOM nodes or
//! signals, far worse. Here a row costs 32 bytes of columns plus its text: `id` and
//! `created_at` are plain `i64` columns, and `sender` + `body` are appended to text pages.
//! Pages have a fixed capacity, so growing the store never copies the text already stored
//! (a single `String` would briefly need twice its size each time it doubled).

use shared::{MessageRef, Timestamp};

/// Text page capacity. Big enough that the waste at each page's end (at most one row's
/// text) is negligible, small enough that a fresh page is a cheap allocation.
const PAGE_BYTES: usize = 1 << 20;

/// Where one row's text lives: `sender` then `body`, back to back in one page.
#[derive(Debug, Clone, Copy)]
struct TextRef {
    page: u32,
    start: u32,
    sender_len: u32,
    body_len: u32,
}

/// One stored row, borrowed from the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowRef<'a> {
    pub id: i64,
    pub sender: &'a str,
    pub body: &'a str,
    pub created_at: Timestamp,
}

#[derive(Debug, Default)]
pub struct RowStore {
    ids: Vec<i64>,
    created_at: Vec<i64>,
    text: Vec<TextRef>,
    pages: Vec<String>,
}

impl RowStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Forgets every row (and frees the text pages) for a new run.
    pub fn clear(&mut self) {
        self.ids.clear();
        self.created_at.clear();
        self.text.clear();
        self.pages.clear();
    }

    pub fn push(&mut self, message: &MessageRef<'_>) {
        let text = self.push_text(&message.sender, &message.body);
        self.ids.push(message.id);
        self.created_at.push(message.created_at.unix_micros());
        self.text.push(text);
    }

    fn push_text(&mut self, sender: &str, body: &str) -> TextRef {
        let needed = sender.len() + body.len();
        let fits = self.pages.last().is_some_and(|page| page.capacity() - page.len() >= needed);
        if !fits {
            // An oversized row gets a page of its own size; the next row starts a new page.
            self.pages.push(String::with_capacity(needed.max(PAGE_BYTES)));
        }
        let page_index = self.pages.len() - 1;
        let page = &mut self.pages[page_index];
        let start = page.len();
        page.push_str(sender);
        page.push_str(body);
        TextRef {
            page: page_index as u32,
            start: start as u32,
            sender_len: sender.len() as u32,
            body_len: body.len() as u32,
        }
    }

    pub fn get(&self, index: usize) -> Option<RowRef<'_>> {
        let text = *self.text.get(index)?;
        let page = self.pages.get(text.page as usize)?;
        let sender_start = text.start as usize;
        let body_start = sender_start + text.sender_len as usize;
        Some(RowRef {
            id: self.ids[index],
            sender: page.get(sender_start..body_start)?,
            body: page.get(body_start..body_start + text.body_len as usize)?,
            created_at: Timestamp(self.created_at[index]),
        })
    }

    /// Bytes held, including spare capacity: what the store costs in Wasm memory.
    pub fn heap_bytes(&self) -> usize {
        self.ids.capacity() * 8
            + self.created_at.capacity() * 8
            + self.text.capacity() * std::mem::size_of::<TextRef>()
            + self.pages.iter().map(String::capacity).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<'a>(id: i64, sender: &'a str, body: &'a str) -> MessageRef<'a> {
        MessageRef { id, sender: sender.into(), body: body.into(), created_at: Timestamp(id * 1_000_000) }
    }

    #[test]
    fn stores_and_reads_back_rows() {
        let mut store = RowStore::new();
        store.push(&message(1, "ada", "hello"));
        store.push(&message(2, "", "naïve café ✓\nsecond line"));
        store.push(&message(3, "grace", ""));
        assert_eq!(store.len(), 3);
        let row = store.get(1).unwrap();
        assert_eq!((row.id, row.sender, row.body), (2, "", "naïve café ✓\nsecond line"));
        assert_eq!(row.created_at, Timestamp(2_000_000));
        assert_eq!(store.get(2).unwrap().sender, "grace");
        assert_eq!(store.get(3), None);
        store.clear();
        assert!(store.is_empty() && store.get(0).is_none());
    }

    #[test]
    fn rows_never_straddle_pages_and_huge_rows_get_their_own() {
        let mut store = RowStore::new();
        let body = "x".repeat(1000);
        for id in 0..3000 {
            store.push(&message(id, "s", &body));
        }
        let huge = "y".repeat(PAGE_BYTES * 2);
        store.push(&message(3000, "big", &huge));
        store.push(&message(3001, "after", "tail"));
        for id in 0..3000 {
            let row = store.get(id).unwrap();
            assert_eq!((row.id, row.sender, row.body.len()), (id as i64, "s", 1000));
        }
        assert_eq!(store.get(3000).unwrap().body.len(), PAGE_BYTES * 2);
        assert_eq!(store.get(3001).unwrap().body, "tail");
        // Three full-ish pages for the small rows, one for the huge row, one for the tail.
        assert_eq!(store.pages.len(), 5);
        assert!(store.heap_bytes() >= 3000 * 1001 + PAGE_BYTES * 2);
    }
}
