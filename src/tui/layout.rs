//! Where the panes go for a terminal size. Pure, so that `update` (page
//! sizes) and the views agree.

use super::model::Pane;
use ratatui::layout::Rect;

/// Below this the console shows only a "too small" notice.
pub const MIN_WIDTH: u16 = 20;
pub const MIN_HEIGHT: u16 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panes {
    pub sidebar: Option<Rect>,
    pub list: Option<Rect>,
    pub detail: Option<Rect>,
    /// The bottom line: status bar, or the filter prompt.
    pub status: Rect,
}

impl Panes {
    pub fn get(&self, pane: Pane) -> Option<Rect> {
        match pane {
            Pane::Sidebar => self.sidebar,
            Pane::List => self.list,
            Pane::Detail => self.detail,
        }
    }

    /// Rows of findings the list shows (inside its border, under its header).
    pub fn list_rows(&self) -> usize {
        self.list
            .map_or(1, |r| inner_height(r).saturating_sub(1).max(1))
    }

    pub fn sidebar_rows(&self) -> usize {
        self.sidebar.map_or(1, |r| inner_height(r).max(1))
    }

    pub fn detail_rows(&self) -> usize {
        self.detail.map_or(1, |r| inner_height(r).max(1))
    }
}

fn inner_height(r: Rect) -> usize {
    r.height.saturating_sub(2) as usize
}

pub fn too_small(width: u16, height: u16) -> bool {
    width < MIN_WIDTH || height < MIN_HEIGHT
}

/// Three panes when wide, two when medium (the focused one and its
/// neighbour), one when narrow; the finding alone, full width, when zoomed.
pub fn panes(width: u16, height: u16, focus: Pane, zoom: bool) -> Panes {
    let body = Rect::new(0, 0, width, height.saturating_sub(1));
    let status = Rect::new(0, height.saturating_sub(1), width, 1.min(height));
    if zoom {
        return Panes {
            sidebar: None,
            list: None,
            detail: Some(body),
            status,
        };
    }
    let split = |widths: &[u16]| -> Vec<Rect> {
        let mut x = 0;
        widths
            .iter()
            .map(|w| {
                let r = Rect::new(x, 0, *w, body.height);
                x += w;
                r
            })
            .collect()
    };
    let sidebar_w = (width / 5).clamp(22, 32);
    if width >= 120 && height >= 12 {
        let detail_w = (width - sidebar_w) * 9 / 20;
        let r = split(&[sidebar_w, width - sidebar_w - detail_w, detail_w]);
        Panes {
            sidebar: Some(r[0]),
            list: Some(r[1]),
            detail: Some(r[2]),
            status,
        }
    } else if width >= 60 && height >= 8 {
        match focus {
            Pane::Detail => {
                let list_w = width * 2 / 5;
                let r = split(&[list_w, width - list_w]);
                Panes {
                    sidebar: None,
                    list: Some(r[0]),
                    detail: Some(r[1]),
                    status,
                }
            }
            Pane::Sidebar | Pane::List => {
                let sw = sidebar_w.min(width / 3);
                let r = split(&[sw, width - sw]);
                Panes {
                    sidebar: Some(r[0]),
                    list: Some(r[1]),
                    detail: None,
                    status,
                }
            }
        }
    } else {
        let mut p = Panes {
            sidebar: None,
            list: None,
            detail: None,
            status,
        };
        match focus {
            Pane::Sidebar => p.sidebar = Some(body),
            Pane::List => p.list = Some(body),
            Pane::Detail => p.detail = Some(body),
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breakpoints() {
        let wide = panes(160, 48, Pane::List, false);
        assert!(wide.sidebar.is_some() && wide.list.is_some() && wide.detail.is_some());
        let medium = panes(80, 24, Pane::List, false);
        assert!(medium.sidebar.is_some() && medium.list.is_some() && medium.detail.is_none());
        let medium_detail = panes(80, 24, Pane::Detail, false);
        assert!(medium_detail.detail.is_some() && medium_detail.sidebar.is_none());
        let narrow = panes(40, 10, Pane::List, false);
        assert!(narrow.list.is_some() && narrow.sidebar.is_none() && narrow.detail.is_none());
        let zoomed = panes(160, 48, Pane::Detail, true);
        assert_eq!(zoomed.detail.map(|r| r.width), Some(160));
        assert!(zoomed.list.is_none() && zoomed.sidebar.is_none());
        // Nothing overflows the screen, even at 1x1.
        for (w, h) in [(1, 1), (20, 5), (59, 7), (80, 24), (200, 60)] {
            let p = panes(w, h, Pane::List, false);
            for r in [p.sidebar, p.list, p.detail].into_iter().flatten() {
                assert!(r.right() <= w && r.bottom() <= h, "{w}x{h}: {r:?}");
            }
        }
    }
}
