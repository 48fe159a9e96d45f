//! [`Metadata`] and [`FileType`]: what `statx(2)` says about a file, with the methods of
//! `std::fs::Metadata` and `std::fs::FileType` (std's types have no public constructor,
//! so a `statx` done by an io_uring request cannot become one).

use crate::sys::path::{StatxFull, StatxTime, STATX_BTIME};
use std::fs::Permissions;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFBLK: u32 = 0o060_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFIFO: u32 = 0o010_000;
const S_IFSOCK: u32 = 0o140_000;

/// Metadata of a file: as `std::fs::Metadata` (the same methods, and
/// [`MetadataExt`](std::os::unix::fs::MetadataExt)), read with `statx(2)` by a request on
/// the driver's ring.
///
/// # Examples
/// ```
/// use std::os::unix::fs::MetadataExt;
/// # aiolos::fs::Driver::global()?.block_on(async {
/// let m = aiolos::fs::metadata("/").await?;
/// assert!(m.is_dir());
/// assert_eq!(m.ino(), std::fs::metadata("/")?.ino());
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    st: StatxFull,
}

impl std::fmt::Debug for Metadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metadata")
            .field("file_type", &self.file_type())
            .field("permissions", &self.permissions())
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

fn time(t: StatxTime) -> SystemTime {
    if t.sec >= 0 {
        SystemTime::UNIX_EPOCH + Duration::new(t.sec as u64, t.nsec)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(t.sec.unsigned_abs())
            + Duration::from_nanos(u64::from(t.nsec))
    }
}

impl Metadata {
    pub(crate) fn from_statx(st: StatxFull) -> Metadata {
        Metadata { st }
    }

    /// The file's type.
    pub fn file_type(&self) -> FileType {
        FileType {
            mode: self.st.mode & S_IFMT,
        }
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type().is_dir()
    }

    /// Whether it is a regular file.
    pub fn is_file(&self) -> bool {
        self.file_type().is_file()
    }

    /// Whether it is a symbolic link (only from [`symlink_metadata`](super::symlink_metadata)).
    pub fn is_symlink(&self) -> bool {
        self.file_type().is_symlink()
    }

    /// Size in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        self.st.size
    }

    /// The permission bits.
    pub fn permissions(&self) -> Permissions {
        Permissions::from_mode(self.st.mode)
    }

    /// Last modification.
    ///
    /// # Errors
    /// None on Linux; `io::Result` as in std.
    pub fn modified(&self) -> io::Result<SystemTime> {
        Ok(time(self.st.mtime))
    }

    /// Last access.
    ///
    /// # Errors
    /// None on Linux; `io::Result` as in std.
    pub fn accessed(&self) -> io::Result<SystemTime> {
        Ok(time(self.st.atime))
    }

    /// Creation.
    ///
    /// # Errors
    /// [`io::ErrorKind::Unsupported`] where the file system does not record it.
    pub fn created(&self) -> io::Result<SystemTime> {
        if self.st.mask & STATX_BTIME == 0 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "creation time is not available for the filesystem",
            ));
        }
        Ok(time(self.st.btime))
    }
}

impl std::os::unix::fs::MetadataExt for Metadata {
    fn dev(&self) -> u64 {
        self.st.dev
    }
    fn ino(&self) -> u64 {
        self.st.ino
    }
    fn mode(&self) -> u32 {
        self.st.mode
    }
    fn nlink(&self) -> u64 {
        u64::from(self.st.nlink)
    }
    fn uid(&self) -> u32 {
        self.st.uid
    }
    fn gid(&self) -> u32 {
        self.st.gid
    }
    fn rdev(&self) -> u64 {
        self.st.rdev
    }
    fn size(&self) -> u64 {
        self.st.size
    }
    fn atime(&self) -> i64 {
        self.st.atime.sec
    }
    fn atime_nsec(&self) -> i64 {
        i64::from(self.st.atime.nsec)
    }
    fn mtime(&self) -> i64 {
        self.st.mtime.sec
    }
    fn mtime_nsec(&self) -> i64 {
        i64::from(self.st.mtime.nsec)
    }
    fn ctime(&self) -> i64 {
        self.st.ctime.sec
    }
    fn ctime_nsec(&self) -> i64 {
        i64::from(self.st.ctime.nsec)
    }
    fn blksize(&self) -> u64 {
        u64::from(self.st.blksize)
    }
    fn blocks(&self) -> u64 {
        self.st.blocks
    }
}

/// A file's type: as `std::fs::FileType` (and
/// [`FileTypeExt`](std::os::unix::fs::FileTypeExt)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileType {
    mode: u32,
}

impl FileType {
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.mode == S_IFDIR
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.mode == S_IFREG
    }

    /// A symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.mode == S_IFLNK
    }
}

impl From<std::fs::FileType> for FileType {
    fn from(t: std::fs::FileType) -> FileType {
        use std::os::unix::fs::FileTypeExt;
        let mode = if t.is_dir() {
            S_IFDIR
        } else if t.is_file() {
            S_IFREG
        } else if t.is_symlink() {
            S_IFLNK
        } else if t.is_block_device() {
            S_IFBLK
        } else if t.is_char_device() {
            S_IFCHR
        } else if t.is_fifo() {
            S_IFIFO
        } else if t.is_socket() {
            S_IFSOCK
        } else {
            0
        };
        FileType { mode }
    }
}

impl std::os::unix::fs::FileTypeExt for FileType {
    fn is_block_device(&self) -> bool {
        self.mode == S_IFBLK
    }
    fn is_char_device(&self) -> bool {
        self.mode == S_IFCHR
    }
    fn is_fifo(&self) -> bool {
        self.mode == S_IFIFO
    }
    fn is_socket(&self) -> bool {
        self.mode == S_IFSOCK
    }
}
