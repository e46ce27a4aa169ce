//! The composite action's scripts (scripts/action/): install from a given
//! binary or a checksum-verified release archive, and the run step's
//! argument handling. Archives come from a server on 127.0.0.1 the test runs.

mod common;

use common::Scratch;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the action's scripts with its own release-checksums/ folder.
fn action_copy(s: &Scratch) -> PathBuf {
    let dir = s.path().join("action");
    std::fs::create_dir_all(dir.join("scripts/action")).expect("mkdir");
    std::fs::create_dir_all(dir.join("release-checksums")).expect("mkdir");
    for f in ["install.sh", "run.sh"] {
        std::fs::copy(
            root().join("scripts/action").join(f),
            dir.join("scripts/action").join(f),
        )
        .expect("copy");
    }
    dir
}

fn install(s: &Scratch, action: &Path, envs: &[(&str, &str)]) -> (Output, String, String) {
    let out_file = s.write("gh_output", "");
    let path_file = s.write("gh_path", "");
    let mut cmd = Command::new("bash");
    cmd.arg(action.join("scripts/action/install.sh"))
        .env("GITHUB_ACTION_PATH", action)
        .env("RUNNER_TEMP", s.path().join("runner_temp"))
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("GITHUB_OUTPUT", &out_file)
        .env("GITHUB_PATH", &path_file)
        .env("GITHUB_REPOSITORY", "infmax/infmax");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("bash");
    (out, s.read("gh_output"), s.read("gh_path"))
}

/// Serves `body` to up to `n` requests on 127.0.0.1; returns the base URL.
fn serve(body: Vec<u8>, n: usize) -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://127.0.0.1:{}", l.local_addr().expect("addr").port());
    std::thread::spawn(move || {
        for stream in l.incoming().take(n) {
            let Ok(mut c) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = c.write_all(head.as_bytes());
            let _ = c.write_all(&body);
        }
    });
    url
}

/// A release archive holding a stand-in `infmax` script, and its SHA-256.
fn archive(s: &Scratch) -> (Vec<u8>, String) {
    let dir = s.path().join("pkg");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("infmax"), "#!/bin/sh\necho 'infmax 9.9.9'\n").expect("write");
    let tgz = s.path().join("a.tar.gz");
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "chmod +x {d}/infmax && tar -czf {t} -C {d} infmax",
            d = dir.display(),
            t = tgz.display()
        ))
        .status()
        .expect("tar");
    assert!(ok.success());
    let sum = Command::new("sha256sum")
        .arg(&tgz)
        .output()
        .expect("sha256sum");
    let sum = String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .expect("a sum")
        .to_string();
    (std::fs::read(&tgz).expect("read"), sum)
}

#[test]
fn binary_path_is_put_on_path() {
    let s = Scratch::new();
    let action = action_copy(&s);
    let bin = env!("CARGO_BIN_EXE_infmax");
    let (out, outputs, paths) = install(&s, &action, &[("INFMAX_INPUT_BINARY_PATH", bin)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = s.path().join("runner_temp/infmax-action/bin/infmax");
    assert_eq!(outputs, format!("path={}\n", link.display()));
    assert_eq!(
        paths.trim(),
        link.parent().expect("dir").display().to_string()
    );
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("infmax "));

    let (out, ..) = install(
        &s,
        &action,
        &[("INFMAX_INPUT_BINARY_PATH", "/nonexistent/infmax")],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("binary-path /nonexistent/infmax is not an executable file")
    );
}

#[test]
fn no_committed_sums_means_no_download() {
    let s = Scratch::new();
    let action = action_copy(&s);
    let (out, outputs, _) = install(&s, &action, &[]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(outputs, "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no release has SHA-256 sums committed in release-checksums/. Set build-from-source: true"),
        "{err}"
    );
    let (out, ..) = install(&s, &action, &[("INFMAX_INPUT_VERSION", "v1.0.0")]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("version v1.0.0 has no SHA-256 sums committed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn archive_is_installed_only_when_its_sum_matches() {
    let s = Scratch::new();
    let action = action_copy(&s);
    let (body, sum) = archive(&s);
    let asset = "infmax-v1.2.3-x86_64-unknown-linux-musl.tar.gz";
    let sums = action.join("release-checksums/v1.2.3.sha256");

    // A wrong sum: refused, nothing installed, even with build-from-source.
    std::fs::write(&sums, format!("{}  {asset}\n", "0".repeat(64))).expect("write");
    let url = serve(body.clone(), 1);
    let (out, outputs, _) = install(
        &s,
        &action,
        &[
            ("INFMAX_RELEASE_BASE_URL", url.as_str()),
            ("INFMAX_INPUT_BUILD_FROM_SOURCE", "true"),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!(
            "{asset}: SHA-256 {sum} does not match the committed {}",
            "0".repeat(64)
        )),
        "{err}"
    );
    assert_eq!(outputs, "");
    assert!(
        !s.path()
            .join("runner_temp/infmax-action/bin/infmax")
            .exists()
    );

    // The right sum: installed (the newest committed version is the default).
    std::fs::write(&sums, format!("{sum}  {asset}\n")).expect("write");
    std::fs::write(action.join("release-checksums/v1.0.0.sha256"), "").expect("write");
    let url = serve(body, 1);
    let (out, outputs, _) = install(&s, &action, &[("INFMAX_RELEASE_BASE_URL", url.as_str())]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("downloading {url}/v1.2.3/{asset}")),
        "{err}"
    );
    assert!(err.contains("infmax 9.9.9"), "{err}");
    assert!(outputs.starts_with("path="), "{outputs}");

    // A later step of the job given that installed binary (collect-results'
    // Charts step passes the first step's infmax-path): used as it is.
    let installed = s.path().join("runner_temp/infmax-action/bin/infmax");
    let (out, outputs, _) = install(
        &s,
        &action,
        &[(
            "INFMAX_INPUT_BINARY_PATH",
            installed.to_str().expect("utf8"),
        )],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(outputs, format!("path={}\n", installed.display()));
}

#[test]
fn run_step_splits_arguments_without_a_shell() {
    let s = Scratch::new();
    let action = action_copy(&s);
    // A stand-in binary that prints its arguments one per line.
    let fake = s.write(
        "fake.sh",
        "#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\"; done\n",
    );
    Command::new("chmod")
        .arg("+x")
        .arg(&fake)
        .status()
        .expect("chmod");
    let out = Command::new("bash")
        .arg(action.join("scripts/action/run.sh"))
        .env("INFMAX_BIN", &fake)
        .env("INFMAX_INPUT_COMMAND", "matrix  test-config")
        .env(
            "INFMAX_INPUT_ARGS",
            "--config-keys 'a b' \"c\" $(touch pwned) `touch pwned2`",
        )
        .current_dir(s.path())
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[matrix]\n[test-config]\n[--config-keys]\n[a b]\n[c]\n[$(touch]\n[pwned)]\n[`touch]\n[pwned2`]\n"
    );
    assert!(!s.path().join("pwned").exists() && !s.path().join("pwned2").exists());
    let out = Command::new("bash")
        .arg(action.join("scripts/action/run.sh"))
        .env("INFMAX_BIN", &fake)
        .env("INFMAX_INPUT_COMMAND", "  ")
        .output()
        .expect("bash");
    assert_eq!(out.status.code(), Some(2));
    // Bad quoting stops the step; it never runs with the words before it.
    // (A quote cannot span lines either, so no argument carries a newline
    // into the log line below.)
    for args in ["--config-keys 'a b", "--out \"x", "'x\n::error::pwned'"] {
        let out = Command::new("bash")
            .arg(action.join("scripts/action/run.sh"))
            .env("INFMAX_BIN", &fake)
            .env("INFMAX_INPUT_COMMAND", "validate")
            .env("INFMAX_INPUT_ARGS", args)
            .output()
            .expect("bash");
        assert_eq!(out.status.code(), Some(2), "{args}");
        assert!(out.stdout.is_empty(), "{args}: the binary ran");
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .starts_with("::error title=infmax::the args input has an unmatched quote"),
            "{args}"
        );
    }
}
