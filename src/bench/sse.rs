//! Server-sent events, parsed as the bytes arrive: the `data` of each event.
//! Written here rather than taken from a crate because the stream is hostile
//! input: a byte-order mark, CR-only line ends, or one line that never ends
//! must neither panic, lose an event, nor cost more than one pass over the
//! bytes (each byte is looked at once; a line is capped).

/// The longest line accepted: far above any real chunk (a few KiB), far
/// below what would exhaust memory.
pub(crate) const MAX_LINE: usize = 16 << 20;

#[derive(Debug, Default)]
pub(crate) struct Parser {
    /// The current line so far (without its end).
    line: Vec<u8>,
    /// The current event's data lines, each followed by `\n`.
    data: Vec<u8>,
    has_data: bool,
    /// The last byte was a CR: a following LF belongs to the same line end.
    after_cr: bool,
    /// Bytes of the stream seen so far (for the byte-order mark).
    seen: usize,
}

impl Parser {
    /// Feeds the next bytes; every event they complete goes to `out`. Fails
    /// on a line longer than [`MAX_LINE`].
    pub(crate) fn feed(
        &mut self,
        bytes: &[u8],
        out: &mut impl Extend<String>,
    ) -> Result<(), String> {
        let mut rest = bytes;
        // A UTF-8 byte-order mark may open the stream (and only there).
        while self.seen < 3 && !rest.is_empty() {
            if rest[0] != b"\xEF\xBB\xBF"[self.seen] {
                if self.seen > 0 {
                    // Not a mark after all: its bytes are text.
                    let partial = b"\xEF\xBB\xBF"[..self.seen].to_vec();
                    self.seen = 3;
                    self.feed(&partial, out)?;
                }
                self.seen = 3;
                break;
            }
            self.seen += 1;
            rest = &rest[1..];
        }
        if self.seen < 3 {
            return Ok(());
        }
        // Whole runs of line bytes at a time, not byte by byte.
        while let Some((&first, tail)) = rest.split_first() {
            if self.after_cr && first == b'\n' {
                // The LF of a CRLF: its CR ended the line already.
                self.after_cr = false;
                rest = tail;
                continue;
            }
            self.after_cr = false;
            let end = rest.iter().position(|&b| b == b'\n' || b == b'\r');
            let text = &rest[..end.unwrap_or(rest.len())];
            if self.line.len() + text.len() > MAX_LINE {
                return Err(format!(
                    "an event line longer than {MAX_LINE} bytes (the stream is not server-sent events)"
                ));
            }
            self.line.extend_from_slice(text);
            let Some(end) = end else { break };
            self.after_cr = rest[end] == b'\r';
            self.end_line(out);
            rest = &rest[end + 1..];
        }
        Ok(())
    }

    /// The stream ended: a last event without its closing blank line still
    /// counts (a server cut short must not lose what it sent).
    pub(crate) fn finish(&mut self, out: &mut impl Extend<String>) {
        if !self.line.is_empty() {
            self.end_line(out);
        }
        self.dispatch(out);
    }

    /// Ends the current line. Its buffer is kept for the next one: a
    /// stream is millions of lines.
    fn end_line(&mut self, out: &mut impl Extend<String>) {
        let line = &self.line;
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            self.line.clear();
            return; // a comment
        }
        let (field, value) = match line.iter().position(|&c| c == b':') {
            Some(p) => {
                let v = &line[p + 1..];
                (&line[..p], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (&line[..], &[][..]),
        };
        if field == b"data" {
            self.data.reserve(value.len() + 1);
            self.data.extend_from_slice(value);
            self.data.push(b'\n');
            self.has_data = true;
        }
        self.line.clear();
    }

    fn dispatch(&mut self, out: &mut impl Extend<String>) {
        if !self.has_data {
            return;
        }
        self.has_data = false;
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the last data line's `\n`
        // Valid UTF-8 (the rule) becomes the event without a copy.
        let text = String::from_utf8(data)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        out.extend([text]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every split of `stream` into two feeds gives the same events.
    fn events(stream: &[u8]) -> Vec<String> {
        let mut first: Option<Vec<String>> = None;
        for cut in 0..=stream.len() {
            let mut p = Parser::default();
            let mut out = Vec::new();
            p.feed(&stream[..cut], &mut out).expect("feed");
            p.feed(&stream[cut..], &mut out).expect("feed");
            p.finish(&mut out);
            match &first {
                None => first = Some(out),
                Some(f) => assert_eq!(&out, f, "split at {cut}"),
            }
        }
        first.unwrap_or_default()
    }

    #[test]
    fn line_ends_of_every_kind() {
        for end in ["\n", "\r\n", "\r"] {
            let s = format!(
                "data: a{end}{end}: comment{end}data:b{end}data: c{end}{end}data: [DONE]{end}{end}"
            );
            assert_eq!(events(s.as_bytes()), ["a", "b\nc", "[DONE]"], "{end:?}");
        }
    }

    #[test]
    fn a_byte_order_mark_opens_the_stream_only() {
        assert_eq!(events(b"\xEF\xBB\xBFdata: x\n\n"), ["x"]);
        assert_eq!(events(b"\xEF\xBBdata: x\n\n"), Vec::<String>::new());
        assert_eq!(
            events(b"data: \xEF\xBB\xBFx\n\n"),
            ["\u{feff}x"],
            "inside the data it is text"
        );
    }

    #[test]
    fn the_last_event_counts_without_its_blank_line() {
        assert_eq!(events(b"data: 1\n\ndata: [DONE]"), ["1", "[DONE]"]);
        assert_eq!(events(b"data: 1\r\rdata: 2\r"), ["1", "2"]);
        assert_eq!(events(b"event: ping\nid: 3\n\n"), Vec::<String>::new());
    }

    /// Bounded property test: 3,000 seeded streams of SSE-ish bytes (any
    /// byte value, weighted toward the syntax), each fed whole and in random
    /// pieces: no panic, and the pieces give the same events as the whole.
    #[test]
    fn any_bytes_split_anywhere() {
        let mut state: u64 = 0x853c_49e6_748f_ea9b;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        const ALPHABET: &[&[u8]] = &[
            b"data:",
            b"data: ",
            b":",
            b"\n",
            b"\r",
            b"\r\n",
            b"\xEF\xBB\xBF",
            b"x",
            b"{}",
            b"\xff",
            b"event: e",
        ];
        for _ in 0..3000 {
            let mut stream = Vec::new();
            for _ in 0..(next() % 40) {
                if next() % 4 == 0 {
                    stream.push((next() % 256) as u8);
                } else {
                    stream.extend_from_slice(ALPHABET[(next() % ALPHABET.len() as u64) as usize]);
                }
            }
            let whole = {
                let mut p = Parser::default();
                let mut out = Vec::new();
                p.feed(&stream, &mut out).expect("short lines");
                p.finish(&mut out);
                out
            };
            let mut p = Parser::default();
            let mut out = Vec::new();
            let mut rest = &stream[..];
            while !rest.is_empty() {
                let cut = 1 + (next() as usize) % rest.len();
                p.feed(&rest[..cut], &mut out).expect("short lines");
                rest = &rest[cut..];
            }
            p.finish(&mut out);
            assert_eq!(out, whole, "{stream:?}");
        }
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut p = Parser::default();
        let mut out: Vec<String> = Vec::new();
        let chunk = vec![b'x'; 1 << 20];
        let mut err = None;
        for _ in 0..(MAX_LINE >> 20) + 2 {
            if let Err(e) = p.feed(&chunk, &mut out) {
                err = Some(e);
                break;
            }
        }
        assert!(err.is_some_and(|e| e.contains("longer than")));
    }
}
