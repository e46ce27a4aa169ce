//! The runner config: runner types (GPU SKU + engine family) and their nodes.

use crate::error::{Error, Result};
use crate::fields::{self, Sink};
use crate::fsutil;
use crate::yaml;
use indexmap::IndexMap;
use std::path::Path;

#[derive(Debug, Clone, Default)]
pub(crate) struct RunnerConfig {
    /// The file it was read from, for messages.
    pub(crate) file: String,
    types: IndexMap<String, Vec<String>>,
}

impl RunnerConfig {
    pub(crate) fn contains(&self, runner_type: &str) -> bool {
        self.types.contains_key(runner_type)
    }

    pub(crate) fn nodes(&self, runner_type: &str) -> &[String] {
        self.types.get(runner_type).map_or(&[], |v| v.as_slice())
    }

    pub(crate) fn type_names(&self) -> Vec<&str> {
        self.types.keys().map(String::as_str).collect()
    }

    /// Distinct nodes (a node listed under several runner types counts once).
    pub(crate) fn node_count(&self) -> usize {
        let nodes: std::collections::HashSet<&String> = self.types.values().flatten().collect();
        nodes.len()
    }

    /// Nodes of `runner_type` whose name contains `filter` (all nodes without one).
    pub(crate) fn matching_nodes(&self, runner_type: &str, filter: Option<&str>) -> Vec<&str> {
        self.nodes(runner_type)
            .iter()
            .map(String::as_str)
            .filter(|n| filter.is_none_or(|f| n.contains(f)))
            .collect()
    }

    /// An error unless every value is a known runner type.
    pub(crate) fn check_types<'a>(
        &self,
        flag: &str,
        values: impl IntoIterator<Item = &'a String>,
    ) -> Result<()> {
        let unknown: Vec<&str> = values
            .into_iter()
            .filter(|v| !self.contains(v))
            .map(String::as_str)
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        Err(Error::usage(format!(
            "{flag}: unknown runner type {}; runner types in {}: {}",
            unknown
                .iter()
                .map(|u| format!("`{u}`"))
                .collect::<Vec<_>>()
                .join(", "),
            self.file,
            self.type_names().join(", ")
        )))
    }
}

pub(crate) fn load(path: &Path) -> Result<RunnerConfig> {
    let label = path.display().to_string();
    let text = fsutil::read_input(path).map_err(Error::invalid)?;
    let mut sink = Sink::new(&label);
    let config = parse(&mut sink, &text);
    match config {
        Some(c) if sink.diags.is_empty() => Ok(c),
        _ => Err(Error::Invalid(sink.diags)),
    }
}

/// Parses `runner-type -> [node, ...]`; every node list non-empty. A node
/// may carry several labels (be listed under several runner types), as in
/// the seed system.
pub(crate) fn parse(sink: &mut Sink, text: &str) -> Option<RunnerConfig> {
    let root = match yaml::parse(text) {
        Ok(r) => r,
        Err(e) => {
            sink.push(e.pos, "", e.message);
            return None;
        }
    };
    let map = fields::keyed_map(
        sink,
        &root,
        "a mapping of runner types to lists of node names",
    )?;
    if map.is_empty() {
        sink.push(
            Some(root.pos),
            "",
            "no runner types; expected a mapping of runner types to lists of node names",
        );
    }
    let mut types = IndexMap::new();
    for (key, node) in map {
        let Some(nodes) = fields::string_list(sink, node, &key.name, false) else {
            continue;
        };
        types.insert(key.name.clone(), nodes);
    }
    Some(RunnerConfig {
        file: sink.file.to_string(),
        types,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_filters_nodes() {
        let mut sink = Sink::new("r.yaml");
        let rc = parse(
            &mut sink,
            "h100:\n- h100-cw_0\n- h100-nb_1\nb200: [b200-nb_0]\n",
        )
        .expect("valid");
        assert!(sink.diags.is_empty());
        assert_eq!(rc.type_names(), vec!["h100", "b200"]);
        assert_eq!(rc.matching_nodes("h100", Some("nb")), vec!["h100-nb_1"]);
        assert_eq!(rc.node_count(), 3);
    }

    #[test]
    fn a_node_may_carry_several_labels() {
        let mut sink = Sink::new("r.yaml");
        let rc = parse(&mut sink, "b200: [b200-nb_0]\nb200-trt: [b200-nb_0]\n").expect("valid");
        assert!(sink.diags.is_empty(), "{:?}", sink.diags);
        assert_eq!(rc.nodes("b200-trt"), ["b200-nb_0"]);
        assert_eq!(rc.nodes("b200"), ["b200-nb_0"]);
    }

    #[test]
    fn rejects_bad_shapes() {
        let mut sink = Sink::new("r.yaml");
        parse(
            &mut sink,
            "h100: h100-cw_0\nb200: []\nmi300x: [a, 3]\nmi325x: [a]\nmi355x: [a]\n",
        );
        let msgs: Vec<String> = sink.diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            msgs,
            vec![
                "r.yaml:1:7: h100: expected a list of strings, found string \"h100-cw_0\"",
                "r.yaml:2:7: b200: must not be empty; expected a list of strings",
                "r.yaml:3:13: mi300x[1]: expected a string, found integer 3",
            ]
        );
    }
}
