//! Markdown output that stays inert whatever the text: escaping for table
//! cells, and the size guard for GitHub's 1 MiB step-summary limit.

/// Escapes text for a GitHub-flavoured Markdown table cell: no `|` can end
/// the cell, no HTML or emphasis can render, no newline can end the row,
/// and in a PR comment no `@name` pings anyone and no URL becomes a link.
pub(crate) fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '@' => out.push_str("&#64;"),
            ':' if chars.peek() == Some(&'/') => out.push_str("&#58;"),
            // `www.x.y` links itself too.
            '.' if out.ends_with("www") || out.ends_with("WWW") => out.push_str("&#46;"),
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A table: header cells and rows of already-formatted cells (escaped here).
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "| {} |\n",
        header
            .iter()
            .map(|h| cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    out.push_str(&format!("|{}\n", " --- |".repeat(header.len())));
    for r in rows {
        out.push_str(&format!(
            "| {} |\n",
            r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
        ));
    }
    out
}

/// GitHub rejects a step summary over 1 MiB; stay below with a margin.
pub(crate) const SUMMARY_LIMIT: usize = 1024 * 1024 - 64 * 1024;

/// Cuts `markdown` at a row boundary to fit `limit`, noting where the rest is.
pub(crate) fn fit(markdown: &str, limit: usize, artifact: &str) -> String {
    if markdown.len() <= limit {
        return markdown.to_string();
    }
    let note_room = 400;
    let mut out = String::new();
    let mut dropped = 0usize;
    for line in markdown.lines() {
        if dropped == 0 && out.len() + line.len() < limit.saturating_sub(note_room) {
            out.push_str(line);
            out.push('\n');
        } else if line.starts_with('|') {
            dropped += 1;
        }
    }
    out.push_str(&format!(
        "\n> {dropped} more table rows did not fit GitHub's 1 MiB step-summary limit; every row is in the `{}` artifact.\n",
        cell(artifact)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_inert() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(
            cell("<img src=x onerror=alert(1)>"),
            "&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(cell("`code` **b**"), "\\`code\\` \\*\\*b\\*\\*");
        assert_eq!(cell("two\nlines"), "two lines");
        assert_eq!(cell("[link](http://x)"), "\\[link\\](http&#58;//x)");
        assert_eq!(
            cell("@octocat see https://evil.example"),
            "&#64;octocat see https&#58;//evil.example"
        );
        assert_eq!(cell("www.evil.example"), "www&#46;evil.example");
        assert_eq!(cell("tp8 ep1 12:00"), "tp8 ep1 12:00");
    }

    #[test]
    fn table_rows_stay_rows() {
        let t = table(&["Model"], &[vec!["evil | model\n| injected |".into()]]);
        assert_eq!(
            t,
            "| Model |\n| --- |\n| evil \\| model \\| injected \\| |\n"
        );
        assert_eq!(t.lines().count(), 3);
    }

    #[test]
    fn fit_cuts_at_rows_with_a_note() {
        let rows: Vec<Vec<String>> = (0..100).map(|i| vec![format!("row {i}")]).collect();
        let t = table(&["x"], &rows);
        let f = fit(&t, 900, "agg_bmk.json");
        assert!(f.len() <= 900, "{}", f.len());
        assert!(f.contains("more table rows did not fit") && f.contains("agg\\_bmk.json"));
        assert_eq!(fit(&t, 1 << 20, "a"), t);
    }
}
