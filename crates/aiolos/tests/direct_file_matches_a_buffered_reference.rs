//! Random unaligned reads and writes through DirectFile give exactly what the same
//! requests give on a buffered reference file: on the build's ext4, and on ext4 over loop
//! devices with 512- and 4096-byte sectors when they can be created.
mod common;
use aiolos::DirectFile;
use common::loopdev::LoopDev;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;

#[derive(Clone, Debug)]
enum Step {
    Write { offset: u64, data: Vec<u8> },
    Read { offset: u64, len: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (
            0u64..96 * 1024,
            proptest::collection::vec(any::<u8>(), 0..12 * 1024)
        )
            .prop_map(|(offset, data)| Step::Write { offset, data }),
        (0u64..112 * 1024, 0usize..16 * 1024).prop_map(|(offset, len)| Step::Read { offset, len }),
    ]
}

/// Runs random step sequences against a DirectFile and a buffered file side by side.
fn matches_reference_in(dir: &Path) {
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(step(), 1..12), |steps| {
        let direct_path = dir.join("direct");
        let ref_path = dir.join("reference");
        let direct =
            DirectFile::create(&direct_path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let reference = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&ref_path)
            .unwrap();
        for s in &steps {
            match s {
                Step::Write { offset, data } => {
                    prop_assert_eq!(direct.write_at(data, *offset).unwrap(), data.len());
                    reference.write_all_at(data, *offset).unwrap();
                }
                Step::Read { offset, len } => {
                    let mut got = vec![0u8; *len];
                    let mut want = vec![0u8; *len];
                    let n = direct.read_at(&mut got, *offset).unwrap();
                    let m = read_full(&reference, &mut want, *offset);
                    prop_assert_eq!(n, m, "bytes read at {} len {}", offset, len);
                    prop_assert_eq!(&got[..n], &want[..m]);
                }
            }
            prop_assert_eq!(direct.len().unwrap(), reference.metadata().unwrap().len());
        }
        let size = reference.metadata().unwrap().len() as usize;
        let mut all = vec![0u8; size];
        let n = direct.read_at(&mut all, 0).unwrap();
        prop_assert_eq!(n, size);
        prop_assert!(
            all == std::fs::read(&ref_path).unwrap(),
            "whole files differ"
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{}: {e}", dir.display());
    }
}

fn read_full(f: &std::fs::File, buf: &mut [u8], offset: u64) -> usize {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], offset + done as u64).unwrap() {
            0 => break,
            n => done += n,
        }
    }
    done
}

#[test]
fn unaligned_io_on_ext4_matches_a_buffered_reference() {
    let dir = common::scratch_dir();
    matches_reference_in(dir.path());
}

fn on_loop_device(sector: u32) {
    let Some(mut lo) = LoopDev::create(64 << 20, sector) else {
        return;
    };
    let Some(mnt) = lo.mount_ext4() else {
        return;
    };
    let probe = DirectFile::create(mnt.join("probe")).unwrap();
    assert_eq!(probe.alignment().offset(), sector as usize);
    matches_reference_in(&mnt);
}

#[test]
fn unaligned_io_on_a_512_byte_sector_device_matches_a_buffered_reference() {
    on_loop_device(512);
}

#[test]
fn unaligned_io_on_a_4096_byte_sector_device_matches_a_buffered_reference() {
    on_loop_device(4096);
}
