//! The perf changelog: its entries, how their config keys resolve (with `*`
//! wildcards), and the matrix a changelog diff produces (matrix.md,
//! "`matrix changelog`").

pub(crate) mod diff;

use crate::config::{ConfigEntry, MasterConfigs};
use crate::diag::Diagnostic;
use crate::error::{Error, Result};
use crate::fields::{self, Fields, Sink, index};
use crate::matrix::eval_marks::{self, EvalMode};
use crate::matrix::{MatrixEntry, test_config};
use crate::yaml::{self, Node, Pos, Value};
use indexmap::IndexMap;
use serde::Serialize;
use std::collections::HashSet;

/// One changelog entry, as written (patterns unexpanded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct ChangelogEntry {
    pub(crate) config_keys: Vec<String>,
    pub(crate) description: Vec<String>,
    pub(crate) pr_link: String,
    pub(crate) evals_only: bool,
    #[serde(skip)]
    pub(crate) pos: Pos,
    /// Position of each config key, for "matches nothing" messages.
    #[serde(skip)]
    pub(crate) key_pos: Vec<Pos>,
}

const ENTRY_FIELDS: &[&str] = &["config-keys", "description", "pr-link", "evals-only"];

/// Parses a list of changelog entries. With `require_entries`, an empty
/// document or list is a problem (a diff must add at least one entry).
pub(crate) fn parse_entries(
    sink: &mut Sink,
    root: &Node,
    require_entries: bool,
) -> Vec<ChangelogEntry> {
    if root.value == Value::Null {
        if require_entries {
            sink.push(
                Some(root.pos),
                "",
                "expected a list of changelog entries, found nothing",
            );
        }
        return Vec::new();
    }
    let Some(items) = fields::seq(sink, root, "", "changelog entries", !require_entries) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = index("", i);
        let Some(f) = Fields::open(sink, item, &path, "a changelog entry", ENTRY_FIELDS) else {
            continue;
        };
        let keys_node = f.required(sink, "config-keys", "a list of config keys or patterns");
        let keys = keys_node
            .and_then(|n| fields::string_list(sink, n, &f.field_path("config-keys"), false));
        let description = f
            .required(sink, "description", "a list of strings")
            .and_then(|n| fields::string_list(sink, n, &f.field_path("description"), false));
        let pr_link = f.req_string(sink, "pr-link");
        let evals_only = f.opt_bool(sink, "evals-only");
        if let (Some(config_keys), Some(description), Some(pr_link), Some(evals_only), Some(kn)) =
            (keys, description, pr_link, evals_only, keys_node)
        {
            let key_pos = kn
                .as_seq()
                .map(|s| s.iter().map(|n| n.pos).collect())
                .unwrap_or_default();
            out.push(ChangelogEntry {
                config_keys,
                description,
                pr_link,
                evals_only: evals_only.unwrap_or(false),
                pos: item.pos,
                key_pos,
            });
        }
    }
    out
}

/// A config-key pattern with the seed's semantics: `*` matches any run of
/// characters (none included), nothing else is special, and the whole key
/// must match. Compiled once by `globset` with every other glob
/// metacharacter escaped.
pub(crate) struct KeyPattern(globset::GlobMatcher);

impl KeyPattern {
    pub(crate) fn new(pattern: &str) -> Option<KeyPattern> {
        let escaped: Vec<String> = pattern.split('*').map(globset::escape).collect();
        globset::GlobBuilder::new(&escaped.join("*"))
            .literal_separator(false)
            .backslash_escape(false)
            .build()
            .ok()
            .map(|g| KeyPattern(g.compile_matcher()))
    }

    pub(crate) fn is_match(&self, key: &str) -> bool {
        self.0.is_match(key)
    }
}

/// Resolves every entry's keys to configs: patterns must match something,
/// plain keys must exist, and a key already taken by an earlier entry (or
/// earlier in the same entry) is dropped. Reports every problem.
pub(crate) fn resolve<'c>(
    file: &str,
    entries: &[ChangelogEntry],
    configs: &'c MasterConfigs,
) -> Result<Vec<Vec<&'c ConfigEntry>>> {
    let mut diags = Vec::new();
    let mut taken: HashSet<&str> = HashSet::new();
    let mut out = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let resolved = match_keys(file, i, entry, configs, &mut diags)
            .into_iter()
            .filter(|c| taken.insert(c.key.as_str()))
            .collect();
        out.push(resolved);
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(Error::Invalid(diags))
    }
}

/// Every config an entry's keys name, in key order then config order
/// (repeats included); a key or pattern that names nothing is a problem.
fn match_keys<'c>(
    file: &str,
    i: usize,
    entry: &ChangelogEntry,
    configs: &'c MasterConfigs,
    diags: &mut Vec<Diagnostic>,
) -> Vec<&'c ConfigEntry> {
    let mut out = Vec::new();
    for (j, key) in entry.config_keys.iter().enumerate() {
        let matches: Vec<&ConfigEntry> = if key.contains('*') {
            let pattern = KeyPattern::new(key);
            configs
                .entries
                .iter()
                .filter(|c| pattern.as_ref().is_some_and(|p| p.is_match(c.key.as_str())))
                .collect()
        } else {
            configs.get(key).into_iter().collect()
        };
        if matches.is_empty() {
            let what = if key.contains('*') {
                format!("pattern `{key}` matches no config key")
            } else {
                format!("config key `{key}` does not exist")
            };
            diags.push(Diagnostic::new(
                file,
                entry.key_pos.get(j).copied().or(Some(entry.pos)),
                &format!("[{i}]/config-keys[{j}]"),
                format!(
                    "{what} in {}; check the spelling, or add the config first",
                    configs.files.join(", ")
                ),
            ));
        }
        out.extend(matches);
    }
    out
}

/// `changelog_metadata` of the output.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Metadata {
    pub(crate) base_ref: String,
    pub(crate) head_ref: String,
    pub(crate) entries: Vec<ChangelogEntry>,
}

/// The changelog command's output object.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChangelogMatrix {
    pub(crate) single_node: IndexMap<String, Vec<MatrixEntry>>,
    pub(crate) multi_node: IndexMap<String, Vec<MatrixEntry>>,
    pub(crate) changelog_metadata: Metadata,
}

impl ChangelogMatrix {
    /// Expands each entry like `test-config`, marks evals per entry
    /// (`evals-only: true` → evals-only, else run-evals) and groups by
    /// node kind and seq-len name.
    pub(crate) fn build(resolved: &[Vec<&ConfigEntry>], metadata: Metadata) -> ChangelogMatrix {
        let mut m = ChangelogMatrix {
            single_node: IndexMap::new(),
            multi_node: IndexMap::new(),
            changelog_metadata: metadata,
        };
        for (configs, entry) in resolved.iter().zip(&m.changelog_metadata.entries) {
            let list: Vec<MatrixEntry> = configs
                .iter()
                .flat_map(|c| test_config::expand(c, &[]))
                .collect();
            let mode = if entry.evals_only {
                EvalMode::Only
            } else {
                EvalMode::Run
            };
            for e in eval_marks::apply(list, mode) {
                let group = if e.is_multinode() {
                    &mut m.multi_node
                } else {
                    &mut m.single_node
                };
                group.entry(e.seq().name()).or_default().push(e);
            }
        }
        m
    }

    /// (kind, seq name, entries) for every group.
    pub(crate) fn groups(&self) -> impl Iterator<Item = (&'static str, &str, &[MatrixEntry])> {
        let single = self
            .single_node
            .iter()
            .map(|(k, v)| ("single_node", k.as_str(), v.as_slice()));
        let multi = self
            .multi_node
            .iter()
            .map(|(k, v)| ("multi_node", k.as_str(), v.as_slice()));
        single.chain(multi)
    }

    /// Part i holds the i-th chunk of `max` entries of every group (an empty
    /// list where a group has fewer chunks), so each part keeps the shape.
    pub(crate) fn split(&self, max: usize) -> Vec<ChangelogMatrix> {
        let parts = self
            .groups()
            .map(|(_, _, v)| v.len().div_ceil(max))
            .max()
            .unwrap_or(1)
            .max(1);
        let chunk = |g: &IndexMap<String, Vec<MatrixEntry>>,
                     i: usize|
         -> IndexMap<String, Vec<MatrixEntry>> {
            g.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.chunks(max)
                            .nth(i)
                            .map(<[MatrixEntry]>::to_vec)
                            .unwrap_or_default(),
                    )
                })
                .collect()
        };
        (0..parts)
            .map(|i| ChangelogMatrix {
                single_node: chunk(&self.single_node, i),
                multi_node: chunk(&self.multi_node, i),
                changelog_metadata: self.changelog_metadata.clone(),
            })
            .collect()
    }
}

/// The job matrix for what a change from `base` to `head` appends to the
/// changelog `file`. Where each side was read from goes to `note` first,
/// so it is told even when the entries then turn out to be bad.
pub(crate) fn matrix(
    configs: &MasterConfigs,
    file: &std::path::Path,
    base: &str,
    head: &str,
    github: diff::Github,
    note: &mut dyn FnMut(&str),
) -> Result<ChangelogMatrix> {
    let label = file.display().to_string();
    let d = diff::changelog_diff(file, base, head, github)?;
    d.notes.iter().for_each(|n| note(n));
    let added = diff::added_lines(&label, base, head, d.changes)?;
    let entries = parse_added(&label, &added)?;
    let resolved = resolve(&label, &entries, configs)?;
    let metadata = Metadata {
        base_ref: base.to_string(),
        head_ref: head.to_string(),
        entries,
    };
    Ok(ChangelogMatrix::build(&resolved, metadata))
}

/// Parses the added lines of a changelog diff (joined, as YAML) into
/// entries. Problem positions are mapped back to lines of the head file.
pub(crate) fn parse_added(label: &str, lines: &[(u32, String)]) -> Result<Vec<ChangelogEntry>> {
    let text: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    let file_line = |joined: u32| -> u32 {
        let i = usize::try_from(joined.saturating_sub(1)).unwrap_or(usize::MAX);
        lines.get(i).or(lines.last()).map_or(joined, |(n, _)| *n)
    };
    let remap = |mut d: Diagnostic| -> Diagnostic {
        if let Some(p) = d.pos.as_mut() {
            p.line = file_line(p.line);
        }
        d.message = format!("in the added lines: {}", d.message);
        d
    };
    let mut sink = Sink::new(label);
    let mut entries = match yaml::parse(&text) {
        Ok(root) => parse_entries(&mut sink, &root, true),
        Err(e) => {
            sink.push(e.pos, "", e.message);
            Vec::new()
        }
    };
    if !sink.diags.is_empty() {
        return Err(Error::Invalid(sink.diags.into_iter().map(remap).collect()));
    }
    for e in &mut entries {
        e.pos.line = file_line(e.pos.line);
        for p in &mut e.key_pos {
            p.line = file_line(p.line);
        }
    }
    Ok(entries)
}

/// What `validate --changelog-file` found in a whole changelog.
#[derive(Debug)]
pub(crate) struct Validated {
    pub(crate) entries: usize,
    /// Entries whose keys no longer resolve. History is immutable (a config
    /// renamed or removed later), so these are warnings; only entries added
    /// by a change must resolve (`resolve`, used by `matrix changelog`).
    pub(crate) warnings: Vec<Diagnostic>,
}

/// Validates a whole changelog file: every entry's shape (errors) and,
/// given the configs, that its keys still resolve (warnings).
pub(crate) fn validate_file(
    path: &std::path::Path,
    configs: Option<&MasterConfigs>,
) -> Result<Validated> {
    let label = path.display().to_string();
    let text = crate::fsutil::read_input(path).map_err(Error::invalid)?;
    let mut sink = Sink::new(&label);
    let entries = match yaml::parse(&text) {
        Ok(root) => parse_entries(&mut sink, &root, false),
        Err(e) => {
            sink.push(e.pos, "", e.message);
            Vec::new()
        }
    };
    if !sink.diags.is_empty() {
        return Err(Error::Invalid(sink.diags));
    }
    let mut warnings = Vec::new();
    if let Some(configs) = configs {
        // Resolution is checked independently per entry here: in a whole file
        // a key legitimately appears in many entries.
        for (i, e) in entries.iter().enumerate() {
            match_keys(&label, i, e, configs, &mut warnings);
        }
        for w in &mut warnings {
            w.message
                .push_str("; kept as history (only entries added by a change must resolve)");
        }
    }
    Ok(Validated {
        entries: entries.len(),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::fixtures;

    fn wildcard_match(pattern: &str, text: &str) -> bool {
        KeyPattern::new(pattern).is_some_and(|p| p.is_match(text))
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("dsr1-*", "dsr1-fp8-h100-vllm"));
        assert!(wildcard_match("*-vllm", "dsr1-fp8-h100-vllm"));
        assert!(wildcard_match("dsr1-*-h100-*", "dsr1-fp8-h100-vllm"));
        assert!(wildcard_match("dsr1*", "dsr1"), "* matches nothing too");
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("a*a", "aa"));
        assert!(
            !wildcard_match("a*a", "a"),
            "no overlapping of prefix and suffix"
        );
        assert!(!wildcard_match("dsr1-*-b200-*", "dsr1-fp8-h100-vllm"));
        assert!(
            !wildcard_match("dsr1", "dsr1-fp8"),
            "no implicit prefix match"
        );
        assert!(
            wildcard_match("d?r1[x]*", "d?r1[x]-y"),
            "? and [ are literal"
        );
        assert!(!wildcard_match("d?r1*", "dxr1-y"), "? matches only itself");
        assert!(
            wildcard_match("a{b,c}\\*", "a{b,c}\\-z"),
            "braces and backslashes are literal"
        );
        assert!(wildcard_match("a/*", "a/b/c"), "* crosses /");
    }

    fn entries(text: &str) -> (Vec<ChangelogEntry>, Vec<String>) {
        let mut sink = Sink::new("perf-changelog.yaml");
        let root = yaml::parse(text).expect("valid yaml");
        let e = parse_entries(&mut sink, &root, true);
        (e, sink.diags.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn parses_entries_and_reports_problems() {
        let (e, d) =
            entries("- config-keys: [dsr1-*]\n  description: [x]\n  pr-link: https://x/1\n");
        assert!(d.is_empty(), "{d:?}");
        assert!(!e[0].evals_only);
        let (_, d) = entries("- config-keys: []\n  description: x\n  pr-link: l\n  extra: 1\n");
        assert_eq!(
            d,
            vec![
                "perf-changelog.yaml:4:3: [0]/extra: unknown field `extra` in a changelog entry; allowed: config-keys, description, pr-link, evals-only",
                "perf-changelog.yaml:1:16: [0]/config-keys: must not be empty; expected a list of strings",
                "perf-changelog.yaml:2:16: [0]/description: expected a list of strings, found string \"x\"",
            ]
        );
        let (_, d) = entries("a: 1\n");
        assert_eq!(
            d,
            vec!["perf-changelog.yaml:1:1: expected a list of changelog entries, found a mapping"]
        );
    }

    #[test]
    fn resolution_drops_taken_keys_and_reports_unmatched() {
        let (c, _) = fixtures::load();
        let (e, _) = entries(
            "- config-keys: [dsr1-*]\n  description: [a]\n  pr-link: l\n- config-keys: [dsr1-fp8-h100-vllm, gptoss-*]\n  description: [b]\n  pr-link: l\n  evals-only: true\n",
        );
        let r = resolve("f", &e, &c).expect("resolves");
        let keys: Vec<Vec<&str>> = r
            .iter()
            .map(|v| v.iter().map(|c| c.key.as_str()).collect())
            .collect();
        assert_eq!(
            keys,
            vec![
                vec!["dsr1-fp8-h100-vllm", "dsr1-fp4-gb200-dynamo-trt"],
                vec!["gptoss-fp4-b200-trt"]
            ]
        );
        let (e, _) = entries(
            "- config-keys: [nope-*, dsr1-fp8-h100-vllm, missing]\n  description: [a]\n  pr-link: l\n",
        );
        let err = resolve("f", &e, &c).expect_err("unmatched");
        let Error::Invalid(d) = err else {
            panic!("invalid")
        };
        assert_eq!(d.len(), 2);
        assert_eq!(
            d[0].to_string(),
            "f:1:17: [0]/config-keys[0]: pattern `nope-*` matches no config key in configs.yaml; check the spelling, or add the config first"
        );
        assert!(
            d[1].to_string()
                .starts_with("f:1:45: [0]/config-keys[2]: config key `missing` does not exist"),
            "{}",
            d[1]
        );
    }

    #[test]
    fn builds_groups_and_marks_evals_per_entry() {
        let (c, _) = fixtures::load();
        let (e, _) = entries(
            "- config-keys: [dsr1-*]\n  description: [a]\n  pr-link: l\n- config-keys: [gptoss-*]\n  description: [b]\n  pr-link: l\n  evals-only: true\n",
        );
        let r = resolve("f", &e, &c).expect("resolves");
        let m = ChangelogMatrix::build(
            &r,
            Metadata {
                base_ref: "b".into(),
                head_ref: "h".into(),
                entries: e,
            },
        );
        let sizes: Vec<(&str, &str, usize)> = m.groups().map(|(k, s, v)| (k, s, v.len())).collect();
        // gptoss has no 1k8k entry, so evals-only leaves it with nothing.
        assert_eq!(
            sizes,
            vec![
                ("single_node", "1k1k", 9),
                ("single_node", "1k8k", 9),
                ("multi_node", "1k1k", 2)
            ]
        );
        let marked = m.single_node["1k8k"]
            .iter()
            .filter(|e| matches!(e, MatrixEntry::Single(s) if s.run_eval))
            .count();
        assert_eq!(marked, 2);
        let json = serde_json::to_value(&m).expect("serializes");
        assert_eq!(
            json["changelog_metadata"]["entries"][1],
            serde_json::json!({"config-keys": ["gptoss-*"], "description": ["b"], "pr-link": "l", "evals-only": true})
        );
    }

    #[test]
    fn split_keeps_shape() {
        let (c, _) = fixtures::load();
        let (e, _) = entries("- config-keys: ['*']\n  description: [a]\n  pr-link: l\n");
        let r = resolve("f", &e, &c).expect("resolves");
        let m = ChangelogMatrix::build(
            &r,
            Metadata {
                base_ref: "b".into(),
                head_ref: "h".into(),
                entries: e,
            },
        );
        let parts = m.split(5);
        let one_k: Vec<usize> = parts.iter().map(|p| p.single_node["1k1k"].len()).collect();
        assert_eq!(one_k, vec![5, 5, 2]);
        assert!(
            parts.iter().all(|p| p.multi_node.contains_key("1k1k")),
            "every part keeps every group"
        );
        let total: usize = parts
            .iter()
            .flat_map(|p| p.groups().map(|(_, _, v)| v.len()))
            .sum();
        assert_eq!(
            total,
            m.groups().map(|(_, _, v)| v.len()).sum::<usize>(),
            "nothing lost"
        );
    }
}
