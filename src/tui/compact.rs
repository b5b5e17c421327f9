//! Fewer bytes per frame: a backend that fills short gaps instead of moving
//! the cursor.
//!
//! ratatui's diff sends only the cells that changed, and the crossterm
//! backend moves the cursor (`CSI row ; col H`, 6–9 bytes) before every run
//! of them, even when two runs on a row are a few unchanged cells apart.
//! When those cells are plain ASCII in the style the previous cell was drawn
//! with, printing them again is shorter than the move and leaves the screen
//! as it was. [`Compact`] does that, from a shadow of what the terminal
//! shows; it never prints after a wide character, nor over one.

use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::{Cell, CellDiffOption};
use ratatui::layout::{Position, Size};
use std::borrow::Cow;
use std::io::{self, Write};
use unicode_width::UnicodeWidthStr;

/// Wraps a backend; see the module's documentation.
pub struct Compact<B> {
    inner: B,
    shadow: Shadow,
    /// The size `size()` last reported; a different one forgets the shadow.
    size: std::cell::Cell<Option<Size>>,
    resized: std::cell::Cell<bool>,
}

impl<B> Compact<B> {
    /// Knows nothing of the screen until a full clear, or a draw, shows it
    /// (clear through it, not around it).
    pub fn new(inner: B) -> Compact<B> {
        Compact {
            inner,
            shadow: Shadow::default(),
            size: std::cell::Cell::new(None),
            resized: std::cell::Cell::new(false),
        }
    }

    fn saw(&self, size: Size) {
        if self.size.replace(Some(size)).is_some_and(|s| s != size) {
            self.resized.set(true);
        }
    }
}

/// What the terminal shows, where it is known for sure: a cell is `Some`
/// only when the terminal shows that printable ASCII character there, in
/// that style, and no wide character covers it.
#[derive(Default)]
struct Shadow {
    rows: Vec<Vec<Option<Cell>>>,
    /// Cells not in `rows`: blank after a full clear, unknown otherwise.
    rest: Option<Cell>,
}

impl Shadow {
    fn get(&self, x: u16, y: u16) -> Option<&Cell> {
        match self.rows.get(y as usize).and_then(|r| r.get(x as usize)) {
            Some(cell) => cell.as_ref(),
            None => self.rest.as_ref(),
        }
    }

    /// Records `cell` drawn at (x, y).
    fn set(&mut self, x: u16, y: u16, cell: &Cell) {
        let (x, y) = (x as usize, y as usize);
        let width = width(cell);
        if self.rows.len() <= y {
            self.rows.resize(y + 1, Vec::new());
        }
        let row = &mut self.rows[y];
        if row.len() < x + width {
            row.resize(x + width, self.rest.clone());
        }
        row[x] = plain_ascii(cell).then(|| cell.clone());
        // The columns a wide character covers.
        row[x + 1..x + width].fill(None);
    }

    fn reset(&mut self, rest: Option<Cell>) {
        self.rows.clear();
        self.rest = rest;
    }
}

/// A single printable ASCII character, drawn as it is.
fn plain_ascii(cell: &Cell) -> bool {
    matches!(cell.symbol().as_bytes(), [b' '..=b'~'])
        && matches!(
            cell.diff_option,
            CellDiffOption::None | CellDiffOption::AlwaysUpdate
        )
}

/// The columns a cell covers (at least one: a zero-width symbol's column
/// is not known for sure either).
fn width(cell: &Cell) -> usize {
    let symbol = cell.symbol().width();
    match cell.diff_option {
        CellDiffOption::ForcedWidth(w) => symbol.max(w.get() as usize),
        _ => symbol,
    }
    .max(1)
}

/// One column, not zero (whose column the terminal decides) nor two.
fn single_width(cell: &Cell) -> bool {
    cell.symbol().width() == 1 && width(cell) == 1
}

/// Bytes of crossterm's `MoveTo(x, y)`: `ESC [ y+1 ; x+1 H`.
fn move_bytes(x: u16, y: u16) -> usize {
    let digits = |n: u16| (n as u32 + 1).ilog10() as usize + 1;
    4 + digits(x) + digits(y)
}

impl<B: Backend> Backend for Compact<B> {
    type Error = B::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        if self.resized.take() {
            self.shadow.reset(None);
        }
        let mut cells: Vec<(u16, u16, Cow<'a, Cell>)> = Vec::new();
        let mut last: Option<(u16, u16, &'a Cell)> = None;
        for (x, y, cell) in content {
            // A gap after a single-width cell, on the same row, cheaper to
            // print than to jump, whose cells are known plain ASCII in the
            // style the backend is drawing with.
            if let Some((lx, ly, prev)) = last
                && ly == y
                && x > lx + 1
                && usize::from(x - lx - 1) < move_bytes(x, y)
                && single_width(prev)
                && (lx + 1..x).all(|gx| {
                    self.shadow
                        .get(gx, y)
                        .is_some_and(|g| g.style() == prev.style())
                })
            {
                for gx in lx + 1..x {
                    if let Some(g) = self.shadow.get(gx, y) {
                        cells.push((gx, y, Cow::Owned(g.clone())));
                    }
                }
            }
            self.shadow.set(x, y, cell);
            cells.push((x, y, Cow::Borrowed(cell)));
            last = Some((x, y, cell));
        }
        let drawn = self
            .inner
            .draw(cells.iter().map(|(x, y, c)| (*x, *y, c.as_ref())));
        if drawn.is_err() {
            self.shadow.reset(None);
        }
        drawn
    }

    fn append_lines(&mut self, n: u16) -> Result<(), Self::Error> {
        self.shadow.reset(None);
        self.inner.append_lines(n)
    }

    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }

    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }

    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.inner.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }

    fn clear(&mut self) -> Result<(), Self::Error> {
        self.clear_region(ClearType::All)
    }

    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        // Until it has cleared, the screen is not known.
        self.shadow.reset(None);
        self.inner.clear_region(clear_type)?;
        if clear_type == ClearType::All {
            // ratatui resets its colours after every draw, so the cleared
            // screen is blank in the default style.
            self.resized.set(false);
            self.shadow.reset(Some(Cell::EMPTY));
        }
        Ok(())
    }

    fn size(&self) -> Result<Size, Self::Error> {
        let size = self.inner.size()?;
        self.saw(size);
        Ok(size)
    }

    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()
    }
}

/// For control sequences that change no cell (synchronized updates):
/// anything else written here would leave the shadow wrong.
impl<B: Write> Write for Compact<B> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Write::flush(&mut self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::CrosstermBackend;
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::style::{Color, Modifier, Style};

    const W: u16 = 24;
    const H: u16 = 3;

    /// Bytes written, kept where the test can count them.
    #[derive(Clone, Default)]
    struct Out(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

    impl Write for Out {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The same frames through ratatui's crossterm backend and through
    /// `Compact` around one.
    struct Pair {
        plain: CrosstermBackend<Out>,
        compact: Compact<CrosstermBackend<Out>>,
        out: (Out, Out),
        shown: Buffer,
    }

    impl Pair {
        fn new() -> Pair {
            let out = (Out::default(), Out::default());
            Pair {
                plain: CrosstermBackend::new(out.0.clone()),
                compact: Compact::new(CrosstermBackend::new(out.1.clone())),
                out,
                shown: Buffer::empty(Rect::new(0, 0, W, H)),
            }
        }

        /// Draws `next` over what was shown, as `Terminal::draw` does;
        /// returns the bytes each wrote for it.
        fn draw(&mut self, next: Buffer) -> (Vec<u8>, Vec<u8>) {
            let (p0, c0) = (self.plain_bytes().len(), self.compact_bytes().len());
            let diff = self.shown.diff(&next);
            self.plain.draw(diff.iter().copied()).unwrap();
            self.compact.draw(diff.into_iter()).unwrap();
            self.shown = next;
            (
                self.plain_bytes()[p0..].to_vec(),
                self.compact_bytes()[c0..].to_vec(),
            )
        }

        fn clear(&mut self, clear: ClearType) {
            self.plain.clear_region(clear).unwrap();
            self.compact.clear_region(clear).unwrap();
            self.shown = Buffer::empty(self.shown.area);
        }

        fn plain_bytes(&self) -> Vec<u8> {
            self.out.0.0.borrow().clone()
        }

        fn compact_bytes(&self) -> Vec<u8> {
            self.out.1.0.borrow().clone()
        }

        /// Both byte streams leave the same screen.
        fn assert_same_screen(&self) {
            let (plain, compact) = (
                Screen::of(&self.plain_bytes()),
                Screen::of(&self.compact_bytes()),
            );
            assert_eq!(plain.cells, compact.cells);
        }
    }

    /// A tiny terminal: cursor moves, SGR, clearing, printing.
    #[derive(Debug)]
    struct Screen {
        cells: Vec<Vec<(String, Sgr)>>,
    }

    #[derive(Debug, Clone, Default, PartialEq)]
    struct Sgr {
        fg: String,
        bg: String,
        underline: String,
        attrs: u16,
    }

    impl Sgr {
        fn apply(&mut self, params: &str) {
            let mut ps = params.split(';').map(|p| p.parse::<u16>().unwrap_or(0));
            while let Some(p) = ps.next() {
                match p {
                    0 => *self = Sgr::default(),
                    1..=9 => self.attrs |= 1 << p,
                    22 => self.attrs &= !(1 << 1 | 1 << 2),
                    25 => self.attrs &= !(1 << 5 | 1 << 6),
                    23..=29 => self.attrs &= !(1 << (p - 20)),
                    38 | 48 | 58 => {
                        let colour = match ps.next() {
                            Some(5) => format!("5;{}", ps.next().unwrap()),
                            Some(2) => {
                                let rgb: Vec<_> =
                                    ps.by_ref().take(3).map(|v| v.to_string()).collect();
                                format!("2;{}", rgb.join(";"))
                            }
                            other => panic!("colour {other:?}"),
                        };
                        match p {
                            38 => self.fg = colour,
                            48 => self.bg = colour,
                            _ => self.underline = colour,
                        }
                    }
                    39 => self.fg.clear(),
                    49 => self.bg.clear(),
                    59 => self.underline.clear(),
                    other => panic!("SGR {other} not modelled"),
                }
            }
        }
    }

    impl Screen {
        fn of(bytes: &[u8]) -> Screen {
            let blank = || vec![vec![(" ".to_string(), Sgr::default()); W as usize]; H as usize];
            let mut screen = Screen { cells: blank() };
            let (mut x, mut y, mut sgr) = (0usize, 0usize, Sgr::default());
            let text = std::str::from_utf8(bytes).unwrap();
            let mut chars = text.chars();
            while let Some(c) = chars.next() {
                if c == '\x1b' {
                    assert_eq!(chars.next(), Some('['));
                    let mut params = String::new();
                    let end = chars.by_ref().find(|&d| {
                        let end = ('\x40'..='\x7e').contains(&d);
                        if !end {
                            params.push(d);
                        }
                        end
                    });
                    match (end, params.as_str()) {
                        (Some('H'), _) => {
                            let mut it = params.split(';').map(|v| v.parse::<usize>().unwrap());
                            y = it.next().unwrap() - 1;
                            x = it.next().unwrap() - 1;
                        }
                        (Some('m'), _) => sgr.apply(&params),
                        (Some('J'), "2") => screen.cells = blank(),
                        (Some('K'), "2") => screen.cells[y] = blank().remove(0),
                        (Some('J' | 'K'), _) => panic!("clear {params} not modelled"),
                        _ => {} // cursor visibility and the like
                    }
                    continue;
                }
                let row = &mut screen.cells[y];
                // Overwriting half of a wide character erases the other half.
                if row[x].0.is_empty() {
                    row[x - 1].0 = " ".into();
                }
                if c.to_string().width() == 2 {
                    row[x + 1] = (String::new(), sgr.clone());
                } else if x + 1 < row.len() && row[x + 1].0.is_empty() {
                    row[x + 1].0 = " ".into();
                }
                row[x] = (c.to_string(), sgr.clone());
                x += c.to_string().width();
            }
            screen
        }
    }

    fn moves(bytes: &[u8]) -> usize {
        String::from_utf8_lossy(bytes).matches('H').count()
    }

    fn lines(lines: &[&str]) -> Buffer {
        let mut buf = Buffer::empty(Rect::new(0, 0, W, H));
        for (y, l) in lines.iter().enumerate() {
            buf.set_string(0, y as u16, l, Style::default());
        }
        buf
    }

    #[test]
    fn short_gaps_in_one_style_are_printed_instead_of_jumped() {
        let mut pair = Pair::new();
        pair.clear(ClearType::All);
        pair.draw(lines(&["rule: py.sql-injection", "line 42 of app.py"]));
        let (plain, compact) = pair.draw(lines(&["rule: js.sql-injectiox", "line 47 of api.py"]));
        pair.assert_same_screen();
        // Row 0: "js" and "x", 13 columns apart: jumped. Row 1: "7" and
        // "i", 6 apart: printed ("ESC[2;14H" would be 8 bytes).
        assert_eq!(moves(&plain), 4);
        assert_eq!(moves(&compact), 3);
        assert!(compact.len() < plain.len());
    }

    #[test]
    fn gaps_in_another_style_are_jumped() {
        let mut pair = Pair::new();
        pair.clear(ClearType::All);
        for style in [
            Style::new(),
            Style::new().fg(Color::Red),
            Style::new().bg(Color::Red),
            Style::new().add_modifier(Modifier::BOLD),
            Style::new().underline_color(Color::Blue),
        ] {
            let styled = |text| {
                let mut buf = lines(&[text]);
                buf.set_style(Rect::new(1, 0, 1, 1), style);
                buf
            };
            pair.draw(styled("abc"));
            // "b" is left as it is between two changes.
            let (plain, compact) = pair.draw(styled("xbz"));
            pair.assert_same_screen();
            if style == Style::new() {
                assert!(compact.len() < plain.len());
            } else {
                assert_eq!(plain, compact, "{style:?}");
            }
        }
    }

    #[test]
    fn wide_characters_are_never_split_or_printed_over() {
        let mut pair = Pair::new();
        pair.draw(lines(&["日 ab 本c"]));
        // After a wide character: jumped.
        let (plain, compact) = pair.draw(lines(&["語 xb 本c"]));
        assert_eq!(plain, compact);
        // Across one: jumped.
        let (plain, compact) = pair.draw(lines(&["語 xb-本d"]));
        assert_eq!(plain, compact);
        // A narrow character over the first half of one: the terminal blanks
        // the second, which stays unknown.
        pair.draw(lines(&["語 xb-a d"]));
        let (plain, compact) = pair.draw(lines(&["語 xb-z c"]));
        pair.assert_same_screen();
        assert_eq!(plain, compact);
    }

    #[test]
    fn only_a_full_clear_makes_the_screen_known() {
        let mut pair = Pair::new();
        // Nothing is known at first.
        let (plain, compact) = pair.draw(lines(&["a b"]));
        assert_eq!(plain, compact);
        pair.clear(ClearType::All);
        let (plain, compact) = pair.draw(lines(&["a b"]));
        assert!(compact.len() < plain.len());
        pair.assert_same_screen();
        for clear in [ClearType::CurrentLine, ClearType::AfterCursor] {
            pair.draw(lines(&["a b", "c d"]));
            pair.plain.clear_region(clear).unwrap();
            pair.compact.clear_region(clear).unwrap();
            let (plain, compact) = pair.draw(lines(&["x y", "z w"]));
            assert_eq!(plain, compact, "after {clear:?}");
            pair.clear(ClearType::All);
        }
    }

    #[test]
    fn a_resize_forgets_the_screen() {
        let mut pair = Pair::new();
        pair.clear(ClearType::All);
        pair.compact.saw(Size::new(W, H));
        pair.compact.saw(Size::new(W + 1, H));
        let (plain, compact) = pair.draw(lines(&["a b"]));
        assert_eq!(plain, compact);
    }

    #[test]
    fn random_frames_show_the_same_screen() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut pair = Pair::new();
        pair.clear(ClearType::All);
        let styles = [
            Style::new(),
            Style::new().fg(Color::Yellow),
            Style::new().add_modifier(Modifier::BOLD),
        ];
        let (mut plain, mut compact) = (0, 0);
        for _ in 0..300 {
            let mut buf = Buffer::empty(Rect::new(0, 0, W, H));
            for y in 0..H {
                let mut x = 0;
                while x < W {
                    let text = ["a", "b", " ", "日", "…"][next(5) as usize];
                    let style = styles[next(3) as usize];
                    // Mostly what is shown, so that gaps appear.
                    if next(4) > 0 {
                        buf[(x, y)] = pair.shown[(x, y)].clone();
                        x += 1;
                    } else {
                        let end = buf.set_stringn(x, y, text, (W - x) as usize, style).0;
                        x = end.max(x + 1);
                    }
                }
            }
            let (p, c) = pair.draw(buf);
            pair.assert_same_screen();
            (plain, compact) = (plain + p.len(), compact + c.len());
        }
        assert!(compact < plain, "{compact} bytes, not fewer than {plain}");
    }
}
