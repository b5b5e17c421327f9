//! The findings index kept in a file beside the store, so that a start
//! reads one file and the findings changed since it was written, instead
//! of every finding's row (at a million findings, 1.4 s of rows).
//!
//! The file is a cache: it says which store it copies (`store_id`) and up
//! to which change (`mark`, the highest `findings.change_seq` it holds).
//! Every change to a finding's row takes a higher `change_seq`, so the rows
//! above the mark are all that can differ; a finding that had a decision
//! pending when the file was written is read again too, since the outbox
//! can settle without changing its row. A file that is damaged, truncated,
//! from another store or of another format is ignored and written anew.

use crate::domain::{
    ComponentRisk, FindingIndex, Lifecycle, Row, Severity, Status, StringTable, Tables,
    TriageState, Verdict,
};
use std::io::Write;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};

/// Below this many findings the index is built from the rows every time:
/// that takes milliseconds.
pub(super) const SNAPSHOT_FROM: usize = 20_000;

/// A load that had to read this many changed findings writes the file
/// again, so that the next start reads few.
pub(super) const REWRITE_AFTER: usize = 10_000;

const MAGIC: &[u8; 8] = b"SIFTIDX\0";
/// Bumped whenever the layout below or `Row` changes.
const FORMAT: u32 = 1;
/// id, relevant_since, seven string ids and numbers, seven enum bytes.
const ROW_BYTES: usize = 8 + 8 + 7 * 4 + 7;

/// What a snapshot copies, to tell whether it still fits the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    pub store_id: i64,
    /// The highest `change_seq` of the findings the snapshot holds.
    pub mark: i64,
    /// A digest of the project and rule names its rows were built with.
    pub names: u64,
}

/// The snapshot file of the store at `db`.
pub(super) fn file_of(db: &Path) -> PathBuf {
    db.with_file_name("findings.index")
}

/// Reads the snapshot at `file`; `None` when there is none or it cannot be
/// trusted (the reason is logged).
pub(super) fn read(file: &Path) -> Option<(Stamp, FindingIndex)> {
    let mapped = match Mapped::open(file) {
        Ok(mapped) => mapped,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!("cannot read the index snapshot {}: {e}", file.display());
            return None;
        }
    };
    match decode(mapped.bytes()) {
        Ok(found) => Some(found),
        Err(why) => {
            tracing::warn!(
                "ignoring the index snapshot {}: {why}; it is written again",
                file.display()
            );
            None
        }
    }
}

/// A file's bytes, mapped read-only: reading 50 MB into a fresh buffer
/// cost a third of a start at a million findings (the kernel's copy, and
/// the page faults of the buffer). The file is never changed in place (a
/// new one is renamed over it), so the mapping cannot shrink under us.
struct Mapped {
    at: *mut libc::c_void,
    len: usize,
}

impl Mapped {
    fn open(file: &Path) -> std::io::Result<Mapped> {
        use std::os::unix::io::AsRawFd;
        let f = std::fs::File::open(file)?;
        let len = usize::try_from(f.metadata()?.len())
            .map_err(|_| std::io::Error::other("the snapshot is too large"))?;
        if len == 0 {
            return Ok(Mapped {
                at: std::ptr::null_mut(),
                len,
            });
        }
        // SAFETY: a fresh read-only private mapping of an open file, of its
        // length; unmapped once, on drop.
        let at = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_POPULATE,
                f.as_raw_fd(),
                0,
            )
        };
        if at == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapped { at, len })
    }

    fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the mapping is `len` readable bytes while `self` lives.
        unsafe { std::slice::from_raw_parts(self.at as *const u8, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: the mapping made in `open`, unmapped once.
            unsafe { libc::munmap(self.at, self.len) };
        }
    }
}

/// Asks the kernel for 2 MB pages under a large vector about to be filled:
/// a million rows otherwise take fourteen thousand page faults.
fn prefer_huge_pages<T>(v: &mut Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = v.as_mut_ptr() as usize;
        let end = start + v.capacity() * std::mem::size_of::<T>();
        let aligned = start.next_multiple_of(PAGE);
        if end > aligned + PAGE {
            // SAFETY: advice only, on pages of an allocation we own.
            unsafe {
                libc::madvise(
                    aligned as *mut libc::c_void,
                    end - aligned,
                    libc::MADV_HUGEPAGE,
                )
            };
        }
    }
}

/// Writes the snapshot atomically (a new file renamed over the old), readable
/// by its owner only, like the store.
pub(super) fn write(file: &Path, index: &FindingIndex, stamp: Stamp) -> std::io::Result<()> {
    let bytes = encode(index, stamp);
    let temp = file.with_extension(format!("index.{}.tmp", std::process::id()));
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options.open(&temp)?;
        out.write_all(&bytes)?;
        out.sync_data()?;
        std::fs::rename(&temp, file)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

fn encode(index: &FindingIndex, stamp: Stamp) -> Vec<u8> {
    let strings: usize = index
        .tables()
        .iter()
        .map(|t| t.parts().0.len() + 4 * t.len() + 16)
        .sum();
    let mut out = Vec::with_capacity(64 + strings + ROW_BYTES * index.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&stamp.store_id.to_le_bytes());
    out.extend_from_slice(&stamp.mark.to_le_bytes());
    out.extend_from_slice(&stamp.names.to_le_bytes());
    for table in index.tables() {
        let (text, ends) = table.parts();
        out.extend_from_slice(&(text.len() as u64).to_le_bytes());
        out.extend_from_slice(&(ends.len() as u64).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
        for end in ends {
            out.extend_from_slice(&end.to_le_bytes());
        }
    }
    out.extend_from_slice(&(index.len() as u64).to_le_bytes());
    for r in &index.rows {
        out.extend_from_slice(&r.id.to_le_bytes());
        out.extend_from_slice(&r.relevant_since.to_le_bytes());
        for n in [
            r.project,
            r.rule,
            r.path,
            r.message,
            r.git_ref,
            r.line,
            r.component,
        ] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&[
            code(Severity::ALL, r.severity),
            code(Status::ALL, r.status),
            code(TriageState::ALL, r.triage_state),
            r.verdict.map_or(0, |v| code(Verdict::ALL, v) + 1),
            r.risk.map_or(0, |v| code(ComponentRisk::ALL, v) + 1),
            code(&Lifecycle::ALL, r.lifecycle),
            r.pending as u8,
        ]);
    }
    out
}

fn decode(bytes: &[u8]) -> Result<(Stamp, FindingIndex), &'static str> {
    let mut input = Input(bytes);
    if input.take(MAGIC.len())? != MAGIC {
        return Err("not an index snapshot");
    }
    if input.u32()? != FORMAT {
        return Err("written by another version of sift");
    }
    let stamp = Stamp {
        store_id: input.i64()?,
        mark: input.i64()?,
        names: input.u64()?,
    };
    let mut table = || -> Result<StringTable, &'static str> {
        let text_len = input.len()?;
        let count = input.len()?;
        let text = std::str::from_utf8(input.take(text_len)?).map_err(|_| "damaged text")?;
        let ends = input.take(count.checked_mul(4).ok_or("damaged table")?)?;
        let ends = ends
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        StringTable::from_parts(text.to_string(), ends).ok_or("damaged table")
    };
    let tables: Tables = [table()?, table()?, table()?, table()?, table()?, table()?];
    let count = input.len()?;
    let body = input.take(count.checked_mul(ROW_BYTES).ok_or("damaged rows")?)?;
    if !input.0.is_empty() {
        return Err("unexpected bytes after the rows");
    }
    // Room for the findings changed since (`FindingIndex::updated`), which
    // a full Vec would double and copy for one more row.
    let mut rows = Vec::with_capacity(count + count / 64 + 64);
    prefer_huge_pages(&mut rows);
    decode_rows(&mut rows.spare_capacity_mut()[..count], body)?;
    // SAFETY: `decode_rows` wrote every one of the first `count` slots.
    unsafe { rows.set_len(count) };
    let index = FindingIndex::from_parts(rows, tables).ok_or("rows out of order or damaged")?;
    Ok((stamp, index))
}

/// Decodes `body` into `slots`, a large index in two halves at once: the
/// kernel zeroes each fresh page of the rows as it is first written, and
/// that was half the start at a million findings.
fn decode_rows(slots: &mut [MaybeUninit<Row>], body: &[u8]) -> Result<(), &'static str> {
    fn decode(slots: &mut [MaybeUninit<Row>], body: &[u8]) -> bool {
        for (slot, record) in slots.iter_mut().zip(body.chunks_exact(ROW_BYTES)) {
            match row(record) {
                Some(r) => {
                    slot.write(r);
                }
                None => return false,
            }
        }
        true
    }
    if slots.len() * ROW_BYTES != body.len() {
        return Err("damaged rows");
    }
    let half = if slots.len() >= DECODE_IN_HALVES_FROM {
        slots.len() / 2
    } else {
        slots.len()
    };
    let (low, high) = slots.split_at_mut(half);
    let (body_low, body_high) = body.split_at(half * ROW_BYTES);
    let decoded = std::thread::scope(|scope| {
        let other = (!high.is_empty()).then(|| scope.spawn(|| decode(high, body_high)));
        decode(low, body_low) & other.is_none_or(|h| h.join().unwrap_or(false))
    });
    if decoded { Ok(()) } else { Err("damaged row") }
}

/// Below this many rows one thread decodes them.
const DECODE_IN_HALVES_FROM: usize = 100_000;

fn row(b: &[u8]) -> Option<Row> {
    let i64_at = |at: usize| i64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default());
    let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or_default());
    let enums = &b[44..ROW_BYTES];
    Some(Row {
        id: i64_at(0),
        relevant_since: i64_at(8),
        project: u32_at(16),
        rule: u32_at(20),
        path: u32_at(24),
        message: u32_at(28),
        git_ref: u32_at(32),
        line: u32_at(36),
        component: u32_at(40),
        severity: *Severity::ALL.get(enums[0] as usize)?,
        status: *Status::ALL.get(enums[1] as usize)?,
        triage_state: *TriageState::ALL.get(enums[2] as usize)?,
        verdict: match enums[3] {
            0 => None,
            c => Some(*Verdict::ALL.get(c as usize - 1)?),
        },
        risk: match enums[4] {
            0 => None,
            c => Some(*ComponentRisk::ALL.get(c as usize - 1)?),
        },
        lifecycle: *Lifecycle::ALL.get(enums[5] as usize)?,
        pending: match enums[6] {
            0 => false,
            1 => true,
            _ => return None,
        },
    })
}

fn code<T: PartialEq + Copy>(all: &[T], value: T) -> u8 {
    all.iter().position(|&v| v == value).unwrap_or(0) as u8
}

/// The bytes not read yet.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.0.len() < n {
            return Err("truncated");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, &'static str> {
        let mut word = [0u8; 8];
        word.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(word))
    }

    fn i64(&mut self) -> Result<i64, &'static str> {
        self.u64().map(|n| n as i64)
    }

    /// A length, which must fit in what is left of the file.
    fn len(&mut self) -> Result<usize, &'static str> {
        let n = self.u64()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.0.len())
            .ok_or("truncated")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IndexBuilder, IndexEntry};

    fn index(n: i64) -> FindingIndex {
        let mut b = IndexBuilder::default();
        for id in 1..=n {
            b.push(IndexEntry {
                id,
                relevant_since: 1_700_000_000 + id % 7,
                project: if id % 2 == 0 { "acme/web" } else { "acme/api" },
                rule: ["sqli", "xss", "ssrf"][id as usize % 3],
                path: &format!("src/file{}.py", id % 5),
                message: "Possible injection — ünïcode",
                git_ref: if id % 3 == 0 {
                    "refs/pull/4/head"
                } else {
                    "main"
                },
                line: id as u32,
                severity: Severity::ALL[id as usize % Severity::ALL.len()],
                status: Status::ALL[id as usize % Status::ALL.len()],
                triage_state: TriageState::ALL[id as usize % TriageState::ALL.len()],
                verdict: (id % 4 != 0).then(|| Verdict::ALL[id as usize % Verdict::ALL.len()]),
                component: if id % 2 == 0 { "payments" } else { "" },
                risk: (id % 2 == 0).then_some(ComponentRisk::ALL[0]),
                lifecycle: Lifecycle::ALL[id as usize % 3],
                pending: id % 11 == 0,
            });
        }
        b.finish()
    }

    const STAMP: Stamp = Stamp {
        store_id: 42,
        mark: 1234,
        names: 99,
    };

    #[test]
    fn a_snapshot_reads_back_as_the_index_it_copies() {
        let original = index(500);
        let (stamp, back) = decode(&encode(&original, STAMP)).expect("decodes");
        assert_eq!(stamp, STAMP);
        assert_eq!(back, original);
        assert_eq!(back.position_of(17).map(|p| back.rows[p].id), Some(17));
    }

    #[test]
    fn a_large_snapshot_decoded_in_halves_reads_back_whole() {
        let original = index(DECODE_IN_HALVES_FROM as i64 + 3);
        let bytes = encode(&original, STAMP);
        let (_, back) = decode(&bytes).expect("decodes");
        assert_eq!(back, original);
        // A damaged row in either half is refused: the severity byte of the
        // first row and of the last.
        let rows_start = bytes.len() - ROW_BYTES * original.len();
        for at in [rows_start + 44, bytes.len() - ROW_BYTES + 44] {
            let mut damaged = bytes.clone();
            damaged[at] = 0xFF;
            assert_eq!(decode(&damaged).err(), Some("damaged row"), "at {at}");
        }
    }

    #[test]
    fn every_truncation_and_every_damaged_byte_is_refused_or_harmless() {
        let bytes = encode(&index(40), STAMP);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut} accepted");
        }
        assert!(decode(&[bytes.as_slice(), b"x"].concat()).is_err());
        // A flipped byte either is refused or gives an index whose every
        // string id resolves: never a panic.
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0xA5;
            if let Ok((_, index)) = decode(&damaged) {
                for r in &index.rows {
                    let _ = (index.paths.get(r.path), index.rules.get(r.rule));
                    assert!(index.position_of(r.id).is_some());
                }
            }
        }
    }

    #[test]
    fn written_files_are_private_and_replace_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let file = file_of(&dir.path().join("sift.db"));
        write(&file, &index(10), STAMP).unwrap();
        let newer = Stamp {
            mark: 2000,
            ..STAMP
        };
        write(&file, &index(12), newer).unwrap();
        let (stamp, back) = read(&file).expect("reads");
        assert_eq!((stamp, back.len()), (newer, 12));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
        std::fs::write(&file, b"SIFTIDX\0garbage").unwrap();
        assert!(read(&file).is_none());
    }
}
