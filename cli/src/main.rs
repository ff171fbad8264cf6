//! The `fairtrain` binary: parses arguments, runs the command, prints the result or the error.

use std::process::ExitCode;

use clap::Parser;
use fairtrain_cli::{render_error, run, Cli};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.json;
    match run(cli).await {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&err.to_json()).expect("errors serialize")
                );
            }
            eprintln!("{}", render_error(&err));
            ExitCode::FAILURE
        }
    }
}
