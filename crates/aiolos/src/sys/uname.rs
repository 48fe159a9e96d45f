//! `uname(2)`: the running kernel's name, release and machine, for diagnostics.

use super::{cvt, Errno};
use std::ffi::CStr;

/// What `uname(2)` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uname {
    /// The kernel's name (`"Linux"`).
    pub sysname: String,
    /// The kernel release (`"6.8.0-45-generic"`).
    pub release: String,
    /// The kernel's build string (`"#45-Ubuntu SMP PREEMPT_DYNAMIC ..."`).
    pub version: String,
    /// The hardware name (`"x86_64"`).
    pub machine: String,
}

fn field(raw: &[libc::c_char]) -> String {
    // SAFETY: c_char and u8 have the same size and alignment; the slice stays borrowed.
    let bytes: &[u8] = unsafe { std::slice::from_raw_parts(raw.as_ptr().cast(), raw.len()) };
    match CStr::from_bytes_until_nul(bytes) {
        Ok(s) => s.to_string_lossy().into_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// `uname(2)`.
///
/// # Errors
/// `EFAULT` only, which cannot happen with the buffer used here.
#[doc(alias = "utsname")]
pub fn uname() -> Result<Uname, Errno> {
    let mut u = std::mem::MaybeUninit::<libc::utsname>::zeroed();
    // SAFETY: u is writable storage for one struct utsname.
    cvt(unsafe { libc::uname(u.as_mut_ptr()) } as _)?;
    // SAFETY: zeroed is a valid utsname (arrays of integers) and uname filled it.
    let u = unsafe { u.assume_init() };
    Ok(Uname {
        sysname: field(&u.sysname),
        release: field(&u.release),
        version: field(&u.version),
        machine: field(&u.machine),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg_attr(miri, ignore = "makes a system call")]
    fn uname_names_linux_and_a_release_with_a_dot() {
        let u = super::uname().expect("uname");
        assert_eq!(u.sysname, "Linux");
        assert!(u.release.contains('.'), "{u:?}");
        assert!(!u.machine.is_empty());
    }
}
