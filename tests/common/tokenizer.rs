//! A small byte-level BPE tokenizer trained on a seeded synthetic corpus,
//! written as `tokenizer.json` (what a Hugging Face model folder holds).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use tokenizers::TokenizerBuilder;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::PostProcessorWrapper;

const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "qui", "zen", "bar", "dor", "el", "fin", "gu",
    "ho", "ix", "ja", "ul", "wyn", "pre", "str", "ing", "ed",
];

/// Writes `dir/tokenizer.json` and returns its path: a 600-entry vocabulary.
pub fn write(dir: &Path) -> PathBuf {
    write_sized(dir, 600, 400, 3)
}

/// Writes `dir/tokenizer.json` trained to `vocab` entries on `lines` lines
/// of 30 words of 1 to `syllables` syllables (`benches/prompt_prep.py`
/// makes a 32k one with `examples/bench_tokenizer.rs`).
pub fn write_sized(dir: &Path, vocab: usize, lines: usize, syllables: u64) -> PathBuf {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let corpus: Vec<String> = (0..lines)
        .map(|_| {
            (0..30)
                .map(|_| {
                    let n = 1 + (next() % syllables) as usize;
                    (0..n)
                        .map(|_| SYLLABLES[(next() % SYLLABLES.len() as u64) as usize])
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let mut tok = TokenizerBuilder::<
        BPE,
        NormalizerWrapper,
        ByteLevel,
        PostProcessorWrapper,
        ByteLevel,
    >::new()
    .with_model(BPE::default())
    .with_pre_tokenizer(Some(ByteLevel::default()))
    .with_decoder(Some(ByteLevel::default()))
    .build()
    .expect("tokenizer builds");
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(vocab)
        .show_progress(false)
        .initial_alphabet(
            ByteLevel::alphabet()
                .into_iter()
                .filter(char::is_ascii)
                .collect(),
        )
        .build();
    tok.train(&mut trainer, corpus.iter()).expect("trains");
    std::fs::create_dir_all(dir).expect("mkdir");
    let path = dir.join("tokenizer.json");
    tok.save(&path, false).expect("saves");
    path
}
