//! `flacon cookie audit`: which published or listed key signed these cookies.

use std::path::PathBuf;
use std::time::Instant;

use flacon::codec::KeyAudit;

use crate::CliError;

/// The "error" kind of a finished audit that found a key: exit 1, nothing more to print.
pub(crate) const FOUND: &str = "weak-key-found";

pub(crate) fn run(
    wordlists: &[PathBuf],
    no_built_in: bool,
    cookies: &[String],
) -> Result<(), CliError> {
    let audit = KeyAudit::new(cookies.iter().map(String::as_str))
        .map_err(|e| CliError::new("bad-cookie", e))?;
    let mut listed = Vec::new();
    for path in wordlists {
        let text = std::fs::read(path)
            .map_err(|e| CliError::new("io", format!("{}: {e}", path.display())))?;
        listed.extend(
            text.split(|b| *b == b'\n')
                .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
                .filter(|line| !line.is_empty())
                .map(|line| python_literal(line).unwrap_or_else(|| line.to_vec())),
        );
    }
    let built_in = KeyAudit::built_in_keys()
        .filter(|_| !no_built_in)
        .map(|key| -> &[u8] { key });
    let started = Instant::now();
    let mut tried = 0_u64;
    let mut found = vec![None; audit.len()];
    for key in built_in.chain(listed.iter().map(Vec::as_slice)) {
        tried += 1;
        if let Some(index) = audit.signed_by(key) {
            if let Some(slot) = found.get_mut(index).filter(|slot| slot.is_none()) {
                *slot = Some(key.to_vec());
            }
            if found.iter().all(Option::is_some) {
                break;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "tried {tried} keys in {seconds:.3} s ({:.0} keys/s)",
        tried as f64 / seconds.max(1e-9)
    );
    let mut any = false;
    for (cookie, key) in cookies.iter().zip(&found) {
        if let Some(key) = key {
            any = true;
            let short: String = cookie.chars().take(24).collect();
            println!("weak key found: {} (cookie {short}...)", shown(key));
        }
    }
    if any {
        return Err(CliError::new(FOUND, ""));
    }
    println!("no weak key found ({tried} keys tried)");
    Ok(())
}

/// A key as text, or as a Python bytes literal when it is not UTF-8.
fn shown(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(text) => text.to_owned(),
        Err(_) => format!("b{:?}", String::from_utf8_lossy(key)),
    }
}

/// A line holding a Python string or bytes literal (`'k'`, `"k"`, `b'k'`), unescaped; `None`
/// for a plain line.
fn python_literal(line: &[u8]) -> Option<Vec<u8>> {
    let body = line.strip_prefix(b"b").unwrap_or(line);
    let (&quote, rest) = body.split_first()?;
    if quote != b'\'' && quote != b'"' {
        return None;
    }
    let inner = rest.strip_suffix(&[quote])?;
    let mut out = Vec::with_capacity(inner.len());
    let mut bytes = inner.iter().copied();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next()? {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'0' => out.push(0),
            b'x' => {
                let hex = [bytes.next()?, bytes.next()?];
                out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
            }
            other => out.push(other),
        }
    }
    Some(out)
}
