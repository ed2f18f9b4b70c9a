//! The app's stdout and stderr, capped in size. The values delivered to the
//! run are masked before they reach the terminal or the caller. Control
//! characters going to a terminal are shown as text, so an app cannot set
//! the terminal's title, clipboard or screen.
//!
//! Masking is best effort. It catches a delivered value written as is, in
//! lowercase or uppercase hex, or in standard or URL-safe base64 at any
//! alignment, also when the value is split across writes. For a value that
//! is a JSON object, it also catches each string field in the same forms. It cannot catch a
//! value the app transforms in any other way (reversed, encrypted, one
//! character per line), values shorter than [`MIN_MASKED_LEN`] bytes, or
//! data the app sends over the network.

use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};
use zeroize::Zeroizing;

/// The text that replaces a masked value.
pub const MASK: &[u8] = b"[masked]";

/// Values shorter than this are not masked: masking every occurrence of a
/// two-letter value would garble ordinary output.
pub const MIN_MASKED_LEN: usize = 6;

/// The part of the output limit's message that identifies it in a trap.
pub(super) const OUTPUT_LIMIT_MARK: &str = "raise `limits.output`";

/// The maximum number of bytes one write may pass.
const MAX_WRITE: usize = 64 * 1024;

/// The byte patterns to mask, shared by a run's stdout and stderr.
#[derive(Clone, Default)]
pub struct Secrets(Arc<Mutex<SecretPatterns>>);

#[derive(Default)]
struct SecretPatterns {
    patterns: Vec<Zeroizing<Vec<u8>>>,
    longest: usize,
}

impl Secrets {
    /// Adds the patterns of a delivered value.
    pub fn add(&self, value: &str) {
        let mut patterns = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut pieces = vec![value.to_owned()];
        if let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(value) {
            pieces.extend(fields.into_iter().filter_map(|(_, field)| match field {
                serde_json::Value::String(text) => Some(text),
                _ => None,
            }));
        }
        for piece in pieces.into_iter().map(Zeroizing::new) {
            if piece.len() < MIN_MASKED_LEN {
                continue;
            }
            for pattern in encodings(piece.as_bytes()) {
                if pattern.len() >= MIN_MASKED_LEN && !patterns.patterns.contains(&pattern) {
                    patterns.longest = patterns.longest.max(pattern.len());
                    patterns.patterns.push(pattern);
                }
            }
        }
    }

    /// Returns `text` with every delivered value in it masked, for logs
    /// and audit records that quote what the app sent.
    pub fn mask_text(&self, text: &str) -> String {
        let patterns = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::with_capacity(text.len());
        patterns.mask(text.as_bytes(), text.len(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[cfg(test)]
    fn longest(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).longest
    }
}

impl SecretPatterns {
    /// Copies `bytes` to `out` with every pattern that starts before `end`
    /// replaced by [`MASK`], and returns how many bytes it consumed: `end`,
    /// or more when a pattern starting before `end` runs past it.
    fn mask(&self, bytes: &[u8], end: usize, out: &mut Vec<u8>) -> usize {
        let mut at = 0;
        while at < end {
            let rest = &bytes[at..];
            match self.patterns.iter().filter(|p| rest.starts_with(p)).map(|p| p.len()).max() {
                Some(len) => {
                    out.extend_from_slice(MASK);
                    at += len;
                }
                None => {
                    out.push(bytes[at]);
                    at += 1;
                }
            }
        }
        at
    }
}

/// Returns `value` and the forms it takes in hex and in base64 at each of
/// the three alignments it can have inside a longer base64 text.
fn encodings(value: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut forms = vec![
        Zeroizing::new(value.to_vec()),
        Zeroizing::new(hex::encode(value).into_bytes()),
        Zeroizing::new(hex::encode_upper(value).into_bytes()),
    ];
    for offset in 0..3 {
        let mut shifted = Zeroizing::new(vec![0u8; offset]);
        shifted.extend_from_slice(value);
        // Characters that mix in bits of the bytes before or after the value
        // depend on the surrounding text, so only the ones between are kept.
        let first = (offset * 8).div_ceil(6);
        let last = shifted.len() * 8 / 6;
        for encoded in [
            Zeroizing::new(Base64::encode_string(&shifted)),
            Zeroizing::new(Base64UrlUnpadded::encode_string(&shifted)),
        ] {
            if first < last {
                forms.push(Zeroizing::new(encoded.as_bytes()[first..last].to_vec()));
            }
        }
    }
    forms
}

/// The destination of masked output.
#[derive(Clone)]
pub enum Target {
    /// The host's stdout.
    Stdout,
    /// The host's stderr.
    Stderr,
    /// A buffer that collects the output.
    Buffer(Arc<Mutex<Vec<u8>>>),
}

impl Target {
    fn write_all(&self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Stdout => std::io::stdout().write_all(bytes),
            Self::Stderr => std::io::stderr().write_all(bytes),
            Self::Buffer(buffer) => {
                buffer.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    fn flush(&self) -> std::io::Result<()> {
        match self {
            Self::Stdout => std::io::stdout().flush(),
            Self::Stderr => std::io::stderr().flush(),
            Self::Buffer(_) => Ok(()),
        }
    }
}

/// One of the app's output streams: stdout or stderr.
#[derive(Clone)]
pub struct MaskedOutput(Arc<Mutex<OutputState>>);

struct OutputState {
    name: &'static str,
    target: Target,
    secrets: Secrets,
    /// Bytes not yet written because a value to mask may start in them.
    pending: Zeroizing<Vec<u8>>,
    /// Whether the target is a terminal, whose control sequences are escaped.
    terminal: bool,
    written: u64,
    limit: u64,
}

impl MaskedOutput {
    /// Creates the stream `name` (`stdout` or `stderr`) writing to `target`,
    /// masking `secrets` and stopping the app after `limit` bytes.
    pub fn new(name: &'static str, target: Target, secrets: Secrets, limit: u64) -> Self {
        let terminal = match &target {
            Target::Stdout => std::io::IsTerminal::is_terminal(&std::io::stdout()),
            Target::Stderr => std::io::IsTerminal::is_terminal(&std::io::stderr()),
            Target::Buffer(_) => false,
        };
        Self(Arc::new(Mutex::new(OutputState {
            name,
            terminal,
            target,
            secrets,
            pending: Zeroizing::new(Vec::new()),
            written: 0,
            limit,
        })))
    }

    /// Writes what is held back. Called when the run ends.
    pub fn finish(&self) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = state.drain(true);
        let _ = state.target.flush();
    }

    fn write(&self, bytes: &[u8]) -> Result<(), StreamError> {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.written = state.written.saturating_add(bytes.len() as u64);
        if state.written > state.limit {
            let _ = state.drain(true);
            return Err(StreamError::Trap(wasmtime::format_err!(
                "the app wrote more than {} to {}; raise `limits.output` in its manifest or pass --max-output if this much output is expected",
                crate::permissions::ByteSize(state.limit),
                state.name
            )));
        }
        state.pending.extend_from_slice(bytes);
        state
            .drain(false)
            .map_err(|err| StreamError::LastOperationFailed(err.into()))
    }
}

impl OutputState {
    /// Masks and writes the pending bytes, keeping back those that could be
    /// the start of a value split across writes, unless `all` is set.
    fn drain(&mut self, all: bool) -> std::io::Result<()> {
        let patterns = self.secrets.0.lock().unwrap_or_else(PoisonError::into_inner);
        let keep = if all { 0 } else { patterns.longest.saturating_sub(1) };
        let safe = self.pending.len().saturating_sub(keep);
        let mut out = Zeroizing::new(Vec::with_capacity(self.pending.len()));
        let at = patterns.mask(&self.pending, safe, &mut out);
        drop(patterns);
        self.pending.drain(..at);
        if self.terminal {
            return self.target.write_all(&escape_controls(&out));
        }
        self.target.write_all(&out)
    }
}

/// Shows control characters as text: C0 controls other than tab, newline
/// and carriage return, and DEL, in caret notation (`^[` for escape), and
/// C1 controls as `\u{9b}`. Printable text and UTF-8 pass unchanged.
///
/// NOTE: a C1 control whose two UTF-8 bytes are split between two writes
/// passes unescaped; terminals that read UTF-8 then see two invalid bytes.
fn escape_controls(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        match byte {
            b'\t' | b'\n' | b'\r' => out.push(byte),
            0x00..=0x1f => out.extend_from_slice(&[b'^', byte + 0x40]),
            0x7f => out.extend_from_slice(b"^?"),
            0xc2 if matches!(bytes.get(index + 1), Some(0x80..=0x9f)) => {
                out.extend_from_slice(format!("\\u{{{:x}}}", bytes[index + 1]).as_bytes());
                index += 1;
            }
            _ => out.push(byte),
        }
        index += 1;
    }
    out
}

impl IsTerminal for MaskedOutput {
    fn is_terminal(&self) -> bool {
        match self.0.lock().unwrap_or_else(PoisonError::into_inner).target {
            Target::Stdout => std::io::IsTerminal::is_terminal(&std::io::stdout()),
            Target::Stderr => std::io::IsTerminal::is_terminal(&std::io::stderr()),
            Target::Buffer(_) => false,
        }
    }
}

impl StdoutStream for MaskedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for MaskedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        MaskedOutput::write(self, &bytes)
    }

    fn flush(&mut self) -> StreamResult<()> {
        // Held-back bytes stay held: releasing them here would let a value
        // written in two parts with a flush between them through unmasked.
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(MAX_WRITE)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for MaskedOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for MaskedOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Poll::Ready(
            MaskedOutput::write(&self, buf)
                .map(|()| buf.len())
                .map_err(|err| std::io::Error::other(err.to_string())),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Returns how many bytes a stream may hold back with these secrets.
#[cfg(test)]
fn held_back(secrets: &Secrets) -> usize {
    secrets.longest().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "sk-live-4f3c2b1a0987";

    fn output(secrets: &Secrets, limit: u64) -> (MaskedOutput, Arc<Mutex<Vec<u8>>>) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let out = MaskedOutput::new("stdout", Target::Buffer(buffer.clone()), secrets.clone(), limit);
        (out, buffer)
    }

    fn written(buffer: &Arc<Mutex<Vec<u8>>>) -> String {
        String::from_utf8(buffer.lock().unwrap().clone()).unwrap()
    }

    fn masked(writes: &[&[u8]]) -> String {
        let secrets = Secrets::default();
        secrets.add(SECRET);
        let (out, buffer) = output(&secrets, u64::MAX);
        for bytes in writes {
            out.write(bytes).unwrap();
        }
        out.finish();
        written(&buffer)
    }

    #[test]
    fn masking_one_write() {
        assert_eq!(masked(&[format!("key={SECRET}\n").as_bytes()]), "key=[masked]\n");
    }

    #[test]
    fn masking_split_writes() {
        let text = format!("key={SECRET}!\n");
        for split in 0..text.len() {
            let (a, b) = text.as_bytes().split_at(split);
            assert_eq!(masked(&[a, b]), "key=[masked]!\n", "split at {split}");
        }
        let bytes: Vec<&[u8]> = text.as_bytes().chunks(1).collect();
        assert_eq!(masked(&bytes), "key=[masked]!\n");
    }

    #[test]
    fn masking_hex_and_base64() {
        assert_eq!(masked(&[hex::encode(SECRET).as_bytes()]), "[masked]");
        assert_eq!(masked(&[hex::encode_upper(SECRET).as_bytes()]), "[masked]");
        for prefix in ["", "a", "ab", "abc"] {
            let encoded = Base64::encode_string(format!("{prefix}{SECRET}tail").as_bytes());
            let out = masked(&[encoded.as_bytes()]);
            assert!(out.contains("[masked]"), "{prefix:?}: {out}");
            let url = Base64UrlUnpadded::encode_string(format!("{prefix}{SECRET}").as_bytes());
            assert!(masked(&[url.as_bytes()]).contains("[masked]"), "url-safe {prefix:?}");
        }
    }

    #[test]
    fn json_fields_are_masked_one_by_one() {
        let secrets = Secrets::default();
        secrets.add(r#"{"access_key_id":"AKIDEXAMPLE","secret_access_key":"wJalrXUtnFEMI/K7MDENG","region":"us"}"#);
        let (out, buffer) = output(&secrets, u64::MAX);
        out.write(b"secret: wJalrXUtnFEMI/K7MDENG region: us\n").unwrap();
        out.finish();
        assert_eq!(written(&buffer), "secret: [masked] region: us\n");
    }

    #[test]
    fn output_without_secrets_is_not_held_back() {
        let secrets = Secrets::default();
        let (out, buffer) = output(&secrets, u64::MAX);
        out.write(b"progress 1/2").unwrap();
        assert_eq!(held_back(&secrets), 0);
        assert_eq!(written(&buffer), "progress 1/2");
    }

    #[test]
    fn masking_quoted_text() {
        let secrets = Secrets::default();
        assert_eq!(secrets.mask_text(SECRET), SECRET, "nothing is delivered yet");
        secrets.add(SECRET);
        assert_eq!(secrets.mask_text(&format!("name \"{SECRET}\"")), "name \"[masked]\"");
    }

    #[test]
    fn terminal_controls_are_shown_as_text() {
        let escaped = escape_controls("\x1b]0;title\x07 ok\t\u{9b}2J é\r\n\x7f".as_bytes());
        assert_eq!(String::from_utf8(escaped).unwrap(), "^[]0;title^G ok\t\\u{9b}2J é\r\n^?");
    }

    #[test]
    fn short_values_are_not_masked() {
        let secrets = Secrets::default();
        secrets.add("abc");
        let (out, buffer) = output(&secrets, u64::MAX);
        out.write(b"abcabc").unwrap();
        out.finish();
        assert_eq!(written(&buffer), "abcabc");
    }

    #[test]
    fn output_past_the_limit_stops_the_app() {
        let secrets = Secrets::default();
        let (out, buffer) = output(&secrets, 10);
        out.write(b"0123456789").unwrap();
        let err = out.write(b"x").unwrap_err();
        assert!(matches!(err, StreamError::Trap(_)));
        assert!(err.to_string().contains("limits.output"), "{err}");
        assert_eq!(written(&buffer), "0123456789");
    }
}
