//! The SSE parser on arbitrary bytes: it never panics, and the events do not
//! depend on how the stream was cut into reads. The first two bytes choose
//! the cuts; the rest is the stream.
#![no_main]

#[path = "../../src/bench/sse.rs"]
#[allow(dead_code)]
mod sse;

libfuzzer_sys::fuzz_target!(|input: &[u8]| {
    let (seed, stream) = match input {
        [a, b, rest @ ..] => ((*a as usize) << 8 | *b as usize, rest),
        _ => return,
    };
    let whole = events(stream, &[stream.len()]);
    // Cuts every `step` bytes, and at one byte each.
    let step = seed % 17 + 1;
    let cuts: Vec<usize> = (1..=stream.len())
        .filter(|i| i % step == 0 || *i == stream.len())
        .collect();
    assert_eq!(events(stream, &cuts), whole);
    let ones: Vec<usize> = (1..=stream.len()).collect();
    assert_eq!(events(stream, &ones), whole);
});

/// The events (or the error) from feeding `stream` cut at `ends`.
fn events(stream: &[u8], ends: &[usize]) -> Result<Vec<String>, String> {
    let mut p = sse::Parser::default();
    let mut out = Vec::new();
    let mut start = 0;
    for &end in ends {
        p.feed(&stream[start..end], &mut out)?;
        start = end;
    }
    p.finish(&mut out);
    Ok(out)
}
