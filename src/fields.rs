//! Typed, located access to a YAML tree that records every problem it meets.
//!
//! Each schema (master configs, runner config, changelog) walks its document
//! with these helpers; a helper that finds a problem pushes a [`Diagnostic`]
//! and returns `None`, so the walk goes on and reports all problems at once.

use crate::diag::Diagnostic;
use crate::yaml::{Key, Node, Pos, Value};
use std::collections::HashMap;

/// Collects problems for one file.
pub(crate) struct Sink<'f> {
    pub(crate) file: &'f str,
    pub(crate) diags: Vec<Diagnostic>,
}

impl<'f> Sink<'f> {
    pub(crate) fn new(file: &'f str) -> Self {
        Sink {
            file,
            diags: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, pos: Option<Pos>, path: &str, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::new(self.file, pos, path, message));
    }
}

/// Joins a path and a field name with `/`.
pub(crate) fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}/{field}")
    }
}

/// Path of a list item: `path[i]`.
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// A mapping whose keys have been checked against an allowed set.
pub(crate) struct Fields<'n> {
    pub(crate) path: String,
    pub(crate) pos: Pos,
    entries: Vec<(&'n Key, &'n Node)>,
}

impl<'n> Fields<'n> {
    /// Opens `node` as a mapping of known fields. Reports a non-mapping,
    /// unknown fields (with the allowed list) and repeated fields.
    pub(crate) fn open(
        sink: &mut Sink,
        node: &'n Node,
        path: &str,
        what: &str,
        allowed: &[&str],
    ) -> Option<Fields<'n>> {
        let Some(map) = node.as_map() else {
            sink.push(
                Some(node.pos),
                path,
                format!("expected {what} (a mapping), found {}", node.describe()),
            );
            return None;
        };
        let mut seen: HashMap<&str, Pos> = HashMap::new();
        let mut entries = Vec::new();
        for (key, value) in map {
            if let Some(first) = seen.get(key.name.as_str()) {
                sink.push(
                    Some(key.pos),
                    &join(path, &key.name),
                    format!(
                        "duplicate field `{}` (first set at line {}); remove one of them",
                        key.name, first.line
                    ),
                );
                continue;
            }
            seen.insert(&key.name, key.pos);
            if !allowed.contains(&key.name.as_str()) {
                sink.push(
                    Some(key.pos),
                    &join(path, &key.name),
                    format!(
                        "unknown field `{}` in {what}; allowed: {}",
                        key.name,
                        allowed.join(", ")
                    ),
                );
                continue;
            }
            entries.push((key, value));
        }
        Some(Fields {
            path: path.to_string(),
            pos: node.pos,
            entries,
        })
    }

    pub(crate) fn get(&self, name: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| *v)
    }

    pub(crate) fn field_path(&self, name: &str) -> String {
        join(&self.path, name)
    }

    /// The field, or a "missing required field" problem.
    pub(crate) fn required(&self, sink: &mut Sink, name: &str, what: &str) -> Option<&'n Node> {
        let node = self.get(name);
        if node.is_none() {
            sink.push(
                Some(self.pos),
                &self.path,
                format!("missing required field `{name}` ({what})"),
            );
        }
        node
    }

    pub(crate) fn req_string(&self, sink: &mut Sink, name: &str) -> Option<String> {
        let node = self.required(sink, name, "a string")?;
        string(sink, node, &self.field_path(name))
    }

    pub(crate) fn req_bool(&self, sink: &mut Sink, name: &str) -> Option<bool> {
        let node = self.required(sink, name, "true or false")?;
        boolean(sink, node, &self.field_path(name))
    }

    pub(crate) fn req_pos_int(&self, sink: &mut Sink, name: &str) -> Option<u32> {
        let node = self.required(sink, name, "a positive integer")?;
        pos_int(sink, node, &self.field_path(name))
    }

    /// `Some(None)` when absent, `Some(Some(v))` when valid, `None` when invalid.
    pub(crate) fn opt_bool(&self, sink: &mut Sink, name: &str) -> Option<Option<bool>> {
        match self.get(name) {
            None => Some(None),
            Some(node) => boolean(sink, node, &self.field_path(name)).map(Some),
        }
    }

    pub(crate) fn opt_pos_int(&self, sink: &mut Sink, name: &str) -> Option<Option<u32>> {
        match self.get(name) {
            None => Some(None),
            Some(node) => pos_int(sink, node, &self.field_path(name)).map(Some),
        }
    }
}

pub(crate) fn string(sink: &mut Sink, node: &Node, path: &str) -> Option<String> {
    match &node.value {
        Value::Str(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Str(_) => {
            sink.push(
                Some(node.pos),
                path,
                "must not be empty; expected a non-empty string",
            );
            None
        }
        _ => {
            sink.push(
                Some(node.pos),
                path,
                format!("expected a string, found {}", node.describe()),
            );
            None
        }
    }
}

pub(crate) fn boolean(sink: &mut Sink, node: &Node, path: &str) -> Option<bool> {
    match &node.value {
        Value::Bool(b) => Some(*b),
        _ => {
            sink.push(
                Some(node.pos),
                path,
                format!("expected true or false, found {}", node.describe()),
            );
            None
        }
    }
}

/// An integer >= 1 (tensor parallel sizes, lengths, concurrencies).
pub(crate) fn pos_int(sink: &mut Sink, node: &Node, path: &str) -> Option<u32> {
    match &node.value {
        Value::Int(i) if *i >= 1 && *i <= i64::from(u32::MAX) => Some(*i as u32),
        Value::Int(i) if *i < 1 => {
            sink.push(
                Some(node.pos),
                path,
                format!("must be at least 1, found {i}"),
            );
            None
        }
        _ => {
            sink.push(
                Some(node.pos),
                path,
                format!("expected a positive integer, found {}", node.describe()),
            );
            None
        }
    }
}

/// A list, reported when it is something else (or empty, unless `allow_empty`).
pub(crate) fn seq<'n>(
    sink: &mut Sink,
    node: &'n Node,
    path: &str,
    what: &str,
    allow_empty: bool,
) -> Option<&'n [Node]> {
    match node.as_seq() {
        Some(items) if items.is_empty() && !allow_empty => {
            sink.push(
                Some(node.pos),
                path,
                format!("must not be empty; expected a list of {what}"),
            );
            None
        }
        Some(items) => Some(items),
        None => {
            sink.push(
                Some(node.pos),
                path,
                format!("expected a list of {what}, found {}", node.describe()),
            );
            None
        }
    }
}

/// A non-empty list of non-empty strings; reports every bad item.
pub(crate) fn string_list(
    sink: &mut Sink,
    node: &Node,
    path: &str,
    allow_empty: bool,
) -> Option<Vec<String>> {
    let items = seq(sink, node, path, "strings", allow_empty)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match string(sink, item, &index(path, i)) {
            Some(s) => out.push(s),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// A mapping with free-form keys (config keys, runner types): reports a
/// non-mapping and repeated keys, returns the first occurrence of each key.
pub(crate) fn keyed_map<'n>(
    sink: &mut Sink,
    node: &'n Node,
    what: &str,
) -> Option<Vec<(&'n Key, &'n Node)>> {
    let Some(map) = node.as_map() else {
        if node.value == Value::Null {
            sink.push(None, "", format!("the file is empty; expected {what}"));
        } else {
            sink.push(
                Some(node.pos),
                "",
                format!("expected {what}, found {}", node.describe()),
            );
        }
        return None;
    };
    let mut seen: HashMap<&str, Pos> = HashMap::new();
    let mut out = Vec::with_capacity(map.len());
    for (key, value) in map {
        if let Some(first) = seen.get(key.name.as_str()) {
            sink.push(
                Some(key.pos),
                &key.name,
                format!(
                    "duplicate key `{}` (first defined at line {}); each key may appear once",
                    key.name, first.line
                ),
            );
            continue;
        }
        seen.insert(&key.name, key.pos);
        out.push((key, value));
    }
    Some(out)
}
