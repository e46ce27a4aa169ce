//! Master configs: the model of a benchmark configuration and its validation.
//!
//! A master config file maps config keys to entries (matrix.md, "Inputs").
//! Loading validates every file completely and reports every problem with its
//! file, line, column and key path; once loaded, the types below can only
//! hold valid values.
//!
//! Long (about 740 lines before its tests) because each config field sits
//! beside the check and the message that names it; split, a reader would
//! chase one field across files.

use crate::diag::Diagnostic;
use crate::error::{Error, Result};
use crate::fields::{self, Fields, Sink, index, join};
use crate::fsutil;
use crate::runners::RunnerConfig;
use crate::seqlen::SeqLen;
use crate::yaml::{self, Node, Pos};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A key of a master config (`dsr1-fp8-b200-sglang`): non-empty, no `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ConfigKey(String);

impl ConfigKey {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConfigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub(crate) enum SpecDecoding {
    #[serde(rename = "mtp")]
    Mtp,
    #[serde(rename = "draft_model")]
    DraftModel,
    #[default]
    #[serde(rename = "none")]
    None,
}

impl SpecDecoding {
    const NAMES: [&'static str; 3] = ["mtp", "draft_model", "none"];

    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            SpecDecoding::Mtp => "mtp",
            SpecDecoding::DraftModel => "draft_model",
            SpecDecoding::None => "none",
        }
    }

    fn parse(s: &str) -> Option<SpecDecoding> {
        match s {
            "mtp" => Some(SpecDecoding::Mtp),
            "draft_model" => Some(SpecDecoding::DraftModel),
            "none" => Some(SpecDecoding::None),
            _ => None,
        }
    }
}

/// The concurrencies a search item covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Concurrency {
    /// `conc-start`..=`conc-end`, expanded geometrically (see [`expand_range`]).
    Range { start: u32, end: u32 },
    /// `conc-list`, as written (non-empty, every value >= 1).
    List(Vec<u32>),
}

impl Concurrency {
    /// Every value, with a range expanded by `step`.
    pub(crate) fn values(&self, step: u32) -> Vec<u32> {
        match self {
            Concurrency::Range { start, end } => expand_range(*start, *end, step),
            Concurrency::List(list) => list.clone(),
        }
    }
}

/// start, start·s, start·s², ... clamped to `end`, stopping after `end`
/// (4..100, s=2 → 4 8 16 32 64 100). Requires 1 <= start <= end and s >= 2.
pub(crate) fn expand_range(start: u32, end: u32, step: u32) -> Vec<u32> {
    debug_assert!(
        start >= 1 && start <= end && step >= 2,
        "validated range and step"
    );
    let mut out = Vec::new();
    let mut v = u64::from(start.max(1));
    loop {
        let clamped = v.min(u64::from(end)) as u32;
        out.push(clamped);
        if clamped >= end {
            return out;
        }
        v *= u64::from(step.max(2));
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SingleNodeItem {
    pub(crate) tp: u32,
    pub(crate) ep: Option<u32>,
    pub(crate) dp_attn: Option<bool>,
    pub(crate) spec_decoding: SpecDecoding,
    pub(crate) conc: Concurrency,
}

/// A prefill or decode worker group of a multi-node item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct Worker {
    pub(crate) num_worker: u32,
    pub(crate) tp: u32,
    pub(crate) ep: u32,
    pub(crate) dp_attn: bool,
    #[serde(default)]
    pub(crate) additional_settings: Vec<String>,
}

impl Worker {
    /// GPUs of the pool: `num-worker x max(tp, ep)`; with data-parallel
    /// attention an engine spreads `ep` ranks over `ep` GPUs even at tp 1
    /// (compat.md §2).
    pub(crate) fn gpus(&self) -> u64 {
        u64::from(self.num_worker) * u64::from(self.tp.max(self.ep))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MultiNodeItem {
    pub(crate) spec_decoding: SpecDecoding,
    pub(crate) prefill: Worker,
    pub(crate) decode: Worker,
    pub(crate) conc: Concurrency,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SeqLenConfig<T> {
    pub(crate) seq: SeqLen,
    pub(crate) search_space: Vec<T>,
}

/// The search space of an entry, in the form its `multinode` flag selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Topology {
    Single(Vec<SeqLenConfig<SingleNodeItem>>),
    Multi(Vec<SeqLenConfig<MultiNodeItem>>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigEntry {
    pub(crate) key: ConfigKey,
    /// The file it came from and where its key is, for cross-file messages.
    pub(crate) file: String,
    pub(crate) pos: Pos,
    pub(crate) image: String,
    pub(crate) model: String,
    pub(crate) model_prefix: String,
    pub(crate) precision: String,
    pub(crate) framework: String,
    pub(crate) runner: String,
    /// Where `runner` is written, for runner-config cross-checks.
    pub(crate) runner_pos: Pos,
    pub(crate) disagg: bool,
    pub(crate) topology: Topology,
}

impl ConfigEntry {
    pub(crate) fn is_multinode(&self) -> bool {
        matches!(self.topology, Topology::Multi(_))
    }

    /// Number of search items over all seq-len configs.
    pub(crate) fn item_count(&self) -> usize {
        match &self.topology {
            Topology::Single(s) => s.iter().map(|c| c.search_space.len()).sum(),
            Topology::Multi(m) => m.iter().map(|c| c.search_space.len()).sum(),
        }
    }
}

/// Every entry of the master config files, in file order then key order.
#[derive(Debug, Clone, Default)]
pub(crate) struct MasterConfigs {
    pub(crate) files: Vec<String>,
    pub(crate) entries: Vec<ConfigEntry>,
}

impl MasterConfigs {
    pub(crate) fn get(&self, key: &str) -> Option<&ConfigEntry> {
        self.entries.iter().find(|e| e.key.as_str() == key)
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.key.as_str())
    }

    /// Warnings where an entry's runner is a label the runner config lacks.
    /// Not errors: the seed system generates such jobs and GitHub schedules
    /// them by label (compat.md §1).
    pub(crate) fn runner_warnings(&self, runners: &RunnerConfig) -> Vec<Diagnostic> {
        self.entries
            .iter()
            .filter(|e| !runners.contains(&e.runner))
            .map(|e| {
                Diagnostic::new(
                    &e.file,
                    Some(e.runner_pos),
                    &join(e.key.as_str(), "runner"),
                    format!(
                        "runner `{}` is not a runner type in {} (known: {}); its jobs are generated for the label as written, and commands that need its nodes see none",
                        e.runner,
                        runners.file,
                        runners.type_names().join(", ")
                    ),
                )
            })
            .collect()
    }
}

/// Where the configs live when no path is given: `configs/`, or the seed
/// system's `.github/configs/` when `configs/` does not exist (compat.md §1).
/// The second element says which was chosen and why, for stderr.
pub(crate) fn default_dir() -> (PathBuf, Option<String>) {
    let ours = Path::new("configs");
    let seeds = Path::new(".github/configs");
    if !ours.exists() && seeds.is_dir() {
        let note = "configs/ does not exist; using the seed layout's .github/configs/".to_string();
        (seeds.to_path_buf(), Some(note))
    } else {
        (ours.to_path_buf(), None)
    }
}

/// The default master config files: `DIR/*-master.yaml`, sorted by name.
pub(crate) fn default_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let read = std::fs::read_dir(dir).map_err(|e| {
        Error::usage(format!(
            "no --config-files given and {} cannot be read ({e}); run from the repository root or pass --config-files",
            dir.display()
        ))
    })?;
    let mut files: Vec<PathBuf> = read
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("-master.yaml"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::usage(format!(
            "no --config-files given and {} has no *-master.yaml file",
            dir.display()
        )));
    }
    Ok(files)
}

/// Expands glob patterns in file arguments (an Action's `args` never goes
/// through a shell). Plain paths are kept as given; a pattern that matches
/// nothing, or is malformed, is an error naming it; each file once, in
/// argument order then name order.
pub(crate) fn expand_file_args(flag: &str, args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = Vec::new();
    for arg in args {
        let text = arg.to_string_lossy();
        if !text.contains(['*', '?', '[']) {
            if !out.contains(arg) {
                out.push(arg.clone());
            }
            continue;
        }
        let paths = glob::glob(&text)
            .map_err(|e| Error::usage(format!("{flag} `{text}`: not a valid glob pattern: {e}")))?;
        let mut found = 0;
        for p in paths {
            let p = p.map_err(|e| Error::usage(format!("{flag} `{text}`: {e}")))?;
            found += 1;
            if !out.contains(&p) {
                out.push(p);
            }
        }
        if found == 0 {
            return Err(Error::usage(format!(
                "{flag} `{text}`: the pattern matches no file"
            )));
        }
    }
    Ok(out)
}

/// One file argument that may be a glob pattern (see [`expand_file_args`]):
/// the pattern must match exactly one file.
pub(crate) fn expand_one_file(flag: &str, arg: &Path) -> Result<PathBuf> {
    let mut files = expand_file_args(flag, std::slice::from_ref(&arg.to_path_buf()))?;
    if files.len() > 1 {
        let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::usage(format!(
            "{flag} `{}`: the pattern matches {} files ({}); it takes one",
            arg.display(),
            files.len(),
            names.join(", ")
        )));
    }
    Ok(files.remove(0))
}

/// Master configs and the runner config, loaded together: the problems of
/// both (and of a changelog checked against them) are reported at once.
pub(crate) struct Loaded {
    pub(crate) configs: Option<MasterConfigs>,
    pub(crate) runners: Option<crate::runners::RunnerConfig>,
    /// Every problem found in either (bad input: exit 1).
    pub(crate) problems: Vec<Diagnostic>,
    /// Runner labels of configs that the runner config does not list.
    pub(crate) warnings: Vec<Diagnostic>,
}

/// Loads both; only a failure that is not a problem in the files (one that
/// cannot be read, say) is an error here.
pub(crate) fn load_all(files: &[PathBuf], runner_config: &Path) -> Result<Loaded> {
    let mut problems = Vec::new();
    let configs = crate::error::invalid_into(load(files), &mut problems)?;
    let runners = crate::error::invalid_into(crate::runners::load(runner_config), &mut problems)?;
    let warnings = match (&configs, &runners) {
        (Some(c), Some(r)) => c.runner_warnings(r),
        _ => Vec::new(),
    };
    Ok(Loaded {
        configs,
        runners,
        problems,
        warnings,
    })
}

impl Loaded {
    /// Both, or every problem found (exit 1).
    pub(crate) fn require(self) -> Result<(MasterConfigs, crate::runners::RunnerConfig)> {
        crate::error::check(self.problems)?;
        match (self.configs, self.runners) {
            (Some(c), Some(r)) => Ok((c, r)),
            _ => Err(Error::env(
                "internal: configs loaded without problems are missing",
            )),
        }
    }
}

/// Loads and validates master config files; reports every problem in every file.
pub(crate) fn load(files: &[PathBuf]) -> Result<MasterConfigs> {
    let mut diags = Vec::new();
    let mut configs = MasterConfigs::default();
    let mut first_seen: HashMap<String, (String, Pos)> = HashMap::new();
    for path in files {
        let label = path.display().to_string();
        let text = match fsutil::read_input(path) {
            Ok(t) => t,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let mut sink = Sink::new(&label);
        let entries = parse_file(&mut sink, &text);
        diags.append(&mut sink.diags);
        for entry in entries {
            if let Some((file, pos)) = first_seen.get(entry.key.as_str()) {
                diags.push(Diagnostic::new(
                    &label,
                    Some(entry.pos),
                    entry.key.as_str(),
                    format!(
                        "config key `{}` is also defined in {file}:{}:{}; a key may be defined in one file only",
                        entry.key, pos.line, pos.col
                    ),
                ));
                continue;
            }
            first_seen.insert(entry.key.0.clone(), (label.clone(), entry.pos));
            configs.entries.push(entry);
        }
        configs.files.push(label);
    }
    if diags.is_empty() {
        Ok(configs)
    } else {
        Err(Error::Invalid(diags))
    }
}

/// Parses one master config document. Problems go to `sink`; only entries
/// without problems are returned.
pub(crate) fn parse_file(sink: &mut Sink, text: &str) -> Vec<ConfigEntry> {
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(e) => {
            sink.push(e.pos, "", e.message);
            return Vec::new();
        }
    };
    let Some(map) = fields::keyed_map(sink, &root, "a mapping of config keys to entries") else {
        return Vec::new();
    };
    if map.is_empty() {
        sink.push(
            Some(root.pos),
            "",
            "no config keys; expected a mapping of config keys to entries",
        );
    }
    let mut out = Vec::new();
    for (key, node) in map {
        let before = sink.diags.len();
        if key.name.contains('*') {
            sink.push(
                Some(key.pos),
                &key.name,
                "config keys must not contain `*` (reserved for changelog wildcards)",
            );
        }
        if key.name.trim().is_empty() {
            sink.push(Some(key.pos), &key.name, "config key must not be empty");
        }
        let entry = parse_entry(sink, &key.name, key.pos, node);
        if let Some(entry) = entry.filter(|_| sink.diags.len() == before) {
            out.push(entry);
        }
    }
    out
}

const ENTRY_FIELDS: &[&str] = &[
    "image",
    "model",
    "model-prefix",
    "precision",
    "framework",
    "runner",
    "multinode",
    "disagg",
    "seq-len-configs",
];

fn parse_entry(sink: &mut Sink, key: &str, pos: Pos, node: &Node) -> Option<ConfigEntry> {
    let f = Fields::open(sink, node, key, "a config entry", ENTRY_FIELDS)?;
    let image = f.req_string(sink, "image");
    let model = f.req_string(sink, "model");
    let model_prefix = f.req_string(sink, "model-prefix");
    let precision = f.req_string(sink, "precision");
    let framework = f.req_string(sink, "framework");
    let runner = f.req_string(sink, "runner");
    let multinode = f.req_bool(sink, "multinode");
    let disagg = f.opt_bool(sink, "disagg");
    let seq_node = f.required(
        sink,
        "seq-len-configs",
        "a list of {isl, osl, search-space}",
    );
    let topology = match (multinode, seq_node) {
        (Some(multi), Some(seq_node)) => {
            parse_seq_len_configs(sink, seq_node, &f.field_path("seq-len-configs"), multi)
        }
        _ => None,
    };
    Some(ConfigEntry {
        key: ConfigKey(key.to_string()),
        file: sink.file.to_string(),
        pos,
        image: image?,
        model: model?,
        model_prefix: model_prefix?,
        precision: precision?,
        framework: framework?,
        runner: runner?,
        runner_pos: f.get("runner").map_or(pos, |n| n.pos),
        disagg: disagg?.unwrap_or(false),
        topology: topology?,
    })
}

fn parse_seq_len_configs(
    sink: &mut Sink,
    node: &Node,
    path: &str,
    multinode: bool,
) -> Option<Topology> {
    let items = fields::seq(sink, node, path, "{isl, osl, search-space} items", false)?;
    let mut single = Vec::new();
    let mut multi = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let ipath = index(path, i);
        let Some(f) = Fields::open(
            sink,
            item,
            &ipath,
            "a seq-len config",
            &["isl", "osl", "search-space"],
        ) else {
            ok = false;
            continue;
        };
        let isl = f.req_pos_int(sink, "isl");
        let osl = f.req_pos_int(sink, "osl");
        let space = f.required(sink, "search-space", "a list of search items");
        let Some(space) = space else {
            ok = false;
            continue;
        };
        let spath = f.field_path("search-space");
        let Some(space_items) = fields::seq(sink, space, &spath, "search items", false) else {
            ok = false;
            continue;
        };
        // A bad isl/osl fails the entry, but the items are still checked so
        // every problem is reported.
        if isl.is_none() || osl.is_none() {
            ok = false;
        }
        let seq = SeqLen::new(isl.unwrap_or(1), osl.unwrap_or(1));
        if multinode {
            let parsed: Vec<_> = space_items
                .iter()
                .enumerate()
                .map(|(j, n)| parse_multi_item(sink, n, &index(&spath, j)))
                .collect();
            match parsed.into_iter().collect::<Option<Vec<_>>>() {
                Some(search_space) => multi.push(SeqLenConfig { seq, search_space }),
                None => ok = false,
            }
        } else {
            let parsed: Vec<_> = space_items
                .iter()
                .enumerate()
                .map(|(j, n)| parse_single_item(sink, n, &index(&spath, j)))
                .collect();
            match parsed.into_iter().collect::<Option<Vec<_>>>() {
                Some(search_space) => single.push(SeqLenConfig { seq, search_space }),
                None => ok = false,
            }
        }
    }
    if !ok {
        return None;
    }
    Some(if multinode {
        Topology::Multi(multi)
    } else {
        Topology::Single(single)
    })
}

const SINGLE_ITEM_FIELDS: &[&str] = &[
    "tp",
    "ep",
    "dp-attn",
    "spec-decoding",
    "conc-start",
    "conc-end",
    "conc-list",
];
const MULTI_ITEM_FIELDS: &[&str] = &[
    "spec-decoding",
    "prefill",
    "decode",
    "conc-start",
    "conc-end",
    "conc-list",
];
const WORKER_FIELDS: &[&str] = &["num-worker", "tp", "ep", "dp-attn", "additional-settings"];

fn parse_single_item(sink: &mut Sink, node: &Node, path: &str) -> Option<SingleNodeItem> {
    let f = Fields::open(
        sink,
        node,
        path,
        "a single-node search item (this entry has multinode: false)",
        SINGLE_ITEM_FIELDS,
    )?;
    let tp = f.req_pos_int(sink, "tp");
    let ep = f.opt_pos_int(sink, "ep");
    let dp_attn = f.opt_bool(sink, "dp-attn");
    let spec = parse_spec_decoding(sink, &f);
    let conc = parse_concurrency(sink, &f);
    Some(SingleNodeItem {
        tp: tp?,
        ep: ep?,
        dp_attn: dp_attn?,
        spec_decoding: spec?,
        conc: conc?,
    })
}

fn parse_multi_item(sink: &mut Sink, node: &Node, path: &str) -> Option<MultiNodeItem> {
    let f = Fields::open(
        sink,
        node,
        path,
        "a multi-node search item (this entry has multinode: true)",
        MULTI_ITEM_FIELDS,
    )?;
    let spec = parse_spec_decoding(sink, &f);
    let prefill = f
        .required(sink, "prefill", "a worker: num-worker, tp, ep, dp-attn")
        .and_then(|n| parse_worker(sink, n, &f.field_path("prefill")));
    let decode = f
        .required(sink, "decode", "a worker: num-worker, tp, ep, dp-attn")
        .and_then(|n| parse_worker(sink, n, &f.field_path("decode")));
    let conc = parse_concurrency(sink, &f);
    Some(MultiNodeItem {
        spec_decoding: spec?,
        prefill: prefill?,
        decode: decode?,
        conc: conc?,
    })
}

fn parse_worker(sink: &mut Sink, node: &Node, path: &str) -> Option<Worker> {
    let f = Fields::open(sink, node, path, "a worker", WORKER_FIELDS)?;
    let num_worker = f.req_pos_int(sink, "num-worker");
    let tp = f.req_pos_int(sink, "tp");
    let ep = f.req_pos_int(sink, "ep");
    let dp_attn = f.req_bool(sink, "dp-attn");
    let settings = match f.get("additional-settings") {
        None => Some(Vec::new()),
        Some(n) => fields::string_list(sink, n, &f.field_path("additional-settings"), true),
    };
    Some(Worker {
        num_worker: num_worker?,
        tp: tp?,
        ep: ep?,
        dp_attn: dp_attn?,
        additional_settings: settings?,
    })
}

fn parse_spec_decoding(sink: &mut Sink, f: &Fields) -> Option<SpecDecoding> {
    let Some(node) = f.get("spec-decoding") else {
        return Some(SpecDecoding::None);
    };
    let path = f.field_path("spec-decoding");
    let s = fields::string(sink, node, &path)?;
    let parsed = SpecDecoding::parse(&s);
    if parsed.is_none() {
        sink.push(
            Some(node.pos),
            &path,
            format!(
                "unknown spec-decoding `{s}`; allowed: {}",
                SpecDecoding::NAMES.join(", ")
            ),
        );
    }
    parsed
}

/// Concurrency: both `conc-start` and `conc-end` (start <= end), or a
/// non-empty `conc-list`; never both, never neither.
fn parse_concurrency(sink: &mut Sink, f: &Fields) -> Option<Concurrency> {
    let start = f.get("conc-start");
    let end = f.get("conc-end");
    let list = f.get("conc-list");
    if let Some(list) = list {
        if start.is_some() || end.is_some() {
            sink.push(
                Some(list.pos),
                &f.field_path("conc-list"),
                "give either conc-list or conc-start/conc-end, not both",
            );
            return None;
        }
        let path = f.field_path("conc-list");
        let items = fields::seq(sink, list, &path, "positive integers", false)?;
        let values: Vec<Option<u32>> = items
            .iter()
            .enumerate()
            .map(|(i, n)| fields::pos_int(sink, n, &index(&path, i)))
            .collect();
        return values
            .into_iter()
            .collect::<Option<Vec<u32>>>()
            .map(Concurrency::List);
    }
    match (start, end) {
        (None, None) => {
            sink.push(
                Some(f.pos),
                &f.path,
                "missing concurrency: give conc-start and conc-end, or conc-list",
            );
            None
        }
        (Some(n), None) => {
            sink.push(
                Some(n.pos),
                &f.field_path("conc-start"),
                "conc-start without conc-end; give both, or use conc-list",
            );
            None
        }
        (None, Some(n)) => {
            sink.push(
                Some(n.pos),
                &f.field_path("conc-end"),
                "conc-end without conc-start; give both, or use conc-list",
            );
            None
        }
        (Some(s), Some(e)) => {
            let start = fields::pos_int(sink, s, &f.field_path("conc-start"));
            let end = fields::pos_int(sink, e, &f.field_path("conc-end"));
            let (start, end) = (start?, end?);
            if start > end {
                sink.push(
                    Some(s.pos),
                    &f.field_path("conc-start"),
                    format!("conc-start ({start}) is greater than conc-end ({end}); it must be less than or equal"),
                );
                return None;
            }
            Some(Concurrency::Range { start, end })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Vec<ConfigEntry>, Vec<String>) {
        let mut sink = Sink::new("t.yaml");
        let entries = parse_file(&mut sink, text);
        (entries, sink.diags.iter().map(|d| d.to_string()).collect())
    }

    const GOOD: &str = "\
k1:
  image: img
  model: org/m
  model-prefix: m
  precision: fp8
  framework: vllm
  runner: h100
  multinode: false
  seq-len-configs:
  - isl: 1024
    osl: 1024
    search-space:
    - { tp: 8, conc-start: 4, conc-end: 64 }
    - { tp: 4, ep: 4, dp-attn: true, spec-decoding: mtp, conc-list: [1, 2] }
";

    #[test]
    fn range_expansion() {
        assert_eq!(expand_range(4, 100, 2), vec![4, 8, 16, 32, 64, 100]);
        assert_eq!(expand_range(4, 64, 2), vec![4, 8, 16, 32, 64]);
        assert_eq!(expand_range(5, 5, 2), vec![5]);
        assert_eq!(expand_range(1, 100, 4), vec![1, 4, 16, 64, 100]);
        assert_eq!(
            expand_range(3, u32::MAX, 2).last(),
            Some(&u32::MAX),
            "no overflow"
        );
    }

    #[test]
    fn parses_a_single_node_entry() {
        let (entries, diags) = parse(GOOD);
        assert!(diags.is_empty(), "{diags:?}");
        let e = &entries[0];
        assert_eq!(e.key.as_str(), "k1");
        assert!(!e.disagg);
        let Topology::Single(s) = &e.topology else {
            panic!("single-node")
        };
        assert_eq!(s[0].seq, SeqLen::new(1024, 1024));
        assert_eq!(
            s[0].search_space[0].conc,
            Concurrency::Range { start: 4, end: 64 }
        );
        assert_eq!(s[0].search_space[1].spec_decoding, SpecDecoding::Mtp);
        assert_eq!(s[0].search_space[1].ep, Some(4));
        assert_eq!(e.item_count(), 2);
    }

    #[test]
    fn reports_every_problem_not_just_the_first() {
        let text = GOOD
            .replace("tp: 8,", "tp: eight,")
            .replace("conc-list: [1, 2]", "conc-list: [1, 0]")
            .replace("  precision: fp8\n", "  precison: fp8\n");
        let (entries, diags) = parse(&text);
        assert!(entries.is_empty());
        assert_eq!(
            diags,
            vec![
                "t.yaml:5:3: k1/precison: unknown field `precison` in a config entry; allowed: image, model, model-prefix, precision, framework, runner, multinode, disagg, seq-len-configs",
                "t.yaml:2:3: k1: missing required field `precision` (a string)",
                "t.yaml:13:13: k1/seq-len-configs[0]/search-space[0]/tp: expected a positive integer, found string \"eight\"",
                "t.yaml:14:73: k1/seq-len-configs[0]/search-space[1]/conc-list[1]: must be at least 1, found 0",
            ]
        );
    }
}
