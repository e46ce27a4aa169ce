//! The command line: one file per subcommand (its typed arguments, their
//! conversion to the library's options, and its `exec`), as cargo's
//! `src/bin/cargo/commands/`. This file holds the top-level parser, the
//! dispatch, and the one place that prints errors and picks exit codes.
//!
//! Every flag a workflow step would pass can also come from an `INFMAX_*`
//! environment variable. Machine-readable output goes to stdout (through
//! [`output::stdout`]), everything for people to stderr.

mod bench;
mod collect;
mod compare;
mod config_args;
mod eval;
mod fetch;
mod matrix;
mod output;
mod pr;
mod report;
mod result;
mod run;
mod run_stats;
mod server;
mod sim;
mod validate;
mod values;

use crate::diag;
use crate::error::{Error, Result};
use crate::github;
use clap::{Parser, Subcommand};
use output::stdout;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "infmax",
    version,
    about = "Continuous LLM-inference benchmarking: job matrices, load generation, results",
    long_about = "Continuous LLM-inference benchmarking across hardware and engines.\n\n\
        Exit codes: 0 success; 1 invalid input (configs, changelog); 2 bad arguments; \
        3 environment failure (git, GitHub API, file system, server not reachable); \
        4 the run finished and wrote its output but failed a check (too many failed requests, \
        the server died)."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Append the step outputs `result-file` and `summary-file` (the files this
    /// command wrote) to $GITHUB_OUTPUT; the composite action sets this.
    #[arg(long, global = true, env = "INFMAX_FILE_OUTPUTS")]
    file_outputs: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check master configs, the runner config and the changelog; report every problem.
    Validate(Box<validate::ValidateArgs>),
    /// Generate a benchmark job matrix as JSON.
    #[command(subcommand)]
    Matrix(Box<matrix::MatrixCommand>),
    /// The main job on one machine: matrix -> engine -> benchmarks -> results, tables, charts.
    Run(Box<run::RunArgs>),
    /// Run a simulated OpenAI-compatible inference server (no GPU needed).
    Sim(Box<sim::SimArgs>),
    /// Benchmark a serving endpoint.
    #[command(subcommand)]
    Bench(Box<bench::BenchCommand>),
    /// Inference-server helpers.
    #[command(subcommand)]
    Server(Box<server::ServerCommand>),
    /// Process one benchmark run's result inside its job.
    #[command(subcommand)]
    Result(Box<result::ResultCommand>),
    /// Aggregate processed results or evals from a directory of artifacts.
    #[command(subcommand)]
    Collect(Box<collect::CollectCommand>),
    /// Charts (SVG, one per model and ISL/OSL) and a self-contained report.html.
    Report(report::ReportArgs),
    /// A sweep against its baseline, series by series: a noise-aware regression verdict per metric.
    Compare(Box<compare::CompareArgs>),
    /// Accuracy evals with lm-evaluation-harness.
    #[command(subcommand)]
    Eval(Box<eval::EvalCommand>),
    /// Success/total of a workflow run's jobs per GPU SKU -> run_stats.json and a table.
    RunStats(run_stats::RunStatsArgs),
    /// Download and unpack a workflow run's artifacts, then print the summary tables.
    Fetch(fetch::FetchArgs),
    /// The `/sweep` pull-request comment: permission check, pinned SHAs, the summary posted back.
    #[command(subcommand)]
    Pr(Box<pr::PrCommand>),
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // clap quotes the rejected value (an environment variable, perhaps):
        // through the sanitiser like every other message.
        Err(e) => {
            let text = e.render().to_string();
            if e.use_stderr() {
                eprint!("{}", diag::for_people(text));
            } else if stdout(&text).is_err() {
                return ExitCode::from(crate::error::EXIT_ENV);
            }
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

/// Prints warnings for people (and, inside GitHub Actions, as annotations);
/// the command goes on.
fn warn(diags: &[diag::Diagnostic]) {
    if diags.is_empty() {
        return;
    }
    let mut t = diag::for_people(diag::render_human(diags, diag::Level::Warning));
    if diag::in_github_actions() {
        t.push_str(&diag::render_github(diags, diag::Level::Warning));
    }
    let _ = std::io::stderr().lock().write_all(t.as_bytes());
}

/// Prints an error for people (and, inside GitHub Actions, as annotations).
fn report(e: &Error) {
    let mut err = std::io::stderr().lock();
    let text = match e {
        Error::Invalid(diags) => {
            let mut t = diag::for_people(diag::render_human(diags, diag::Level::Error));
            if diag::in_github_actions() {
                t.push_str(&diag::render_github(diags, diag::Level::Error));
            }
            let n = diags.len();
            t.push_str(&format!(
                "{n} problem{} found\n",
                if n == 1 { "" } else { "s" }
            ));
            t
        }
        Error::Usage(m) | Error::Env(m) | Error::Failed(m) => {
            let mut t = diag::for_people(format!("error: {m}\n"));
            if diag::in_github_actions() {
                t.push_str(&format!("::error title=infmax::{}\n", diag::escape_data(m)));
            }
            t
        }
    };
    let _ = err.write_all(text.as_bytes());
}

pub(crate) fn run(cli: Cli) -> Result<()> {
    let files = dispatch(cli.command)?;
    if cli.file_outputs {
        github::output::write_file_outputs(files.result.as_deref(), files.summary.as_deref())?;
    }
    files.failed.map_or(Ok(()), Err)
}

/// The files a command wrote, for `--file-outputs`, and the check it failed
/// after writing them (exit 4): the outputs still name the files.
#[derive(Default)]
struct Written {
    result: Option<PathBuf>,
    summary: Option<PathBuf>,
    failed: Option<Error>,
}

impl Written {
    fn result(p: impl Into<PathBuf>) -> Self {
        Written {
            result: Some(p.into()),
            ..Written::default()
        }
    }
    fn both(result: impl Into<PathBuf>, summary: impl Into<PathBuf>) -> Self {
        Written {
            result: Some(result.into()),
            summary: Some(summary.into()),
            ..Written::default()
        }
    }
    fn failing(mut self, e: Option<Error>) -> Self {
        self.failed = e;
        self
    }
}

fn dispatch(command: Command) -> Result<Written> {
    match command {
        Command::Validate(a) => validate::exec(&a),
        Command::Matrix(m) => matrix::exec(*m),
        Command::Run(a) => run::exec(&a),
        Command::Sim(a) => sim::exec(&a),
        Command::Bench(b) => bench::exec(*b),
        Command::Server(s) => server::exec(*s),
        Command::Result(r) => result::exec(*r),
        Command::Collect(c) => collect::exec(*c),
        Command::Report(a) => report::exec(&a),
        Command::Compare(a) => compare::exec(&a),
        Command::Eval(e) => eval::exec(*e),
        Command::RunStats(a) => run_stats::exec(&a),
        Command::Fetch(a) => fetch::exec(&a),
        Command::Pr(c) => pr::exec(*c),
    }
}
