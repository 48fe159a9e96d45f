//! Differential test of the C ABI: generated programs over libaio's entry points run on the
//! system's libaio (kernel AIO: the oracle) and on our `libaio.so.1` with every engine
//! (`native`, `uring`, `threads`); their traces must agree wherever kernel AIO is
//! deterministic, and each must keep kernel AIO's contract where it is not (see
//! `difftest/trace.rs`). A failing program is shrunk by proptest and printed whole, with
//! the runner's command to replay it.
//!
//! Differences already known and tracked (`difftest/known.rs`) are counted and printed, not
//! failed on; each is matched narrowly, so nothing else hides behind it. With
//! `AIOLOS_DIFF_STRICT=1` they fail too (`AIOLOS_DIFF_STRICT=NAME`: only that one), which
//! shrinks one to a minimal program.
//!
//! Budget: `AIOLOS_DIFF_CASES` programs (default 100; 30 on a sanitizer build) from the seed `AIOLOS_DIFF_SEED`
//! (default fixed, so CI runs the same programs every time; `random` for a new one, which
//! is printed).
mod common;
mod difftest;

use difftest::known::{Known, KNOWN};
use difftest::program::{program, Program};
use difftest::trace::{compare, contract, Mismatch, Racy, Trace};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The libraries a program runs on: the system's, then ours on each engine.
const LIBS: [&str; 4] = ["system", "native", "uring", "threads"];

/// How long one run of one program may take (a hang is a difference, not a stuck test).
const RUN_LIMIT: Duration = Duration::from_secs(40);

struct Env {
    runner: PathBuf,
    ours: PathBuf,
    scratch: tempfile::TempDir,
}

/// Runs `prog` on library `lib` in a fresh directory under `dir`.
fn spawn(env: &Env, lib: &str, prog: &Path, dir: &Path) -> std::process::Child {
    std::fs::create_dir_all(dir).expect("run dir");
    let mut cmd = Command::new(&env.runner);
    cmd.arg(prog)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .env_remove("AIOLOS_ENGINE");
    if lib != "system" {
        cmd.env("LD_LIBRARY_PATH", env.ours.parent().expect("library dir"))
            .env("AIOLOS_ENGINE", lib);
    }
    if let Some(rt) = common::asan_runtime() {
        cmd.env("LD_PRELOAD", rt);
    }
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.spawn().expect("start the runner")
}

/// Runs `prog` on every library at once; returns the traces in `LIBS` order.
fn run_all(env: &Env, prog: &Program, case: usize) -> Vec<Trace> {
    let dir = env.scratch.path().join(format!("case{case}"));
    std::fs::create_dir_all(&dir).expect("case dir");
    let file = dir.join("program.txt");
    std::fs::write(&file, prog.to_string()).expect("write program");
    let mut children: Vec<_> = LIBS
        .iter()
        .map(|lib| Some(spawn(env, lib, &file, &dir.join(lib))))
        .collect();
    let start = Instant::now();
    let mut traces: Vec<Option<Trace>> = vec![None; LIBS.len()];
    while traces.iter().any(Option::is_none) {
        for (i, slot) in children.iter_mut().enumerate() {
            let Some(child) = slot else { continue };
            let done = child.try_wait().expect("wait for the runner").is_some();
            let late = start.elapsed() > RUN_LIMIT;
            if !done && !late {
                continue;
            }
            if !done {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.kill();
            }
            let child = slot.take().expect("a running child");
            let out = child
                .wait_with_output()
                .expect("collect the runner's output");
            let mut t = Trace::parse(&String::from_utf8_lossy(&out.stdout));
            if !done {
                t.failure = Some(format!("hung for {RUN_LIMIT:?}"));
            } else if !out.status.success() {
                t.failure = Some(format!(
                    "{}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            traces[i] = Some(t);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = std::fs::remove_dir_all(&dir);
    traces.into_iter().map(|t| t.expect("a trace")).collect()
}

/// The known difference a mismatch is, if any (and if it is known on this engine).
fn known(engine: &str, p: &Program, t: &Trace, m: &Mismatch) -> Option<&'static Known> {
    KNOWN
        .iter()
        .find(|k| k.engines.contains(&engine) && (k.matches)(p, t, m))
}

/// Whether known differences fail (to shrink one): `AIOLOS_DIFF_STRICT=1` or `=NAME`.
fn strict(k: &Known) -> bool {
    match std::env::var("AIOLOS_DIFF_STRICT") {
        Ok(v) if v == "1" => true,
        Ok(v) => v == k.name,
        Err(_) => false,
    }
}

/// For each known difference seen: on which engines, how often, and the shortest program.
#[derive(Default)]
struct Seen {
    by_name: BTreeMap<&'static str, (BTreeMap<&'static str, usize>, String, usize)>,
    programs: usize,
    calls: usize,
    survey: BTreeMap<String, String>,
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seed() -> [u8; 32] {
    let mut s = [0u8; 32];
    let n = match std::env::var("AIOLOS_DIFF_SEED").as_deref() {
        Ok("random") => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
        Ok(v) => v.parse().unwrap_or(18),
        Err(_) => 18,
    };
    eprintln!("differential test: seed {n} (AIOLOS_DIFF_SEED={n} runs these programs again)");
    s[..8].copy_from_slice(&n.to_le_bytes());
    s
}

fn check_case(env: &Env, p: &Program, case: usize, seen: &Mutex<Seen>) -> Result<(), String> {
    let traces = run_all(env, p, case);
    let kernel = &traces[0];
    let mut failures = Vec::new();
    if kernel
        .lib
        .contains(&*env.ours.parent().expect("dir").to_string_lossy())
    {
        return Err(format!("the system run loaded our library: {}", kernel.lib));
    }
    let (kv, racy) = contract(p, kernel);
    for m in &kv {
        failures.push(format!(
            "system libaio (kernel AIO) breaks this test's model of it: {m}"
        ));
    }
    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    seen.programs += 1;
    seen.calls += p.steps.len();
    if failures.is_empty() {
        for (lib, t) in LIBS.iter().zip(&traces).skip(1) {
            let ours = std::fs::canonicalize(&env.ours).expect("our library");
            if t.failure.is_none() && Path::new(&t.lib) != ours {
                failures.push(format!(
                    "{lib}: ran on {}, not on {}",
                    t.lib,
                    ours.display()
                ));
                continue;
            }
            let (mut ms, r) = contract(p, t);
            let racy = Racy::default().union(r).union(racy.clone());
            ms.extend(compare(p, kernel, t, &racy));
            for m in ms {
                match known(lib, p, t, &m) {
                    Some(k) if !strict(k) => {
                        let e = seen.by_name.entry(k.name).or_default();
                        *e.0.entry(lib).or_default() += 1;
                        let text = p.to_string();
                        if e.1.is_empty() || text.lines().count() < e.2 {
                            e.2 = text.lines().count();
                            e.1 = format!("{text}-- {lib}: {m}");
                        }
                    }
                    Some(k) => failures.push(format!("{lib}: {m} [known: {}]", k.name)),
                    None => failures.push(format!("{lib}: {m}")),
                }
            }
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    if std::env::var_os("AIOLOS_DIFF_SURVEY").is_some() {
        // Survey: go on, keeping the shortest program of each kind of difference.
        let key: String = failures[0]
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .take(90)
            .collect();
        let text = p.to_string();
        let e = seen.survey.entry(key).or_default();
        if e.is_empty() || text.len() < e.len() {
            *e = format!("{text}-- {}", failures.join("\n-- "));
        }
        return Ok(());
    }
    let mut report = format!(
        "program (run it with tests/difftest/runner.c: `runner PROGRAM`):\n{p}\ndifferences:\n"
    );
    for f in &failures {
        report.push_str(&format!("  {f}\n"));
    }
    for (lib, t) in LIBS.iter().zip(&traces) {
        report.push_str(&format!("--- trace on {lib}:\n{}", t.raw));
        if let Some(f) = &t.failure {
            report.push_str(&format!("(run failed: {f})\n"));
        }
    }
    Err(report)
}

#[test]
fn every_engine_answers_generated_programs_as_kernel_aio() {
    let scratch = common::scratch_dir();
    let runner = common::compile_source(
        &common::crate_dir().join("tests/difftest/runner.c"),
        common::Variant::C,
    );
    let env = Env {
        runner,
        ours: common::library(),
        scratch,
    };
    // The system library: the oracle. Without it there is nothing to compare with.
    let probe = env.scratch.path().join("probe.txt");
    std::fs::write(&probe, "").expect("write probe program");
    let out = spawn(&env, "system", &probe, &env.scratch.path().join("probe"))
        .wait_with_output()
        .expect("run the probe");
    let lib = Trace::parse(&String::from_utf8_lossy(&out.stdout)).lib;
    if !out.status.success() || lib.is_empty() {
        eprintln!(
            "SKIP: no system libaio.so.1 to compare with (install libaio1): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return;
    }
    eprintln!("differential test: the oracle is {lib}");

    // Fewer on an AddressSanitizer build of the library (CI's sanitizer step).
    let default = if common::sanitizer().is_some() {
        30
    } else {
        100
    };
    let cases = env_number("AIOLOS_DIFF_CASES", default) as u32;
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 400,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed()));
    let seen = Mutex::new(Seen::default());
    let case = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let result = runner.run(&program(), |p| {
        let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        check_case(&env, &p, n, &seen).map_err(TestCaseError::fail)
    });
    let seen = seen.into_inner().unwrap_or_else(|e| e.into_inner());
    eprintln!(
        "differential test: {} programs ({} calls) run on {} in {:.0?}",
        seen.programs,
        seen.calls,
        LIBS.join(", "),
        started.elapsed()
    );
    for (name, (engines, example, _)) in &seen.by_name {
        let k = KNOWN
            .iter()
            .find(|k| k.name == *name)
            .expect("a known difference");
        eprintln!(
            "known difference {name} ({}; {}): seen {engines:?}; shortest program:\n{example}\n",
            k.contract, k.issue
        );
    }
    for (kind, example) in &seen.survey {
        eprintln!("SURVEY {kind}\n{example}\n");
    }
    if let Err(e) = result {
        panic!("{e}");
    }
}
