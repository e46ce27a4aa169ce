//! Problems found in user input, with where they are and how to show them.
//!
//! Detection code builds [`Diagnostic`] values; rendering is separate: one
//! renderer for people (`file:line:col: key/field: message`) and one for the
//! GitHub Actions runner (`::error file=...,line=...,col=...::message`).

use crate::yaml::Pos;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diagnostic {
    /// The file the problem is in, as the user named it.
    pub(crate) file: String,
    pub(crate) pos: Option<Pos>,
    /// Where inside the document, e.g. `dsr1-fp8-b200-sglang/seq-len-configs[0]/isl`.
    /// Empty for problems with the file as a whole.
    pub(crate) path: String,
    pub(crate) message: String,
}

impl Diagnostic {
    pub(crate) fn new(
        file: &str,
        pos: Option<Pos>,
        path: &str,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.to_string(),
            pos,
            path: path.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(pos) = self.pos {
            write!(f, ":{}:{}", pos.line, pos.col)?;
        }
        if self.path.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.path, self.message)
        }
    }
}

/// How bad a diagnostic is: errors stop the command, warnings are reported
/// and the command goes on (input the seed system accepts, compat.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Error,
    Warning,
}

impl Level {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
        }
    }
}

/// Renders diagnostics for a terminal or log, one per line.
pub(crate) fn render_human(diags: &[Diagnostic], level: Level) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(level.word());
        out.push_str(": ");
        out.push_str(&d.to_string());
        out.push('\n');
    }
    out
}

/// Renders diagnostics as GitHub Actions `::error`/`::warning` workflow
/// commands, which the runner turns into annotations on the file and line.
pub(crate) fn render_github(diags: &[Diagnostic], level: Level) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str("::");
        out.push_str(level.word());
        out.push_str(" file=");
        out.push_str(&escape_property(&d.file));
        if let Some(pos) = d.pos {
            out.push_str(&format!(",line={},col={}", pos.line, pos.col));
        }
        out.push_str(",title=infmax::");
        let message = if d.path.is_empty() {
            d.message.clone()
        } else {
            format!("{}: {}", d.path, d.message)
        };
        out.push_str(&escape_data(&message));
        out.push('\n');
    }
    out
}

/// A fence around untrusted text (server logs, model output) on a stream
/// the Actions runner reads: between `::stop-commands::TOKEN` and `::TOKEN::`
/// no line is taken as a workflow command. The token is random, so the text
/// cannot end the fence early.
pub(crate) struct CommandFence(String);

impl CommandFence {
    pub(crate) fn open(w: &mut impl std::io::Write) -> CommandFence {
        let token = format!("{:032x}", rand::random::<u128>());
        let _ = writeln!(w, "::stop-commands::{token}");
        let _ = w.flush();
        CommandFence(token)
    }

    pub(crate) fn close(self, w: &mut impl std::io::Write) {
        let _ = writeln!(w, "::{}::", self.0);
        let _ = w.flush();
    }
}

/// `text` inside a fence (see [`CommandFence`]), as one string.
pub(crate) fn fenced(text: &str) -> String {
    let mut out = Vec::new();
    let fence = CommandFence::open(&mut out);
    out.extend_from_slice(text.as_bytes());
    if !text.ends_with('\n') {
        out.push(b'\n');
    }
    fence.close(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether this process runs in a GitHub Actions step, whose runner reads
/// workflow commands from every line of stdout and stderr.
pub(crate) fn in_github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// The one sanitiser for text for people that may quote untrusted input
/// (config keys and values, server logs, model and file names): inside
/// GitHub Actions, text that could hold a workflow command (`::name::` at a
/// line start, or the runner's older `##[name]` form anywhere in a line) is
/// fenced, so none of it is obeyed. Unchanged elsewhere.
pub(crate) fn for_people(text: String) -> String {
    sanitised(text, in_github_actions())
}

fn sanitised(text: String, in_actions: bool) -> String {
    if in_actions && (text.contains("::") || text.contains("##[")) {
        fenced(&text)
    } else {
        text
    }
}

/// Escaping for the message part of a workflow command (the runner's rules).
pub(crate) fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping for a `key=value` property of a workflow command.
pub(crate) fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_command_form_is_fenced_in_actions_only() {
        for text in ["a\n::error::x\n", "a ##[add-mask]x\n"] {
            let got = sanitised(text.to_string(), true);
            assert!(got.starts_with("::stop-commands::"), "{got}");
            assert!(got.contains(text), "{got}");
            assert_eq!(sanitised(text.to_string(), false), text);
        }
        assert_eq!(sanitised("plain: text\n".into(), true), "plain: text\n");
    }

    fn sample() -> Diagnostic {
        Diagnostic::new(
            "configs/a, b.yaml",
            Some(Pos { line: 3, col: 7 }),
            "key/tp",
            "expected a positive integer, found string \"x\"\n100%",
        )
    }

    #[test]
    fn human_form_is_file_line_col_path_message() {
        assert_eq!(
            render_human(&[sample()], Level::Error),
            "error: configs/a, b.yaml:3:7: key/tp: expected a positive integer, found string \"x\"\n100%\n"
        );
    }

    #[test]
    fn github_form_escapes_properties_and_data() {
        assert_eq!(
            render_github(&[sample()], Level::Error),
            "::error file=configs/a%2C b.yaml,line=3,col=7,title=infmax::key/tp: expected a positive integer, found string \"x\"%0A100%25\n"
        );
    }

    #[test]
    fn file_level_problem_has_no_position() {
        let d = Diagnostic::new("x.yaml", None, "", "file is empty");
        assert_eq!(d.to_string(), "x.yaml: file is empty");
        assert_eq!(
            render_github(std::slice::from_ref(&d), Level::Error),
            "::error file=x.yaml,title=infmax::file is empty\n"
        );
        assert_eq!(
            render_github(&[d], Level::Warning),
            "::warning file=x.yaml,title=infmax::file is empty\n"
        );
    }
}
