//! `aiolos`: the command-line tool. `bench` measures the engines, `cp` copies files, `probe`
//! reports what the kernel, a file system or a program offer, `run` runs a program on the
//! drop-in libaio.so.1.
#![deny(unsafe_code)]

use aiolos_cli::{bench, cp, interrupt, probe, run};
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
    /// Copy a file with many requests in flight, O_DIRECT where both sides support it.
    Cp(cp::CpArgs),
    /// Report what this kernel and file system offer: io_uring, kernel AIO, O_DIRECT (or,
    /// given a program, whether it links libaio.so.1).
    Probe(probe::ProbeArgs),
    /// Run an unchanged libaio program on aiolos's drop-in libaio.so.1.
    Run(run::RunArgs),
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Bench(args) => bench::run(args),
        Command::Cp(args) => cp::run(args),
        Command::Probe(args) => probe::run(args),
        Command::Run(args) => run::run(args),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn is_interrupted(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|c| c.downcast_ref::<interrupt::Interrupted>().is_some())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_interrupted(&e) => {
            eprintln!("aiolos: {e:#}");
            ExitCode::from(interrupt::EXIT_STATUS)
        }
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aiolos: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
