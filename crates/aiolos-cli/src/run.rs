//! `aiolos run [--engine E] [--lib DIR] -- PROGRAM ARGS...`: runs an unchanged program on
//! the drop-in `libaio.so.1`.
//!
//! The program is started in this process's place (`execvp`), with the drop-in's
//! directory first in `LD_LIBRARY_PATH` and `AIOLOS_ENGINE` set, so its exit status (or
//! the signal that ended it) is the command's own. Nothing of aiolos runs before it: in
//! particular io_uring is not probed here (a probe ring closed just before the `exec`
//! could leave the kernel's clean-up work pending for the program); the library falls
//! back from `uring` to `threads` itself where io_uring is refused.

use anyhow::{bail, Result};
use clap::Args;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The environment variable naming the drop-in's directory.
const LIB_VAR: &str = "AIOLOS_LIBAIO_DIR";

/// `aiolos run`: run a program on the drop-in libaio.so.1.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The engine: native (kernel AIO), uring or threads. Default: AIOLOS_ENGINE if set,
    /// else uring (which falls back to threads where io_uring is refused).
    #[arg(long)]
    pub engine: Option<aiolos::EngineKind>,
    /// The directory holding the drop-in libaio.so.1. Default: $AIOLOS_LIBAIO_DIR, else
    /// found next to this aiolos (../lib once installed, ../dropin in a build tree).
    #[arg(long, value_name = "DIR")]
    pub lib: Option<PathBuf>,
    /// The program and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PROGRAM"
    )]
    pub command: Vec<OsString>,
}

/// Where the drop-in is: the first of these directories holding `libaio.so.1`.
fn candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(dir) = explicit {
        return vec![dir.to_path_buf()];
    }
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os(LIB_VAR).filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(d));
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.canonicalize().ok())
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(exe_dir.join("../lib"));
        dirs.push(exe_dir.join("../dropin"));
        dirs.push(exe_dir.clone());
    }
    dirs
}

/// The drop-in's directory.
///
/// # Errors
/// When no candidate holds `libaio.so.1`: the message says where it looked and how to build
/// or install it.
pub fn library_dir(explicit: Option<&Path>) -> Result<PathBuf> {
    let dirs = candidates(explicit);
    if let Some(d) = dirs.iter().find(|d| d.join("libaio.so.1").is_file()) {
        return Ok(d.canonicalize().unwrap_or_else(|_| d.clone()));
    }
    let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    bail!(
        "the drop-in libaio.so.1 was not found (looked in: {}); build it with \
         crates/aiolos-libaio/build-so.sh, install it with build-so.sh --prefix DIR, or \
         name its directory with --lib DIR or {LIB_VAR}",
        if looked.is_empty() {
            "nowhere".to_string()
        } else {
            looked.join(", ")
        }
    )
}

/// The command `aiolos run` execs: the program with the drop-in's environment.
///
/// # Errors
/// As [`library_dir`].
pub fn command(args: &RunArgs) -> Result<Command> {
    let dir = library_dir(args.lib.as_deref())?;
    let Some((program, rest)) = args.command.split_first() else {
        bail!("no program to run");
    };
    let mut path = OsString::from(dir.as_os_str());
    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH").filter(|p| !p.is_empty()) {
        path.push(":");
        path.push(old);
    }
    let engine = match (&args.engine, std::env::var(aiolos::engine::ENGINE_VAR)) {
        (Some(e), _) => e.name().to_string(),
        (None, Ok(v)) if !v.is_empty() => v,
        (None, _) => aiolos::EngineKind::Uring.name().to_string(),
    };
    let mut cmd = Command::new(program);
    cmd.args(rest)
        .env("LD_LIBRARY_PATH", path)
        .env(aiolos::engine::ENGINE_VAR, engine);
    Ok(cmd)
}

/// Runs `aiolos run`: becomes the program. Returns only if it could not be started: 127
/// when it was not found, 126 when it could not be executed (as shells answer).
///
/// # Errors
/// When the drop-in cannot be found.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    let mut cmd = command(&args)?;
    let err = cmd.exec();
    eprintln!(
        "aiolos: error: cannot run {}: {err}",
        args.command[0].to_string_lossy()
    );
    Ok(ExitCode::from(
        if err.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        },
    ))
}
