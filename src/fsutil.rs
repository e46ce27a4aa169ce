//! File helpers: reading user input with located errors, and atomic writes so
//! a failed command never leaves a partial output file behind.

use crate::diag::Diagnostic;
use std::io::Write;
use std::path::Path;

/// Reads a user-supplied text file; the error names the file and the cause.
pub(crate) fn read_input(path: &Path) -> Result<String, Diagnostic> {
    let label = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map_err(|e| Diagnostic::new(&label, None, "", format!("not valid UTF-8 text ({e})"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Diagnostic::new(&label, None, "", "file not found"))
        }
        Err(e) => Err(Diagnostic::new(
            &label,
            None,
            "",
            format!("cannot read file: {e}"),
        )),
    }
}

/// A file name made of `[A-Za-z0-9._-]` only (anything else becomes `_`), for
/// names built from config values and artifact names.
pub(crate) fn safe_file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Distinct file names for one folder: each made safe, cut to a length
/// every file system takes (a stem from a model name can be any length),
/// and numbered (`_2`, `_3`) when two would be the same, so no file
/// overwrites another.
#[derive(Default)]
pub(crate) struct FileNames(std::collections::HashSet<String>);

impl FileNames {
    /// Longest stem kept, in bytes (the name stays well under 255).
    const MAX_STEM: usize = 150;

    pub(crate) fn next(&mut self, stem: &str, ext: &str) -> String {
        let mut base = safe_file_name(stem);
        base.truncate(Self::MAX_STEM);
        let mut name = format!("{base}{}", safe_file_name(ext));
        let mut i = 2;
        while !self.0.insert(name.clone()) {
            name = format!("{base}_{i}{}", safe_file_name(ext));
            i += 1;
        }
        name
    }
}

/// Writes `data` to `path` through a temporary file in the same directory and
/// a rename, so readers see either the old file or the whole new one.
pub(crate) fn atomic_write(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Output folders (--out-dir, --result-dir) are created as needed.
    std::fs::create_dir_all(dir)?;
    // A temporary file is private (0600); the result is not: a file written
    // by a root container is read by a host-side step running as another
    // user. 0666 under the umask, as a plain create would get.
    use std::os::unix::fs::PermissionsExt;
    let mut tmp = tempfile::Builder::new()
        .prefix(".infmax-tmp-")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Appends `data` to `path` in one write (GitHub's `GITHUB_OUTPUT` and
/// `GITHUB_STEP_SUMMARY` files are appended to by several steps).
pub(crate) fn append(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(data)?;
    f.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_distinct_and_short() {
        let mut n = FileNames::default();
        assert_eq!(n.next("a/b c", ".svg"), "a_b_c.svg");
        // `a b/c` and `a/b c` are the same once made safe.
        assert_eq!(n.next("a b/c", ".svg"), "a_b_c_2.svg");
        assert_eq!(n.next("a_b_c", ".svg"), "a_b_c_3.svg");
        let long = n.next(&"m".repeat(1000), ".svg");
        assert_eq!(long.len(), 154);
        assert_eq!(
            n.next(&"m".repeat(999), ".svg"),
            format!("{}_2.svg", "m".repeat(150))
        );
    }

    #[test]
    fn atomic_write_gives_a_plain_files_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"x").expect("write");
        let p = dir.path().join("out.json");
        atomic_write(&p, b"x").expect("write");
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&p), mode(&plain));
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("out.json");
        atomic_write(&p, b"first").expect("write");
        atomic_write(&p, b"second").expect("rewrite");
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "second");
        let leftovers = std::fs::read_dir(dir.path()).expect("ls").count();
        assert_eq!(leftovers, 1, "no temporary file left behind");
        let nested = dir.path().join("a/b/out.json");
        atomic_write(&nested, b"x").expect("creates the folders");
        assert_eq!(std::fs::read_to_string(&nested).expect("read"), "x");
    }

    #[test]
    fn missing_input_is_named() {
        let d = read_input(Path::new("/nonexistent/x.yaml")).expect_err("missing");
        assert_eq!(d.to_string(), "/nonexistent/x.yaml: file not found");
    }
}
