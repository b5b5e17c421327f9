//! Random identifiers: bearer tokens, request keys, memory ids.

use anyhow::{Context, Result};

/// `bytes` random bytes from the system, as lowercase hex.
pub fn random_hex(bytes: usize) -> Result<String> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("cannot read random bytes")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}
