//! `infmax matrix full-sweep|test-config|runner-model-sweep|changelog|job-env`:
//! job matrices as JSON on stdout (and in $GITHUB_OUTPUT), and one entry as
//! its job's environment.

use super::Written;
use super::config_args::ConfigArgs;
use super::output::stdout;
use super::values::parse_seq_len;
use crate::changelog;
use crate::error::Result;
use crate::github;
use crate::matrix::eval_marks::{self, EvalMode};
use crate::matrix::full_sweep::FullSweep;
use crate::matrix::output::MatrixOutput;
use crate::matrix::runner_model_sweep::RunnerModelSweep;
use crate::matrix::{MatrixEntry, NodeKind, test_config};
use crate::seqlen::SeqLen;
use clap::{Args, Subcommand};
use std::path::PathBuf;

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
    pub(super) fn kind(&self) -> NodeKind {
        match (self.single_node, self.multi_node) {
            (true, _) => NodeKind::Single,
            (_, true) => NodeKind::Multi,
            _ => NodeKind::Both,
        }
    }
}

#[derive(Subcommand, Debug)]
pub(super) enum MatrixCommand {
    /// Every configuration, narrowed by filters.
    FullSweep(FullSweepArgs),
    /// The jobs of named config keys.
    TestConfig(TestConfigArgs),
    /// A smoke test of every node of one runner type (1k1k, one small job per node).
    RunnerModelSweep(RunnerModelSweepArgs),
    /// The jobs for the entries a change appends to the perf changelog.
    Changelog(ChangelogArgs),
    /// One matrix entry as its benchmark job's environment (MODEL, TP, CONC, RESULT_FILENAME, ...).
    JobEnv(JobEnvArgs),
}

#[derive(Args, Debug)]
pub(super) struct JobEnvArgs {
    /// The entry's JSON (in a workflow: `toJson(matrix.config)` through `env:`).
    #[arg(long, env = "INFMAX_ENTRY")]
    entry: String,
    /// Also append the variables to $GITHUB_ENV for the job's later steps.
    #[arg(long, env = "INFMAX_GITHUB_ENV")]
    github_env: bool,
    /// The machine's runner name, part of RESULT_FILENAME so two jobs of one
    /// config on different nodes never collide [default: the entry's runner label]
    #[arg(long, env = "RUNNER_NAME")]
    runner_name: Option<String>,
    /// GPUs per node, for the PREFILL_NODES/DECODE_NODES check [default: 4 on
    /// gb* runner types, else 8]
    #[arg(long, env = "GPUS_PER_NODE", value_parser = clap::value_parser!(u64).range(1..))]
    gpus_per_node: Option<u64>,
}

/// Which configs: the filters every sweep shares.
#[derive(Args, Debug)]
struct ConfigFilterArgs {
    /// Keep configs whose KEY starts with one of these.
    #[arg(long, alias = "model", num_args = 1.., value_delimiter = ',')]
    model_prefix: Vec<String>,
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    precision: Vec<String>,
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    framework: Vec<String>,
}

/// The filters of a full sweep (shared by `matrix full-sweep` and `run`).
#[derive(Args, Debug)]
pub(super) struct SweepFilterArgs {
    #[command(flatten)]
    configs_filter: ConfigFilterArgs,
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
}

impl SweepFilterArgs {
    pub(super) fn to_full_sweep(&self) -> FullSweep {
        FullSweep {
            model_prefix: self.configs_filter.model_prefix.clone(),
            precision: self.configs_filter.precision.clone(),
            framework: self.configs_filter.framework.clone(),
            runner_type: self.runner_type.clone(),
            seq_lens: self.seq_lens.clone(),
            step_size: self.step_size,
            min_conc: self.min_conc,
            max_conc: self.max_conc,
            max_tp: self.max_tp,
            max_ep: self.max_ep,
            runner_node_filter: self.runner_node_filter.clone(),
            nodes: self.kind.kind(),
        }
    }
}

#[derive(Args, Debug)]
pub(super) struct FullSweepArgs {
    #[command(flatten)]
    configs: ConfigArgs,
    #[command(flatten)]
    filters: SweepFilterArgs,
    #[command(flatten)]
    evals: EvalArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args, Debug)]
pub(super) struct TestConfigArgs {
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
pub(super) struct RunnerModelSweepArgs {
    #[command(flatten)]
    configs: ConfigArgs,
    /// The runner type whose nodes to test.
    #[arg(long, alias = "runner", required = true)]
    runner_type: String,
    #[command(flatten)]
    configs_filter: ConfigFilterArgs,
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
pub(super) struct ChangelogArgs {
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

/// Writes a matrix: $GITHUB_OUTPUT first (so a refused oversize output
/// prints nothing), then the whole JSON on stdout.
fn emit(output: &MatrixOutput, args: &OutputArgs) -> Result<()> {
    if let Some(name) = &args.github_output {
        let pairs = output.github_outputs(name, args.split_output)?;
        github::output::write_outputs(&pairs)?;
    }
    let mut json = output.to_json();
    json.push('\n');
    stdout(&json)
}

/// Prints `KEY='VALUE'` lines (for `set -a; . file` or `eval`) and, when
/// asked, appends the same variables to $GITHUB_ENV.
fn job_env_cmd(a: &JobEnvArgs) -> Result<()> {
    use crate::matrix::job_env;
    let entry = job_env::parse_entry(&a.entry, "--entry")?;
    let host = job_env::Host::new(&entry, a.runner_name.as_deref(), a.gpus_per_node);
    let env = job_env::job_env(&entry, &host)?;
    if a.github_env {
        let pairs: Vec<(String, String)> = env.clone().into_iter().collect();
        github::output::write_env(&pairs)?;
    }
    stdout(&job_env::shell_lines(&env))
}

fn full_sweep(a: &FullSweepArgs) -> Result<MatrixOutput> {
    let (configs, runners) = a.configs.load()?;
    let list = a.filters.to_full_sweep().generate(&configs, &runners)?;
    Ok(MatrixOutput::List(eval_marks::apply(list, a.evals.mode())))
}

fn test_config_cmd(a: &TestConfigArgs) -> Result<MatrixOutput> {
    let (configs, _) = a.configs.load()?;
    let list = test_config::generate(&configs, &a.config_keys, &a.conc)?;
    Ok(MatrixOutput::List(eval_marks::apply(list, a.evals.mode())))
}

fn runner_model_sweep(a: &RunnerModelSweepArgs) -> Result<MatrixOutput> {
    let (configs, runners) = a.configs.load()?;
    let s = RunnerModelSweep {
        runner_type: a.runner_type.clone(),
        model_prefix: a.configs_filter.model_prefix.clone(),
        precision: a.configs_filter.precision.clone(),
        framework: a.configs_filter.framework.clone(),
        runner_node_filter: a.runner_node_filter.clone(),
        conc: a.conc,
        nodes: if a.kind.multi_node {
            NodeKind::Multi
        } else {
            NodeKind::Single
        },
    };
    let list: Vec<MatrixEntry> = s.generate(&configs, &runners)?;
    Ok(MatrixOutput::List(eval_marks::apply(list, a.evals.mode())))
}

fn changelog_cmd(a: &ChangelogArgs) -> Result<MatrixOutput> {
    let (configs, _) = a.configs.load()?;
    let mut note = |n: &str| eprintln!("infmax: {n}");
    // A pattern matches in the working tree; the file is read at both refs.
    let file = crate::config::expand_one_file("--changelog-file", &a.changelog_file)?;
    let matrix = changelog::matrix(
        &configs,
        &file,
        &a.base_ref,
        &a.head_ref,
        &crate::github::api::GithubApi::from_env,
        &mut note,
    )?;
    Ok(MatrixOutput::Changelog(matrix))
}

pub(super) fn exec(m: MatrixCommand) -> Result<Written> {
    let (output, out_args) = match m {
        MatrixCommand::FullSweep(a) => (full_sweep(&a)?, a.output),
        MatrixCommand::TestConfig(a) => (test_config_cmd(&a)?, a.output),
        MatrixCommand::RunnerModelSweep(a) => (runner_model_sweep(&a)?, a.output),
        MatrixCommand::Changelog(a) => (changelog_cmd(&a)?, a.output),
        MatrixCommand::JobEnv(a) => {
            job_env_cmd(&a)?;
            return Ok(Written::default());
        }
    };
    if let MatrixOutput::List(jobs) = &output
        && jobs.is_empty()
    {
        // Not an error (a scheduled sweep's filters may match nothing for a
        // while, and the seed printed [] too), but a job whose matrix is this
        // list cannot run: GitHub refuses an empty matrix.
        super::warn(&[crate::diag::Diagnostic::new(
            "infmax matrix",
            None,
            "",
            "no job matches the filters: the matrix is [] (GitHub refuses an empty matrix, so a job expanding it fails); check --model-prefix, --precision, --framework, --runner-type and the other filters against the configs",
        )]);
    }
    emit(&output, &out_args)?;
    Ok(Written::default())
}
