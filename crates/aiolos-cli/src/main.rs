//! `aiolos`: the command-line tool. `bench` measures the engines; `cp` and `probe` follow.
#![deny(unsafe_code)]

mod aligned;
mod bench;

use clap::{Parser, Subcommand};
use std::io;
use std::process::ExitCode;

/// Asynchronous file I/O for Linux: measure, copy, probe.
#[derive(Parser, Debug)]
#[command(name = "aiolos", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Measure I/O on a file or device: IOPS, bandwidth, latency, submit time, CPU per I/O.
    Bench(bench::BenchArgs),
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Bench(args) => bench::run(args),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aiolos: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
