//! Writes a byte-level BPE `tokenizer.json` for `benches/prompt_prep.py`:
//! trained on a seeded synthetic corpus (the tests' generator, larger).
//!
//! Usage: bench_tokenizer DIR [VOCAB=32000] [LINES=40000]

#[path = "../tests/common/tokenizer.rs"]
mod tokenizer;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: bench_tokenizer DIR [VOCAB] [LINES]");
        std::process::exit(2);
    };
    let num = |a: Option<String>, d: usize| a.and_then(|v| v.parse().ok()).unwrap_or(d);
    let vocab = num(args.next(), 32_000);
    let lines = num(args.next(), 40_000);
    let path = tokenizer::write_sized(std::path::Path::new(&dir), vocab, lines, 4);
    println!("{}", path.display());
}
