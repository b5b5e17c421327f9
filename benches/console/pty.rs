//! A program on a real pseudo-terminal, driven like a terminal emulator
//! would: keys written to the master, everything the program draws read
//! back with the time it arrived.

use anyhow::{Context, Result, bail};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// The end of a synchronized update (`CSI ? 2026 l`): sift writes one after
/// every frame, so it marks a finished frame.
pub const FRAME_END: &[u8] = b"\x1b[?2026l";

/// Bytes kept from one read to the next, so a marker split across two
/// reads is found; longer than any marker looked for.
const TAIL: usize = 64;

/// Output read from the master, with the time the read returned.
struct Chunk {
    at: Instant,
    bytes: Vec<u8>,
}

pub struct Pty {
    master: File,
    child: Child,
    chunks: Receiver<Chunk>,
    /// Read but not consumed yet: the rest of a chunk after a frame end.
    pending: Option<Chunk>,
    /// The last bytes consumed, so a marker split across reads is found.
    tail: Vec<u8>,
    pub spawned_at: Instant,
    /// When set, `until`, `wait_for`, `settle` and `press` append what
    /// they read here (`hold` does not).
    pub capture: Option<Vec<u8>>,
}

/// What the program wrote in answer to one input, until it went quiet.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reply {
    /// Input written to the end of the first frame after it: the input's
    /// own frame.
    pub first_frame: Option<Duration>,
    /// Bytes written from the input to the end of that frame (set by
    /// `press`; 0 from `settle` alone).
    pub first_bytes: usize,
    /// Input written to the end of the last frame before the quiet.
    pub last_frame: Option<Duration>,
    /// Input written to the last byte before the quiet.
    pub last_byte: Option<Duration>,
    pub frames: usize,
    pub bytes: usize,
    /// It went quiet (rather than reaching the cap).
    pub quiet: bool,
    /// CPU time the program's threads used meanwhile.
    pub cpu: Option<Duration>,
}

impl Pty {
    /// Starts `program` with the pty's slave as its controlling terminal,
    /// stdin, stdout and stderr, in its own session.
    pub fn spawn(
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        cols: u16,
        rows: u16,
    ) -> Result<Pty> {
        let (master, slave) = open_pty(cols, rows)?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .env_remove("TMUX")
            .stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave));
        for (k, v) in env {
            cmd.env(k, v);
        }
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let spawned_at = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let (tx, chunks) = channel();
        let mut reader = master.try_clone()?;
        let mut answerer = master.try_clone()?;
        std::thread::Builder::new()
            .name("pty-reader".into())
            .spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    match reader.read(&mut buf) {
                        // EIO once the last slave fd is closed: the child is gone.
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let at = Instant::now();
                            let bytes = buf[..n].to_vec();
                            // A terminal answers a cursor position query;
                            // curses programs may ask.
                            if contains(&bytes, b"\x1b[6n") {
                                let _ = answerer.write_all(b"\x1b[1;1R");
                            }
                            if tx.send(Chunk { at, bytes }).is_err() {
                                break;
                            }
                        }
                    }
                }
            })?;
        Ok(Pty {
            master,
            child,
            chunks,
            pending: None,
            tail: Vec::new(),
            spawned_at,
            capture: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes input; returns the time just before the write.
    pub fn send(&mut self, input: &[u8]) -> Result<Instant> {
        let at = Instant::now();
        self.master.write_all(input)?;
        Ok(at)
    }

    fn next_chunk(&mut self, timeout: Duration) -> Result<Option<Chunk>> {
        if let Some(c) = self.pending.take() {
            return Ok(Some(c));
        }
        match self.chunks.recv_timeout(timeout) {
            Ok(c) => Ok(Some(c)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => bail!("the program closed the terminal"),
        }
    }

    /// Consumes output up to and including the next occurrence of
    /// `marker`; returns when it arrived and the bytes consumed.
    pub fn until(&mut self, marker: &[u8], timeout: Duration) -> Result<(Instant, usize)> {
        match self.wait_for(marker, timeout)? {
            Some(found) => Ok(found),
            None => bail!(
                "no {:?} within {timeout:?}",
                String::from_utf8_lossy(marker)
            ),
        }
    }

    /// Like `until`, but `None` when `marker` has not come within `timeout`
    /// (what came is consumed; a marker it starts is still found later).
    pub fn wait_for(
        &mut self,
        marker: &[u8],
        timeout: Duration,
    ) -> Result<Option<(Instant, usize)>> {
        let deadline = Instant::now() + timeout;
        let mut consumed = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(mut chunk) = self.next_chunk(left)? else {
                return Ok(None);
            };
            let keep = self.tail.len();
            let mut window = std::mem::take(&mut self.tail);
            window.extend_from_slice(&chunk.bytes);
            if let Some(end) = find_from(&window, marker, keep) {
                let used = end - keep;
                consumed += used;
                let rest = chunk.bytes.split_off(used);
                if let Some(capture) = &mut self.capture {
                    capture.extend_from_slice(&chunk.bytes);
                }
                self.remember(&window[..end]);
                if !rest.is_empty() {
                    self.pending = Some(Chunk {
                        at: chunk.at,
                        bytes: rest,
                    });
                }
                return Ok(Some((chunk.at, consumed)));
            }
            consumed += chunk.bytes.len();
            if let Some(capture) = &mut self.capture {
                capture.extend_from_slice(&chunk.bytes);
            }
            self.remember(&window);
        }
    }

    /// Consumes output until none has come for `quiet` (at most `cap` in
    /// all), timing frames and bytes from `since`.
    pub fn settle(&mut self, since: Instant, quiet: Duration, cap: Duration) -> Result<Reply> {
        let deadline = Instant::now() + cap;
        let mut last = Instant::now();
        let mut reply = Reply::default();
        loop {
            let now = Instant::now();
            if now >= last + quiet {
                reply.quiet = true;
                break;
            }
            if now >= deadline {
                break;
            }
            let Some(chunk) = self.next_chunk((last + quiet - now).min(deadline - now))? else {
                continue;
            };
            last = chunk.at.max(last);
            let keep = self.tail.len();
            let mut window = std::mem::take(&mut self.tail);
            window.extend_from_slice(&chunk.bytes);
            // Frame ends that finish inside this chunk (not in the kept tail).
            let ends = count_from(&window, FRAME_END, keep);
            if ends > 0 {
                let t = chunk.at.saturating_duration_since(since);
                reply.first_frame.get_or_insert(t);
                reply.last_frame = Some(t);
                reply.frames += ends;
            }
            reply.bytes += chunk.bytes.len();
            if let Some(capture) = &mut self.capture {
                capture.extend_from_slice(&chunk.bytes);
            }
            reply.last_byte = Some(chunk.at.saturating_duration_since(since));
            self.remember(&window);
        }
        Ok(reply)
    }

    /// Writes `input`, which must cause a frame, and reads the answer: up
    /// to the end of the first frame however long it takes, then until the
    /// program goes quiet. (Waiting only for quiet would miss a first frame
    /// slower than `quiet` and charge it to the next input.)
    pub fn press(&mut self, input: &[u8], quiet: Duration) -> Result<Reply> {
        let before = cpu_of(self.pid());
        let at = self.send(input)?;
        let (first, bytes) = self
            .until(FRAME_END, Duration::from_secs(60))
            .context("waiting for the frame a key causes")?;
        let mut reply = self.settle(at, quiet, Duration::from_secs(60))?;
        let first = first.saturating_duration_since(at);
        reply.first_frame = Some(first);
        reply.last_frame = Some(reply.last_frame.unwrap_or(first));
        reply.last_byte = Some(reply.last_byte.unwrap_or(first));
        reply.frames += 1;
        reply.first_bytes = bytes;
        reply.bytes += bytes;
        if let (Some(a), Some(b)) = (before, cpu_of(self.pid())) {
            reply.cpu = Some(b.saturating_sub(a));
        }
        Ok(reply)
    }

    /// Writes `input` `count` times, `every` apart, as a held key's
    /// repeat would, reading meanwhile; then reads until the program has
    /// been quiet for `quiet`.
    pub fn hold(
        &mut self,
        input: &[u8],
        count: usize,
        every: Duration,
        quiet: Duration,
    ) -> Result<Held> {
        let start = Instant::now();
        let cap = start + every * count as u32 + Duration::from_secs(60);
        // Frame ends: when each arrived and the bytes read up to it.
        let mut ends: Vec<(Instant, usize)> = Vec::new();
        let (mut bytes, mut sent, mut last_key) = (0usize, 0usize, start);
        let mut last = start;
        loop {
            let now = Instant::now();
            let next_key = start + every * sent as u32;
            if sent < count && now >= next_key {
                last_key = self.send(input)?;
                last = last_key;
                sent += 1;
                continue;
            }
            if sent == count && now >= last + quiet {
                break;
            }
            if now >= cap {
                bail!("not quiet for {quiet:?} within a minute of the held key");
            }
            let until = if sent < count { next_key } else { last + quiet };
            let Some(chunk) = self.next_chunk(until.min(cap) - now)? else {
                continue;
            };
            last = chunk.at.max(last);
            let keep = self.tail.len();
            let mut window = std::mem::take(&mut self.tail);
            window.extend_from_slice(&chunk.bytes);
            for end in ends_from(&window, FRAME_END, keep) {
                ends.push((chunk.at, bytes + end - keep));
            }
            bytes += chunk.bytes.len();
            self.remember(&window);
        }
        // The last key's own frame: the first frame end read after it.
        let own = ends.iter().position(|(at, _)| *at >= last_key);
        let held_bytes = own.map_or(bytes, |i| ends[i].1);
        Ok(Held {
            keys: count,
            held_frames: own.map_or(ends.len(), |i| i + 1),
            held_bytes,
            rest_frames: own.map_or(0, |i| ends.len() - i - 1),
            rest_bytes: bytes - held_bytes,
            rest: match (own, ends.last()) {
                (Some(i), Some((at, _))) if i + 1 < ends.len() => {
                    Some(at.saturating_duration_since(last_key))
                }
                _ => None,
            },
        })
    }

    fn remember(&mut self, window: &[u8]) {
        let n = window.len().min(TAIL);
        self.tail = window[window.len() - n..].to_vec();
    }

    /// Resident and peak resident memory of the program, in KiB.
    pub fn memory(&self) -> Result<(u64, u64)> {
        memory_of(self.pid())
    }

    /// Sends `quit` and waits up to `wait` for the program to exit; kills
    /// it otherwise.
    pub fn quit(mut self, quit: &[u8], wait: Duration) -> Result<()> {
        let _ = self.send(quit);
        let deadline = Instant::now() + wait;
        loop {
            // Keep the master drained so the program never blocks writing.
            while self.chunks.try_recv().is_ok() {}
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("the program did not exit within {wait:?}; killed it");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Ends the program now.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A key held down: what `Pty::hold` read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Held {
    /// Keys written.
    pub keys: usize,
    /// Frames up to the last key's own frame (the first frame end read
    /// after the last key was written), and their bytes: the key held.
    pub held_frames: usize,
    pub held_bytes: usize,
    /// The frames after that, until quiet (the details once the cursor
    /// rests), and their bytes.
    pub rest_frames: usize,
    pub rest_bytes: usize,
    /// The last key written to the end of the last of those frames.
    pub rest: Option<Duration>,
}

/// CPU time used so far by all of a process's threads (schedstat: ns).
pub fn cpu_of(pid: u32) -> Option<Duration> {
    let mut ns = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        // A thread may end between the listing and the read.
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        ns += stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(Duration::from_nanos(ns))
}

/// VmRSS and VmHWM of a process, in KiB.
pub fn memory_of(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

fn open_pty(cols: u16, rows: u16) -> Result<(File, File)> {
    let mut master = -1;
    let mut slave = -1;
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fds; the pointers are valid for the call.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    if rc != 0 {
        bail!("openpty failed: {}", std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just opened and are owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [master.as_raw_fd(), slave.as_raw_fd()] {
        // SAFETY: fcntl on an fd we own.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok((File::from(master), File::from(slave)))
}

/// The end of the first occurrence of `needle` that ends after `from`.
fn find_from(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .map(|(i, w)| (i + needle.len(), w))
        .find(|(end, w)| *w == needle && *end > from)
        .map(|(end, _)| end)
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Occurrences of `needle` that end after `from`.
fn count_from(haystack: &[u8], needle: &[u8], from: usize) -> usize {
    ends_from(haystack, needle, from).count()
}

/// The ends of the occurrences of `needle` that end after `from`.
fn ends_from<'a>(
    haystack: &'a [u8],
    needle: &'a [u8],
    from: usize,
) -> impl Iterator<Item = usize> + 'a {
    haystack
        .windows(needle.len())
        .enumerate()
        .map(|(i, w)| (i + needle.len(), w))
        .filter(move |(end, w)| *w == needle && *end > from)
        .map(|(end, _)| end)
}
