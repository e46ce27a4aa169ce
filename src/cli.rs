//! The command line: argument parsing into plain option structs, dispatch to
//! library code, and the one place that prints errors and picks exit codes.
//!
//! Every flag a workflow step would pass can also come from an `INFMAX_*`
//! environment variable. Machine-readable output goes to stdout, everything
//! for people to stderr.

use crate::changelog::{self, ChangelogMatrix, Metadata};
use crate::config::{self, MasterConfigs};
use crate::diag;
use crate::error::{Error, Result};
use crate::github;
use crate::matrix::evals::{self, EvalMode};
use crate::matrix::full_sweep::FullSweep;
use crate::matrix::output::MatrixOutput;
use crate::matrix::runner_model_sweep::RunnerModelSweep;
use crate::matrix::{MatrixEntry, NodeKind, test_config};
use crate::runners::{self, RunnerConfig};
use crate::seqlen::SeqLen;
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "infmax",
    version,
    about = "Continuous LLM-inference benchmarking: job matrices, load generation, results",
    long_about = "Continuous LLM-inference benchmarking across hardware and engines.\n\n\
        Exit codes: 0 success; 1 invalid input (configs, changelog); 2 bad arguments; \
        3 environment failure (git, GitHub API, file system)."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check master configs, the runner config and the changelog; report every problem.
    Validate(Box<ValidateArgs>),
    /// Generate a benchmark job matrix as JSON.
    #[command(subcommand)]
    Matrix(Box<MatrixCommand>),
}

#[derive(Args, Debug, Clone)]
struct ConfigArgs {
    /// Master config files [default: configs/*-master.yaml, sorted by name]
    #[arg(long, alias = "master-config", num_args = 1.., value_delimiter = ',', env = "INFMAX_CONFIG_FILES")]
    config_files: Vec<PathBuf>,
    /// Runner config: runner type -> node names.
    #[arg(
        long,
        default_value = "configs/runners.yaml",
        env = "INFMAX_RUNNER_CONFIG"
    )]
    runner_config: PathBuf,
}

impl ConfigArgs {
    fn files(&self) -> Result<Vec<PathBuf>> {
        if self.config_files.is_empty() {
            config::default_files(Path::new("configs"))
        } else {
            Ok(self.config_files.clone())
        }
    }

    /// Loads configs and runners, reporting the problems of both at once.
    fn load(&self) -> Result<(MasterConfigs, RunnerConfig)> {
        let configs = config::load(&self.files()?);
        let runners = runners::load(&self.runner_config);
        match (configs, runners) {
            (Ok(c), Ok(r)) => {
                crate::error::check(c.check_runners(&r))?;
                Ok((c, r))
            }
            (Err(Error::Invalid(mut a)), Err(Error::Invalid(mut b))) => {
                a.append(&mut b);
                Err(Error::Invalid(a))
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }
}

#[derive(Args, Debug)]
struct ValidateArgs {
    #[command(flatten)]
    configs: ConfigArgs,
    /// Also check this changelog file (entries and that their keys resolve).
    #[arg(long, env = "INFMAX_CHANGELOG_FILE")]
    changelog_file: Option<PathBuf>,
}

#[derive(Args, Debug, Clone, Copy)]
struct EvalArgs {
    /// Mark eval jobs (single-node 1k8k: highest/lowest tp at their highest conc) with run-eval: true.
    #[arg(long, conflicts_with = "evals_only", env = "INFMAX_RUN_EVALS")]
    run_evals: bool,
    /// Like --run-evals, then keep only the marked entries.
    #[arg(long, env = "INFMAX_EVALS_ONLY")]
    evals_only: bool,
}

impl EvalArgs {
    fn mode(&self) -> EvalMode {
        match (self.run_evals, self.evals_only) {
            (_, true) => EvalMode::Only,
            (true, false) => EvalMode::Run,
            _ => EvalMode::Off,
        }
    }
}

#[derive(Args, Debug, Clone)]
struct OutputArgs {
    /// Also append the JSON to $GITHUB_OUTPUT under this output name.
    #[arg(long, value_name = "NAME", env = "INFMAX_GITHUB_OUTPUT")]
    github_output: Option<String>,
    /// With --github-output: split a matrix of more than 256 jobs into NAME_1, NAME_2, ... and NAME_parts.
    #[arg(long, requires = "github_output", env = "INFMAX_SPLIT_OUTPUT")]
    split_output: bool,
}

#[derive(Args, Debug, Clone, Copy)]
#[group(multiple = false)]
struct KindArgs {
    /// Only single-node configs.
    #[arg(long)]
    single_node: bool,
    /// Only multi-node (prefill/decode) configs.
    #[arg(long)]
    multi_node: bool,
}

impl KindArgs {
    fn kind(&self) -> NodeKind {
        match (self.single_node, self.multi_node) {
            (true, _) => NodeKind::Single,
            (_, true) => NodeKind::Multi,
            _ => NodeKind::Both,
        }
    }
}

#[derive(Subcommand, Debug)]
enum MatrixCommand {
    /// Every configuration, narrowed by filters.
    FullSweep(FullSweepArgs),
    /// The jobs of named config keys.
    TestConfig(TestConfigArgs),
    /// A smoke test of every node of one runner type (1k1k, one small job per node).
    RunnerModelSweep(RunnerModelSweepArgs),
    /// The jobs for the entries a change appends to the perf changelog.
    Changelog(ChangelogArgs),
}

#[derive(Args, Debug)]
struct FullSweepArgs {
    #[command(flatten)]
    configs: ConfigArgs,
    /// Keep configs whose KEY starts with one of these.
    #[arg(long, alias = "model", num_args = 1.., value_delimiter = ',')]
    model_prefix: Vec<String>,
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    precision: Vec<String>,
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    framework: Vec<String>,
    /// Runner types (must exist in the runner config).
    #[arg(long, alias = "runner", num_args = 1.., value_delimiter = ',')]
    runner_type: Vec<String>,
    /// Sequence-length names: 1k1k, 1k8k, 8k1k, or ISL_OSL.
    #[arg(long, num_args = 1.., value_delimiter = ',', value_parser = parse_seq_len)]
    seq_lens: Vec<SeqLen>,
    /// Multiplier between concurrencies of a conc-start..conc-end range (at least 2).
    #[arg(long, default_value_t = 2)]
    step_size: u32,
    /// Drop concurrencies below this (<= 0 drops every item).
    #[arg(long, allow_negative_numbers = true)]
    min_conc: Option<i64>,
    /// Drop concurrencies above this (<= 0 drops every item).
    #[arg(long, allow_negative_numbers = true)]
    max_conc: Option<i64>,
    /// Drop single-node items with tp above this.
    #[arg(long, allow_negative_numbers = true)]
    max_tp: Option<i64>,
    /// Lower single-node ep above this to it.
    #[arg(long, allow_negative_numbers = true)]
    max_ep: Option<i64>,
    /// One entry per runner node whose name contains this (configs without such a node are skipped).
    #[arg(long)]
    runner_node_filter: Option<String>,
    #[command(flatten)]
    kind: KindArgs,
    #[command(flatten)]
    evals: EvalArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args, Debug)]
struct TestConfigArgs {
    #[command(flatten)]
    configs: ConfigArgs,
    /// Config keys to expand, in this order.
    #[arg(long, required = true, num_args = 1.., value_delimiter = ',', env = "INFMAX_CONFIG_KEYS")]
    config_keys: Vec<String>,
    /// Keep only these concurrencies.
    #[arg(long, num_args = 1.., value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..))]
    conc: Vec<u32>,
    #[command(flatten)]
    evals: EvalArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args, Debug)]
struct RunnerModelSweepArgs {
    #[command(flatten)]
    configs: ConfigArgs,
    /// The runner type whose nodes to test.
    #[arg(long, alias = "runner", required = true)]
    runner_type: String,
    /// Keep configs whose KEY starts with one of these.
    #[arg(long, alias = "model", num_args = 1.., value_delimiter = ',')]
    model_prefix: Vec<String>,
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    precision: Vec<String>,
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    framework: Vec<String>,
    /// Only nodes whose name contains this.
    #[arg(long)]
    runner_node_filter: Option<String>,
    /// Concurrency of every job [default: the item's smallest].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    conc: Option<u32>,
    #[command(flatten)]
    kind: RequiredKindArgs,
    #[command(flatten)]
    evals: EvalArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args, Debug, Clone, Copy)]
#[group(required = true, multiple = false)]
struct RequiredKindArgs {
    /// Test single-node configs.
    #[arg(long)]
    single_node: bool,
    /// Test multi-node configs.
    #[arg(long)]
    multi_node: bool,
}

#[derive(Args, Debug)]
struct ChangelogArgs {
    #[command(flatten)]
    configs: ConfigArgs,
    /// The ref the change starts from (e.g. the PR base SHA or the push's `before`).
    #[arg(long, env = "INFMAX_BASE_REF")]
    base_ref: String,
    /// The ref of the change (e.g. the PR head SHA or the pushed SHA).
    #[arg(long, env = "INFMAX_HEAD_REF")]
    head_ref: String,
    #[arg(
        long,
        default_value = "perf-changelog.yaml",
        env = "INFMAX_CHANGELOG_FILE"
    )]
    changelog_file: PathBuf,
    #[command(flatten)]
    output: OutputArgs,
}

fn parse_seq_len(s: &str) -> std::result::Result<SeqLen, String> {
    s.parse()
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

fn in_github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Prints an error for people (and, inside GitHub Actions, as annotations).
fn report(e: &Error) {
    let mut err = std::io::stderr().lock();
    let text = match e {
        Error::Invalid(diags) => {
            let mut t = diag::render_human(diags);
            if in_github_actions() {
                t.push_str(&diag::render_github(diags));
            }
            let n = diags.len();
            t.push_str(&format!(
                "{n} problem{} found\n",
                if n == 1 { "" } else { "s" }
            ));
            t
        }
        Error::Usage(m) | Error::Env(m) => {
            let mut t = format!("error: {m}\n");
            if in_github_actions() {
                t.push_str(&format!("::error title=infmax::{}\n", diag::escape_data(m)));
            }
            t
        }
    };
    let _ = err.write_all(text.as_bytes());
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Validate(a) => validate(&a),
        Command::Matrix(m) => {
            let m = *m;
            let (output, out_args) = match m {
                MatrixCommand::FullSweep(a) => (full_sweep(&a)?, a.output),
                MatrixCommand::TestConfig(a) => (test_config_cmd(&a)?, a.output),
                MatrixCommand::RunnerModelSweep(a) => (runner_model_sweep(&a)?, a.output),
                MatrixCommand::Changelog(a) => (changelog_cmd(&a)?, a.output),
            };
            emit(&output, &out_args)
        }
    }
}

/// Writes a matrix: $GITHUB_OUTPUT first (so a refused oversize output
/// prints nothing), then the whole JSON on stdout.
fn emit(output: &MatrixOutput, args: &OutputArgs) -> Result<()> {
    if let Some(name) = &args.github_output {
        let pairs = output.github_outputs(name, args.split_output)?;
        github::output::write_outputs(&pairs)?;
    }
    let mut json = output.to_json();
    json.push('\n');
    std::io::stdout()
        .lock()
        .write_all(json.as_bytes())
        .map_err(|e| Error::env(format!("cannot write to stdout: {e}")))
}

fn validate(a: &ValidateArgs) -> Result<()> {
    let mut diags = Vec::new();
    let mut collect = |e: Error| -> Result<()> {
        match e {
            Error::Invalid(mut d) => {
                diags.append(&mut d);
                Ok(())
            }
            other => Err(other),
        }
    };
    let configs = match config::load(&a.configs.files()?) {
        Ok(c) => Some(c),
        Err(e) => {
            collect(e)?;
            None
        }
    };
    let runners = match runners::load(&a.configs.runner_config) {
        Ok(r) => Some(r),
        Err(e) => {
            collect(e)?;
            None
        }
    };
    if let (Some(c), Some(r)) = (&configs, &runners) {
        collect(Error::Invalid(c.check_runners(r)))?;
    }
    let mut changelog_entries = None;
    if let Some(path) = &a.changelog_file {
        match changelog::validate_file(path, configs.as_ref()) {
            Ok(n) => changelog_entries = Some(n),
            Err(e) => collect(e)?,
        }
    }
    crate::error::check(diags)?;
    let (Some(c), Some(r)) = (configs, runners) else {
        return Err(Error::env(
            "internal: validation passed without loaded configs",
        ));
    };
    let single = c.entries.iter().filter(|e| !e.is_multinode()).count();
    let items: usize = c.entries.iter().map(|e| e.item_count()).sum();
    let mut line = format!(
        "ok: {} config keys in {} files ({single} single-node, {} multi-node; {items} search items), {} runner types with {} nodes",
        c.entries.len(),
        c.files.len(),
        c.entries.len() - single,
        r.type_names().len(),
        r.node_count()
    );
    if let Some(n) = changelog_entries {
        line.push_str(&format!(", {n} changelog entries"));
    }
    println!("{line}");
    Ok(())
}

fn full_sweep(a: &FullSweepArgs) -> Result<MatrixOutput> {
    let (configs, runners) = a.configs.load()?;
    let f = FullSweep {
        model_prefix: a.model_prefix.clone(),
        precision: a.precision.clone(),
        framework: a.framework.clone(),
        runner_type: a.runner_type.clone(),
        seq_lens: a.seq_lens.clone(),
        step_size: a.step_size,
        min_conc: a.min_conc,
        max_conc: a.max_conc,
        max_tp: a.max_tp,
        max_ep: a.max_ep,
        runner_node_filter: a.runner_node_filter.clone(),
        nodes: a.kind.kind(),
    };
    let list = f.generate(&configs, &runners)?;
    Ok(MatrixOutput::List(evals::apply(list, a.evals.mode())))
}

fn test_config_cmd(a: &TestConfigArgs) -> Result<MatrixOutput> {
    let (configs, _) = a.configs.load()?;
    let list = test_config::generate(&configs, &a.config_keys, &a.conc)?;
    Ok(MatrixOutput::List(evals::apply(list, a.evals.mode())))
}

fn runner_model_sweep(a: &RunnerModelSweepArgs) -> Result<MatrixOutput> {
    let (configs, runners) = a.configs.load()?;
    let s = RunnerModelSweep {
        runner_type: a.runner_type.clone(),
        model_prefix: a.model_prefix.clone(),
        precision: a.precision.clone(),
        framework: a.framework.clone(),
        runner_node_filter: a.runner_node_filter.clone(),
        conc: a.conc,
        nodes: if a.kind.multi_node {
            NodeKind::Multi
        } else {
            NodeKind::Single
        },
    };
    let list: Vec<MatrixEntry> = s.generate(&configs, &runners)?;
    Ok(MatrixOutput::List(evals::apply(list, a.evals.mode())))
}

fn changelog_cmd(a: &ChangelogArgs) -> Result<MatrixOutput> {
    let (configs, _) = a.configs.load()?;
    let label = a.changelog_file.display().to_string();
    let diff = changelog::diff::changelog_diff(&a.changelog_file, &a.base_ref, &a.head_ref)?;
    for note in &diff.notes {
        eprintln!("infmax: {note}");
    }
    let added = changelog::diff::added_lines(&label, &a.base_ref, &a.head_ref, diff.changes)?;
    let entries = changelog::parse_added(&label, &added)?;
    let resolved = changelog::resolve(&label, &entries, &configs)?;
    let metadata = Metadata {
        base_ref: a.base_ref.clone(),
        head_ref: a.head_ref.clone(),
        entries,
    };
    Ok(MatrixOutput::Changelog(ChangelogMatrix::build(
        &resolved, metadata,
    )))
}
