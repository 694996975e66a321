//! The virtualized table's geometry, as plain functions of numbers (tested on the host).
//!
//! Rows have a fixed height, so the table is a tall empty "spacer" that gives the scroll bar
//! its range, and one viewport-sized window that stays in view (`position: sticky`) and
//! shows whichever rows belong there. Browsers cap an element's height (Chromium at about
//! 33.5 million px, 1.2 million rows of 28 px), so the spacer is capped at [`MAX_SPACER_PX`]
//! and a scroll position maps to a row proportionally: the scroll bar then moves more than
//! one pixel per pixel of content, and the last row is still reachable.

/// Height of every table row, in CSS px; the stylesheet uses the same number.
pub const ROW_HEIGHT_PX: f64 = 28.0;

/// The tallest spacer we create: well under every browser's element-height limit.
pub const MAX_SPACER_PX: f64 = 10_000_000.0;

/// Rows rendered past the bottom edge, so a partly scrolled row never leaves a gap.
pub const OVERSCAN_ROWS: usize = 1;

/// Never render more rows than this, however tall the window.
pub const MAX_RENDERED_ROWS: usize = 100;

/// The height the spacer must have for `rows` rows.
pub fn spacer_height(rows: usize) -> f64 {
    (rows as f64 * ROW_HEIGHT_PX).min(MAX_SPACER_PX)
}

/// The largest `scrollTop` of a spacer for `rows` rows in a viewport `viewport_px` tall.
pub fn max_scroll_top(rows: usize, viewport_px: f64) -> f64 {
    (spacer_height(rows) - viewport_px).max(0.0)
}

/// Which rows to render, and how far up to shift them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Window {
    /// First rendered row.
    pub start: usize,
    /// One past the last rendered row.
    pub end: usize,
    /// How many px of row `start` lie above the viewport's top edge.
    pub offset_px: f64,
}

impl Window {
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// The rows visible for `scroll_top` (the spacer's scroll position) in a viewport
/// `viewport_px` tall; `follow` shows the last rows whatever the scroll position (the DOM's
/// `scrollTop` catches up a frame later).
pub fn window(rows: usize, viewport_px: f64, scroll_top: f64, follow: bool) -> Window {
    let viewport_px = viewport_px.max(0.0);
    let content_height = rows as f64 * ROW_HEIGHT_PX;
    let content_range = (content_height - viewport_px).max(0.0);
    let scroll_range = max_scroll_top(rows, viewport_px);
    let content_top = if follow {
        content_range
    } else if scroll_range > 0.0 {
        // Identity while the spacer is uncapped; proportional once it is.
        (scroll_top.clamp(0.0, scroll_range) / scroll_range) * content_range
    } else {
        0.0
    };
    let start = ((content_top / ROW_HEIGHT_PX).floor() as usize).min(rows);
    let offset_px = content_top - start as f64 * ROW_HEIGHT_PX;
    let visible = ((viewport_px + offset_px) / ROW_HEIGHT_PX).ceil() as usize + OVERSCAN_ROWS;
    let end = (start + visible.min(MAX_RENDERED_ROWS)).min(rows);
    Window { start, end, offset_px }
}

/// The `scrollTop` that puts row `row` at the top of the viewport (inverse of [`window`]).
pub fn scroll_top_for_row(rows: usize, viewport_px: f64, row: usize) -> f64 {
    let content_range = (rows as f64 * ROW_HEIGHT_PX - viewport_px).max(0.0);
    let scroll_range = max_scroll_top(rows, viewport_px);
    if content_range == 0.0 {
        return 0.0;
    }
    let content_top = (row as f64 * ROW_HEIGHT_PX).min(content_range);
    content_top / content_range * scroll_range
}

/// Whether a `scrollTop` is at (or within a row of) the bottom: the user is following.
pub fn is_at_bottom(scroll_top: f64, scroll_height: f64, client_height: f64) -> bool {
    scroll_top + client_height >= scroll_height - ROW_HEIGHT_PX / 2.0
}

/// Columns rendered beyond each side of the viewport, so a sideways scroll never shows a gap
/// before the next frame renders.
pub const OVERSCAN_COLUMNS: usize = 1;

/// Which columns to render: `lefts[i]` is column `i`'s left edge and `lefts[n]` the total
/// width (so `lefts` has one entry more than there are columns). Returns the first column
/// and one past the last one overlapping `[scroll_left, scroll_left + viewport_px)`, widened
/// by [`OVERSCAN_COLUMNS`]. A viewport not measured yet (0 px) shows the first columns
/// that fit a typical screen.
pub fn column_window(lefts: &[f64], viewport_px: f64, scroll_left: f64) -> (usize, usize) {
    let columns = lefts.len().saturating_sub(1);
    if columns == 0 {
        return (0, 0);
    }
    let viewport_px = if viewport_px > 0.0 { viewport_px } else { 1920.0 };
    let right = scroll_left.max(0.0) + viewport_px;
    // The first column whose right edge is past the left edge of the view.
    let first = lefts[1..].partition_point(|&edge| edge <= scroll_left.max(0.0)).min(columns - 1);
    // One past the last column whose left edge is before the right edge of the view.
    let last = lefts[..columns].partition_point(|&edge| edge < right).max(first + 1);
    (first.saturating_sub(OVERSCAN_COLUMNS), (last + OVERSCAN_COLUMNS).min(columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIEW: f64 = 28.0 * 20.0; // 20 rows

    #[test]
    fn small_tables_scroll_one_px_per_px() {
        assert_eq!(spacer_height(100), 2800.0);
        let w = window(100, VIEW, 0.0, false);
        assert_eq!((w.start, w.end, w.offset_px), (0, 21, 0.0));
        let w = window(100, VIEW, 28.0 * 10.5, false);
        assert_eq!((w.start, w.end, w.offset_px), (10, 32, 14.0));
        // At the bottom the last row is the last one rendered.
        let w = window(100, VIEW, max_scroll_top(100, VIEW), false);
        assert_eq!((w.start, w.end), (80, 100));
        assert_eq!(window(100, VIEW, 1e12, false), w);
    }

    #[test]
    fn fewer_rows_than_the_viewport_holds() {
        assert_eq!(window(0, VIEW, 0.0, true), Window::default());
        let w = window(5, VIEW, 50.0, true);
        assert_eq!((w.start, w.end, w.offset_px), (0, 5, 0.0));
        assert_eq!(max_scroll_top(5, VIEW), 0.0);
    }

    #[test]
    fn huge_tables_cap_the_spacer_and_still_reach_every_row() {
        let rows = 2_000_000; // 56 million px of content
        assert_eq!(spacer_height(rows), MAX_SPACER_PX);
        let bottom = window(rows, VIEW, max_scroll_top(rows, VIEW), false);
        assert_eq!((bottom.start, bottom.end), (rows - 20, rows));
        assert_eq!(bottom.offset_px, 0.0);
        let middle = window(rows, VIEW, max_scroll_top(rows, VIEW) / 2.0, false);
        assert!(middle.start.abs_diff(rows / 2 - 10) <= 1, "{middle:?}");
        assert!(middle.len() <= 22);
        for row in [0, 1, 12_345, rows / 3, rows - 20] {
            let w = window(rows, VIEW, scroll_top_for_row(rows, VIEW, row), false);
            assert!(w.start.abs_diff(row) <= 1, "row {row}: {w:?}");
        }
    }

    #[test]
    fn follow_shows_the_tail_whatever_the_scroll_position() {
        let w = window(1_000, VIEW, 0.0, true);
        assert_eq!((w.start, w.end), (980, 1_000));
        let w = window(5_000_000, VIEW, 0.0, true);
        assert_eq!(w.end, 5_000_000);
    }

    #[test]
    fn tall_viewports_are_capped() {
        let w = window(1_000_000, 28.0 * 500.0, 0.0, false);
        assert_eq!(w.len(), MAX_RENDERED_ROWS);
    }

    #[test]
    fn only_the_columns_in_view_are_rendered() {
        // 50 columns of 100 px.
        let lefts: Vec<f64> = (0..=50).map(|i| f64::from(i) * 100.0).collect();
        assert_eq!(column_window(&lefts, 450.0, 0.0), (0, 6));
        assert_eq!(column_window(&lefts, 450.0, 1000.0), (9, 16));
        assert_eq!(column_window(&lefts, 450.0, 1050.0), (9, 16));
        assert_eq!(column_window(&lefts, 450.0, 4550.0), (44, 50));
        assert_eq!(column_window(&lefts, 450.0, 1e9), (48, 50));
        assert_eq!(column_window(&lefts, 0.0, 0.0), (0, 21));
        assert_eq!(column_window(&[0.0], 450.0, 0.0), (0, 0));
        assert_eq!(column_window(&[0.0, 80.0], 450.0, 0.0), (0, 1));
    }

    #[test]
    fn bottom_detection_tolerates_half_a_row() {
        assert!(is_at_bottom(1000.0, 1500.0, 500.0));
        assert!(is_at_bottom(990.0, 1500.0, 500.0));
        assert!(!is_at_bottom(900.0, 1500.0, 500.0));
    }
}
