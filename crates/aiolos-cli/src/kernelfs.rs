//! The kernel's own file systems (`/proc`, `/sys`, debugfs, cgroup, ...): their files
//! report no true size and they hold no regular files of data, so `cp` reads their files to
//! the end and `probe` says O_DIRECT does not apply there.

use std::fs::File;

/// `f_type` magic numbers (`statfs(2)`, `linux/magic.h`) and names.
const KERNEL_FS: &[(u64, &str)] = &[
    (0x9fa0, "proc"),
    (0x6265_6572, "sysfs"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
    (0x7363_6673, "securityfs"),
    (0x6265_6570, "configfs"),
    (0x0027_e0eb, "cgroup"),
    (0x6367_7270, "cgroup2"),
    (0x1cd1, "devpts"),
    (0xcafe_4a11, "bpf"),
    (0x6e73_6673, "nsfs"),
];

/// The name of the kernel file system holding `file`, or `None` for any other.
pub fn of(file: &File) -> Option<&'static str> {
    let fs = rustix::fs::fstatfs(file).ok()?;
    // f_type is a signed word; the magic is its low 32 bits.
    let magic = fs.f_type as u64 & 0xffff_ffff;
    KERNEL_FS
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn proc_is_a_kernel_file_system_and_the_build_directory_is_not() {
        let proc = std::fs::File::open("/proc/self/status").unwrap();
        assert_eq!(super::of(&proc), Some("proc"));
        let here = std::fs::File::open(env!("CARGO_MANIFEST_DIR")).unwrap();
        assert_eq!(super::of(&here), None);
    }
}
