//! Text decoding as a stream: UTF-8 (with or without BOM) or GB18030/GBK in, validated UTF-8
//! out, in constant memory. The encoding is decided at the first non-ASCII byte, from the bytes
//! buffered after it, so a file that is ASCII for its first megabytes and GBK later still works.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TextEncoding {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "utf-8-bom")]
    Utf8Bom,
    #[serde(rename = "gb18030")]
    Gb18030,
}

impl TextEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Utf8Bom => "utf-8-bom",
            TextEncoding::Gb18030 => "gb18030",
        }
    }
}

/// What the decoder found, shared with whoever reads its output.
#[derive(Debug)]
pub(crate) struct DecodeState {
    pub encoding: Cell<TextEncoding>,
    /// Raw byte offset of the first undecodable byte, once one was met.
    pub error_at: Cell<Option<u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Only ASCII so far: UTF-8 and GB18030 agree.
    Ascii,
    Utf8,
    Gb18030,
}

const BUF: usize = 64 * 1024;

pub(crate) struct Decoder<R> {
    inner: R,
    buf: Box<[u8]>,
    /// Unread input is `buf[start..end]`; `buf[start..checked]` is known-valid UTF-8.
    start: usize,
    end: usize,
    checked: usize,
    eof: bool,
    /// Raw offset of `buf[0]`.
    base: u64,
    mode: Mode,
    gb: Option<encoding_rs::Decoder>,
    /// GB18030 output not yet handed out: `pending[pending_pos..pending_len]`.
    pending: Box<[u8]>,
    pending_pos: usize,
    pending_len: usize,
    state: Rc<DecodeState>,
}

impl<R: Read> Decoder<R> {
    /// Starts decoding `inner`; a UTF-8 BOM at its start is skipped.
    pub fn new(inner: R) -> (Self, Rc<DecodeState>) {
        let state = Rc::new(DecodeState {
            encoding: Cell::new(TextEncoding::Utf8),
            error_at: Cell::new(None),
        });
        let d = Decoder {
            inner,
            buf: vec![0; BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            checked: 0,
            eof: false,
            base: 0,
            mode: Mode::Ascii,
            gb: None,
            pending: Box::default(),
            pending_pos: 0,
            pending_len: 0,
            state: state.clone(),
        };
        (d, state)
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.checked = self.checked.max(self.start) - self.start;
            self.start = 0;
        }
        while self.end < self.buf.len() {
            let n = match self.inner.read(&mut self.buf[self.end..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.eof = true;
                break;
            }
            self.end += n;
            if self.end - self.start >= 4096 {
                break;
            }
        }
        Ok(())
    }

    fn fail(&self, offset: u64) -> io::Error {
        self.state.error_at.set(Some(offset));
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("undecodable byte at offset {offset}"),
        )
    }

    /// At the first non-ASCII byte: UTF-8 if what is buffered is valid UTF-8, else GB18030 if it
    /// decodes as GB18030, else an error at the first byte neither accepts.
    fn decide(&mut self) -> io::Result<()> {
        if self.end - self.start < 4 && !self.eof {
            self.fill()?;
        }
        let rest = &self.buf[self.start..self.end];
        // GBK text is almost never valid UTF-8 for several characters in a row, so a few valid
        // multi-byte characters before a bad byte mean a UTF-8 file with a broken byte.
        let utf8_valid = match std::str::from_utf8(rest) {
            Ok(_) => return self.choose_utf8(),
            Err(e) => {
                let multibyte = rest[..e.valid_up_to()].iter().filter(|&&b| b >= 0xC0).count();
                if (e.error_len().is_none() && (e.valid_up_to() > 0 || !self.eof)) || multibyte >= 4 {
                    return self.choose_utf8();
                }
                e.valid_up_to()
            }
        };
        let mut probe = encoding_rs::GB18030.new_decoder_without_bom_handling();
        let mut out = vec![
            0u8;
            probe
                .max_utf8_buffer_length_without_replacement(rest.len())
                .unwrap_or(BUF * 4)
        ];
        let (res, _, _) = probe.decode_to_utf8_without_replacement(rest, &mut out, self.eof);
        if let encoding_rs::DecoderResult::Malformed(..) = res {
            // Neither accepts the text: go on with the one that gets further, so the rows before
            // the bad byte are read and the error names that byte.
            if utf8_valid as u64 >= gb_error_offset(rest, self.eof) {
                return self.choose_utf8();
            }
        }
        self.mode = Mode::Gb18030;
        self.gb = Some(encoding_rs::GB18030.new_decoder_without_bom_handling());
        self.pending = vec![0u8; BUF * 2].into_boxed_slice();
        self.state.encoding.set(TextEncoding::Gb18030);
        Ok(())
    }

    fn choose_utf8(&mut self) -> io::Result<()> {
        self.mode = Mode::Utf8;
        Ok(())
    }

    fn read_utf8(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.checked > self.start {
                let n = (self.checked - self.start).min(out.len());
                out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
                self.start += n;
                return Ok(n);
            }
            if self.start == self.end {
                if self.eof {
                    return Ok(0);
                }
                self.fill()?;
                continue;
            }
            match simdutf8::compat::from_utf8(&self.buf[self.start..self.end]) {
                Ok(_) => self.checked = self.end,
                Err(e) if e.valid_up_to() > 0 => self.checked = self.start + e.valid_up_to(),
                // Invalid, or incomplete with nothing more to come.
                Err(e) if e.error_len().is_some() || self.eof => {
                    return Err(self.fail(self.base + self.start as u64));
                }
                // An incomplete sequence at the end of the buffer: read on.
                Err(_) => self.fill()?,
            }
        }
    }

    fn read_ascii(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.start == self.end {
                if self.eof {
                    return Ok(0);
                }
                self.fill()?;
                continue;
            }
            let avail = &self.buf[self.start..self.end];
            let limit = avail.len().min(out.len());
            let n = avail[..limit].iter().position(|b| !b.is_ascii()).unwrap_or(limit);
            if n > 0 {
                out[..n].copy_from_slice(&avail[..n]);
                self.start += n;
                self.checked = self.start;
                return Ok(n);
            }
            self.decide()?;
            self.checked = self.start;
            return match self.mode {
                Mode::Gb18030 => self.read_gb(out),
                _ => self.read_utf8(out),
            };
        }
    }

    /// Decodes into `pending` (a character can need more room than the caller gave) and
    /// hands out from there.
    fn read_gb(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pending_pos < self.pending_len {
                let n = (self.pending_len - self.pending_pos).min(out.len());
                out[..n].copy_from_slice(&self.pending[self.pending_pos..self.pending_pos + n]);
                self.pending_pos += n;
                return Ok(n);
            }
            let Some(gb) = self.gb.as_mut() else {
                return Ok(0);
            };
            let input = &self.buf[self.start..self.end];
            let (res, read, written) = gb.decode_to_utf8_without_replacement(input, &mut self.pending, self.eof);
            self.start += read;
            self.pending_pos = 0;
            self.pending_len = written;
            match res {
                encoding_rs::DecoderResult::Malformed(bad, extra) => {
                    let at = self.base + self.start as u64 - u64::from(bad) - u64::from(extra);
                    return Err(self.fail(at));
                }
                encoding_rs::DecoderResult::OutputFull => {}
                encoding_rs::DecoderResult::InputEmpty if self.eof => self.gb = None,
                encoding_rs::DecoderResult::InputEmpty if written == 0 => self.fill()?,
                encoding_rs::DecoderResult::InputEmpty => {}
            }
        }
    }
}

/// The offset in `bytes` of the first byte GB18030 cannot decode.
fn gb_error_offset(bytes: &[u8], last: bool) -> u64 {
    let mut d = encoding_rs::GB18030.new_decoder_without_bom_handling();
    let mut out = [0u8; 4096];
    let mut pos = 0;
    loop {
        let (res, read, _) = d.decode_to_utf8_without_replacement(&bytes[pos..], &mut out, last);
        pos += read;
        match res {
            encoding_rs::DecoderResult::Malformed(bad, extra) => {
                return (pos - usize::from(bad) - usize::from(extra)) as u64;
            }
            encoding_rs::DecoderResult::InputEmpty => return pos as u64,
            encoding_rs::DecoderResult::OutputFull => {}
        }
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.base == 0 && self.start == 0 && self.end == 0 && !self.eof {
            self.fill()?;
            if self.buf[..self.end].starts_with(b"\xEF\xBB\xBF") {
                self.start = 3;
                self.checked = 3;
                self.mode = Mode::Utf8;
                self.state.encoding.set(TextEncoding::Utf8Bom);
            }
        }
        match self.mode {
            Mode::Ascii => self.read_ascii(out),
            Mode::Utf8 => self.read_utf8(out),
            Mode::Gb18030 => self.read_gb(out),
        }
    }
}

/// Counts the raw bytes read, for progress and error offsets.
pub(crate) struct Counted<R> {
    pub inner: R,
    pub count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads everything in small steps, to cross buffer boundaries inside characters.
    fn decode(bytes: &[u8], step: usize) -> (io::Result<String>, Rc<DecodeState>) {
        let (mut d, state) = Decoder::new(Trickle(bytes, 7));
        let mut out = Vec::new();
        let mut buf = vec![0u8; step];
        loop {
            match d.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (Err(e), state),
            }
        }
        (Ok(String::from_utf8(out).expect("decoder output is UTF-8")), state)
    }

    /// A reader that hands out at most `n` bytes per call.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    const TEXT: &str = "区划代码,名称\n110101,东城区\n510104,锦江区「测试」€\n";

    #[test]
    fn utf8_passes_through() {
        for step in [1, 3, 64, 100_000] {
            let (s, st) = decode(TEXT.as_bytes(), step);
            assert_eq!(s.unwrap(), TEXT);
            assert_eq!(st.encoding.get(), TextEncoding::Utf8);
        }
    }

    #[test]
    fn bom_is_stripped() {
        let mut b = b"\xEF\xBB\xBF".to_vec();
        b.extend_from_slice(TEXT.as_bytes());
        let (s, st) = decode(&b, 5);
        assert_eq!(s.unwrap(), TEXT);
        assert_eq!(st.encoding.get(), TextEncoding::Utf8Bom);
    }

    #[test]
    fn gbk_is_decoded() {
        let (gbk, _, unmappable) = encoding_rs::GB18030.encode(TEXT);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&gbk).is_err(), "the GBK bytes are not UTF-8");
        for step in [1, 2, 64, 100_000] {
            let (s, st) = decode(&gbk, step);
            assert_eq!(s.unwrap(), TEXT);
            assert_eq!(st.encoding.get(), TextEncoding::Gb18030);
        }
    }

    #[test]
    fn late_gbk_after_long_ascii() {
        let mut text = "code,name\n".to_string();
        for i in 0..20_000 {
            text.push_str(&format!("{i},ascii\n"));
        }
        text.push_str("99,锦江区\n");
        let (gbk, _, _) = encoding_rs::GB18030.encode(&text);
        let (s, st) = decode(&gbk, 4096);
        assert_eq!(s.unwrap(), text);
        assert_eq!(st.encoding.get(), TextEncoding::Gb18030);
    }

    #[test]
    fn undecodable_bytes_are_located() {
        // 0xFF is neither UTF-8 nor GB18030.
        let mut b = b"a,b\n1,2\n".to_vec();
        b.extend_from_slice(b"\xFF\xFF\n");
        let (r, st) = decode(&b, 64);
        assert!(r.is_err());
        assert_eq!(st.error_at.get(), Some(8));
        // Valid UTF-8 first, then a broken sequence later.
        let mut b = TEXT.as_bytes().to_vec();
        let at = b.len() as u64;
        b.extend_from_slice(b"\xE4\xB8\n");
        let (r, st) = decode(&b, 64);
        assert!(r.is_err());
        assert_eq!(st.error_at.get(), Some(at));
        // Truncated at the very end of a UTF-8 file.
        let mut b = TEXT.as_bytes().to_vec();
        b.extend_from_slice(&"名".as_bytes()[..2]);
        let (r, st) = decode(&b, 64);
        assert!(r.is_err());
        assert_eq!(st.error_at.get(), Some(TEXT.len() as u64));
    }
}
