//! The random dataset: per-request input/output lengths and prompts that
//! tokenize to exactly their target length with the model's tokenizer (or
//! token-id prompts, exact by construction). Deterministic for a seed.

use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;
use rand::{RngExt, SeedableRng, rngs::StdRng};

#[derive(Debug, Clone)]
pub(crate) struct DatasetSpec {
    pub(crate) num_prompts: usize,
    pub(crate) input_len: u32,
    pub(crate) output_len: u32,
    /// Lengths are uniform in [floor(ratio·L), L].
    pub(crate) range_ratio: f64,
    /// Tokens of a prefix shared by every prompt, on top of the input length.
    pub(crate) prefix_len: u32,
    pub(crate) seed: u64,
}

/// A prompt as it will be sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PromptBody {
    Text(String),
    TokenIds(Vec<u32>),
}

#[derive(Debug, Clone)]
pub(crate) struct Prompt {
    pub(crate) body: PromptBody,
    /// Target tokens (prefix + input length).
    pub(crate) target_len: u32,
    /// Tokens it really has with the tokenizer (== target for token ids).
    pub(crate) prompt_len: u32,
    pub(crate) output_len: u32,
}

/// Token ids used for tokenizer-free prompts: common vocabulary range of
/// every modern tokenizer (all have more than 30k entries).
const ID_RANGE: std::ops::Range<u32> = 1000..30000;

fn lengths(rng: &mut StdRng, len: u32, ratio: f64) -> u32 {
    let lo = ((f64::from(len) * ratio.clamp(0.0, 1.0)).floor() as u32).min(len);
    if lo >= len {
        len
    } else {
        rng.random_range(lo..=len)
    }
}

/// Vocabulary entries that make stable prompt text: decoding one and
/// encoding the text gives it back, alone and after a space-separated word.
fn candidates(tok: &Tokenizer) -> Result<Vec<u32>> {
    let vocab = u32::try_from(tok.vocab_size()).unwrap_or(u32::MAX);
    let mut out = Vec::new();
    for id in 0..vocab {
        let Some(piece) = tok.id_to_token(id) else {
            continue;
        };
        // Prefer whole-word pieces (byte-level `Ġword`, sentencepiece `▁word`).
        let word = piece.strip_prefix('Ġ').or_else(|| piece.strip_prefix('▁'));
        let Some(word) = word else { continue };
        if word.len() < 2 || !word.chars().all(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        let text = tok.decode(&[id])?;
        if tok.encode(&text)? == [id] {
            out.push(id);
        }
        if out.len() >= 4096 {
            break;
        }
    }
    if out.len() < 16 {
        // A small or unusual vocabulary: any piece that round-trips.
        out.clear();
        for id in 0..vocab {
            let text = tok.decode(&[id])?;
            if !text.trim().is_empty() && text.is_ascii() && tok.encode(&text)? == [id] {
                out.push(id);
            }
        }
    }
    if out.is_empty() {
        return Err(Error::usage(format!(
            "tokenizer {}: no vocabulary entry round-trips through decode/encode; cannot build exact-length prompts",
            tok.source.display()
        )));
    }
    Ok(out)
}

/// Text of exactly `target` tokens: `prefix` (fixed) + random words,
/// corrected until the tokenizer agrees (boundaries can merge tokens).
fn exact_text(
    tok: &Tokenizer,
    rng: &mut StdRng,
    cands: &[u32],
    prefix: &str,
    prefix_len: u32,
    target: u32,
) -> Result<(String, u32)> {
    let want = target.saturating_sub(prefix_len) as usize;
    let mut ids: Vec<u32> = (0..want)
        .map(|_| cands[rng.random_range(0..cands.len())])
        .collect();
    let mut best: Option<(String, u32)> = None;
    for _ in 0..24 {
        let text = format!("{prefix}{}", tok.decode(&ids)?);
        let n = u32::try_from(tok.count(&text)?).unwrap_or(u32::MAX);
        if best
            .as_ref()
            .is_none_or(|(_, b)| n.abs_diff(target) < b.abs_diff(target))
        {
            best = Some((text, n));
        }
        match n.cmp(&target) {
            std::cmp::Ordering::Equal => break,
            std::cmp::Ordering::Greater => {
                let drop = ((n - target) as usize).min(ids.len());
                ids.truncate(ids.len() - drop);
            }
            std::cmp::Ordering::Less => {
                for _ in 0..(target - n) {
                    ids.push(cands[rng.random_range(0..cands.len())]);
                }
            }
        }
    }
    Ok(best.unwrap_or_default())
}

/// Builds every prompt. With a tokenizer: text of exact length; without:
/// token-id lists.
pub(crate) fn build(spec: &DatasetSpec, tokenizer: Option<&Tokenizer>) -> Result<Vec<Prompt>> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let lens: Vec<(u32, u32)> = (0..spec.num_prompts)
        .map(|_| {
            (
                lengths(&mut rng, spec.input_len, spec.range_ratio),
                lengths(&mut rng, spec.output_len, spec.range_ratio),
            )
        })
        .collect();
    match tokenizer {
        None => {
            let prefix: Vec<u32> = (0..spec.prefix_len)
                .map(|_| rng.random_range(ID_RANGE))
                .collect();
            Ok(lens
                .into_iter()
                .map(|(input, output)| {
                    let mut ids = prefix.clone();
                    ids.extend((0..input).map(|_| rng.random_range(ID_RANGE)));
                    let n = u32::try_from(ids.len()).unwrap_or(u32::MAX);
                    Prompt {
                        body: PromptBody::TokenIds(ids),
                        target_len: n,
                        prompt_len: n,
                        output_len: output.max(1),
                    }
                })
                .collect())
        }
        Some(tok) => {
            let cands = candidates(tok)?;
            let (prefix, prefix_len) = if spec.prefix_len > 0 {
                exact_text(tok, &mut rng, &cands, "", 0, spec.prefix_len)?
            } else {
                (String::new(), 0)
            };
            lens.into_iter()
                .map(|(input, output)| {
                    let target = spec.prefix_len + input;
                    let (text, n) = exact_text(tok, &mut rng, &cands, &prefix, prefix_len, target)?;
                    Ok(Prompt {
                        body: PromptBody::Text(text),
                        target_len: target,
                        prompt_len: n,
                        output_len: output.max(1),
                    })
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_uniform_in_range_and_seeded() {
        let spec = DatasetSpec {
            num_prompts: 200,
            input_len: 100,
            output_len: 10,
            range_ratio: 0.5,
            prefix_len: 0,
            seed: 1,
        };
        let a = build(&spec, None).expect("builds");
        let b = build(&spec, None).expect("builds");
        assert_eq!(
            a.iter().map(|p| p.body.clone()).collect::<Vec<_>>(),
            b.iter().map(|p| p.body.clone()).collect::<Vec<_>>()
        );
        assert!(
            a.iter()
                .all(|p| (50..=100).contains(&p.target_len) && (5..=10).contains(&p.output_len))
        );
        assert!(a.iter().any(|p| p.target_len < 60) && a.iter().any(|p| p.target_len > 90));
        let fixed = DatasetSpec {
            range_ratio: 1.0,
            ..spec
        };
        assert!(
            build(&fixed, None)
                .expect("builds")
                .iter()
                .all(|p| p.target_len == 100 && p.output_len == 10)
        );
    }

    #[test]
    fn token_id_prompts_share_the_prefix() {
        let spec = DatasetSpec {
            num_prompts: 3,
            input_len: 5,
            output_len: 2,
            range_ratio: 1.0,
            prefix_len: 4,
            seed: 9,
        };
        let p = build(&spec, None).expect("builds");
        let ids: Vec<&Vec<u32>> = p
            .iter()
            .map(|p| match &p.body {
                PromptBody::TokenIds(i) => i,
                PromptBody::Text(_) => panic!("ids"),
            })
            .collect();
        assert!(ids.iter().all(|i| i.len() == 9 && i[..4] == ids[0][..4]));
        assert!(ids[0][4..] != ids[1][4..]);
    }
}
