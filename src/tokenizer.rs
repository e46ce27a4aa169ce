//! Loading a Hugging Face `tokenizer.json` from a path or the local HF cache
//! (never the network), shared by the load generator and the simulator.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

pub(crate) struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// The `tokenizer.json` that was loaded.
    pub(crate) source: PathBuf,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokenizer({})", self.source.display())
    }
}

/// The HF hub cache: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
/// `~/.cache/huggingface/hub`.
pub(crate) fn hub_cache() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HF_HUB_CACHE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os("HF_HOME").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p).join("hub"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/huggingface/hub"))
}

/// Finds `tokenizer.json` for `spec`: a file, a directory holding one, or a
/// model id `ORG/NAME` in the hub cache (`models--ORG--NAME/snapshots/*/`,
/// preferring the snapshot `refs/main` points at).
pub(crate) fn locate(spec: &str) -> Result<PathBuf> {
    let p = Path::new(spec);
    if p.is_file() {
        return Ok(p.to_path_buf());
    }
    if p.is_dir() {
        let f = p.join("tokenizer.json");
        return if f.is_file() {
            Ok(f)
        } else {
            Err(Error::usage(format!(
                "tokenizer {spec}: the directory has no tokenizer.json"
            )))
        };
    }
    let cache = hub_cache();
    let Some(cache) = cache else {
        return Err(Error::usage(format!(
            "tokenizer {spec}: not a path, and no HF cache directory is known (set HF_HUB_CACHE)"
        )));
    };
    let repo = cache.join(format!("models--{}", spec.replace('/', "--")));
    let snapshots = repo.join("snapshots");
    let preferred = std::fs::read_to_string(repo.join("refs/main"))
        .ok()
        .map(|r| snapshots.join(r.trim()).join("tokenizer.json"))
        .filter(|f| f.is_file());
    if let Some(f) = preferred {
        return Ok(f);
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(&snapshots)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path().join("tokenizer.json")))
                .filter(|f| f.is_file())
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    candidates.pop().ok_or_else(|| {
        Error::usage(format!(
            "tokenizer {spec}: not a file or directory, and no {}/*/tokenizer.json in the HF cache (infmax never downloads; fetch the tokenizer first, e.g. `huggingface-cli download {spec} tokenizer.json`)",
            snapshots.display()
        ))
    })
}

impl Tokenizer {
    pub(crate) fn load(spec: &str) -> Result<Tokenizer> {
        let source = locate(spec)?;
        let inner = tokenizers::Tokenizer::from_file(&source).map_err(|e| {
            Error::usage(format!(
                "tokenizer {spec}: cannot load {}: {e}",
                source.display()
            ))
        })?;
        Ok(Tokenizer { inner, source })
    }

    /// Token ids of `text`, without special tokens (BOS etc.).
    pub(crate) fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.inner
            .encode_fast(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| Error::env(format!("tokenizer failed to encode: {e}")))
    }

    pub(crate) fn count(&self, text: &str) -> Result<usize> {
        self.encode(text).map(|v| v.len())
    }

    pub(crate) fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, true)
            .map_err(|e| Error::env(format!("tokenizer failed to decode: {e}")))
    }

    pub(crate) fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(false)
    }

    pub(crate) fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }
}
