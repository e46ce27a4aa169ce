//! `infmax result process`: one run's raw result and its job's environment
//! into the processed `agg_{RESULT_FILENAME}.json`.

use super::Written;
use super::output::stdout;
use crate::error::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub(super) enum ResultCommand {
    /// The run's result + the job's environment -> agg_{RESULT_FILENAME}.json.
    #[command(
        long_about = "The run's result + the job's environment -> agg_{RESULT_FILENAME}.json.\n\n\
Reads RUNNER_TYPE FRAMEWORK PRECISION SPEC_DECODING RESULT_FILENAME ISL OSL DISAGG MODEL_PREFIX IMAGE, \
and TP EP_SIZE DP_ATTENTION, or with IS_MULTINODE=true PREFILL_GPUS DECODE_GPUS PREFILL_NUM_WORKERS \
PREFILL_TP PREFILL_EP PREFILL_DP_ATTN DECODE_NUM_WORKERS DECODE_TP DECODE_EP DECODE_DP_ATTN."
    )]
    Process(ResultProcessArgs),
}

#[derive(Args, Debug)]
pub(super) struct ResultProcessArgs {
    /// The run's result file [default: {RESULT_FILENAME}.json].
    #[arg(long, env = "INFMAX_RESULT_FILE")]
    result_file: Option<PathBuf>,
    /// Where agg_{RESULT_FILENAME}.json goes.
    #[arg(long, default_value = ".", env = "INFMAX_OUT_DIR")]
    out_dir: PathBuf,
}

pub(super) fn exec(c: ResultCommand) -> Result<Written> {
    match c {
        ResultCommand::Process(a) => {
            let env = crate::results::process::env_from_process();
            let out = crate::results::process::run(a.result_file.as_deref(), &a.out_dir, &env)?;
            stdout(&format!("{}\n", out.display()))?;
            Ok(Written::result(out))
        }
    }
}
