//! [`OpenOptions`]: how a [`File`] is opened (access, creation, mode, `O_DIRECT`, driver),
//! with std's rules for which combinations are refused, and errors that name the path.

use super::driver::Driver;
use super::file::File;
use super::path::{self as fspath, context};
use crate::sys::path::oflags;
use std::io;
use std::path::Path;

/// Options for opening a [`File`] (as `tokio::fs::OpenOptions`): those of
/// [`std::fs::OpenOptions`], plus `O_DIRECT` and the driver to use. The open is a request
/// on the driver's ring (`IORING_OP_OPENAT`, or the engine's pool).
///
/// # Examples
/// ```
/// use aiolos::fs::{Driver, File};
///
/// let dir = tempfile::tempdir()?;
/// let driver = Driver::new()?;
/// let file = driver.block_on(
///     File::options()
///         .read(true)
///         .write(true)
///         .create(true)
///         .direct(false) // true asks for O_DIRECT: buffers and offsets must then be aligned
///         .driver(&driver)
///         .open(dir.path().join("data")),
/// )?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    mode: u32,
    custom_flags: i32,
    direct: bool,
    driver: Option<Driver>,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

fn invalid() -> io::Error {
    io::Error::from_raw_os_error(crate::sys::Errno::INVAL.0)
}

impl OpenOptions {
    /// No access, no creation, buffered, on the default driver.
    pub fn new() -> OpenOptions {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
            custom_flags: 0,
            direct: false,
            driver: None,
        }
    }

    /// Opens for reading.
    pub fn read(&mut self, yes: bool) -> &mut OpenOptions {
        self.read = yes;
        self
    }

    /// Opens for writing.
    pub fn write(&mut self, yes: bool) -> &mut OpenOptions {
        self.write = yes;
        self
    }

    /// Opens for appending (`O_APPEND`). On Linux, positional writes then ignore their
    /// offset and append (see `pwrite(2)`, BUGS).
    pub fn append(&mut self, yes: bool) -> &mut OpenOptions {
        self.append = yes;
        self
    }

    /// Truncates to 0 bytes when opening.
    pub fn truncate(&mut self, yes: bool) -> &mut OpenOptions {
        self.truncate = yes;
        self
    }

    /// Creates the file if it does not exist.
    pub fn create(&mut self, yes: bool) -> &mut OpenOptions {
        self.create = yes;
        self
    }

    /// Creates the file, failing if it exists.
    pub fn create_new(&mut self, yes: bool) -> &mut OpenOptions {
        self.create_new = yes;
        self
    }

    /// The permission bits of a created file (before the umask; default `0o666`).
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.mode = mode;
        self
    }

    /// Opens with `O_DIRECT`: transfers bypass the page cache, and buffer addresses,
    /// lengths and file offsets must be multiples of the file's alignment
    /// ([`Alignment::of`](crate::align::Alignment::of); a request that breaks it fails
    /// with an error naming the required value). On a file system without O_DIRECT the
    /// open fails with [`io::ErrorKind::InvalidInput`], saying so.
    #[doc(alias = "O_DIRECT")]
    pub fn direct(&mut self, yes: bool) -> &mut OpenOptions {
        self.direct = yes;
        self
    }

    /// Extra `open(2)` flags (`O_NOATIME`, `O_DSYNC`, ...), or'ed with the others (the
    /// access mode bits are ignored, as std does).
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.custom_flags = flags;
        self
    }

    /// The driver whose ring the file's requests go to (default:
    /// [`Driver::default_driver`]).
    pub fn driver(&mut self, driver: &Driver) -> &mut OpenOptions {
        self.driver = Some(driver.clone());
        self
    }

    /// The `open(2)` flags, refusing the combinations std refuses (with `EINVAL`).
    fn flags(&self) -> io::Result<i32> {
        let access = match (self.read, self.write, self.append) {
            (true, false, false) => oflags::RDONLY,
            (false, true, false) => oflags::WRONLY,
            (true, true, false) => oflags::RDWR,
            (false, _, true) => oflags::WRONLY | oflags::APPEND,
            (true, _, true) => oflags::RDWR | oflags::APPEND,
            (false, false, false) => return Err(invalid()),
        };
        if !self.write && !self.append && (self.truncate || self.create || self.create_new) {
            return Err(invalid());
        }
        if self.append && self.truncate && !self.create_new {
            return Err(invalid());
        }
        let creation = match (self.create, self.truncate, self.create_new) {
            (false, false, false) => 0,
            (true, false, false) => oflags::CREAT,
            (false, true, false) => oflags::TRUNC,
            (true, true, false) => oflags::CREAT | oflags::TRUNC,
            (_, _, true) => oflags::CREAT | oflags::EXCL,
        };
        let direct = if self.direct { crate::sys::O_DIRECT } else { 0 };
        Ok(access | creation | direct | (self.custom_flags & !oflags::ACCMODE))
    }

    /// Opens the file on the calling thread (a blocking `openat`): for setup code outside
    /// any async context. In async code use [`OpenOptions::open`].
    ///
    /// # Errors
    /// As [`OpenOptions::open`].
    pub fn open_blocking(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref();
        let driver = match &self.driver {
            Some(d) => d.clone(),
            None => Driver::default_driver()?,
        };
        let flags = self.flags().map_err(|e| context(e, "open", path))?;
        let c = fspath::cpath(path)?;
        let oflags = rustix::fs::OFlags::from_bits_retain((flags | oflags::CLOEXEC) as u32);
        let mode = rustix::fs::Mode::from_bits_retain(self.mode);
        match rustix::fs::openat(rustix::fs::CWD, c.as_c_str(), oflags, mode) {
            Ok(fd) => Ok(File::opened_at(fd, &driver, path)),
            Err(e) => Err(self.explain(io::Error::from(e), path)),
        }
    }

    /// The error of a failed open, naming the path (and O_DIRECT's absence).
    fn explain(&self, e: io::Error, path: &Path) -> io::Error {
        if self.direct && e.raw_os_error() == Some(crate::sys::Errno::INVAL.0) {
            return io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: the file system does not support O_DIRECT; use buffered I/O \
                     (open without .direct(true))",
                    path.display()
                ),
            );
        }
        context(e, "open", path)
    }

    /// Opens the file.
    ///
    /// # Errors
    /// As [`std::fs::OpenOptions::open`], with the path named in the message;
    /// `InvalidInput` explaining it for `O_DIRECT` on a file system without it; or when the
    /// default driver cannot start.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref();
        let driver = match &self.driver {
            Some(d) => d.clone(),
            None => Driver::default_driver()?,
        };
        let flags = self.flags().map_err(|e| context(e, "open", path))?;
        match fspath::open_fd(&driver, path, flags, self.mode).await {
            Ok(fd) => Ok(File::opened_at(fd, &driver, path)),
            Err(e) => Err(self.explain(e, path)),
        }
    }
}

#[cfg(all(test, not(aiolos_loom)))]
mod tests {
    use super::*;

    #[test]
    fn direct_on_a_file_system_without_o_direct_is_explained_with_the_path() {
        let mut o = OpenOptions::new();
        o.read(true).direct(true);
        let einval = io::Error::from_raw_os_error(crate::sys::Errno::INVAL.0);
        let e = o.explain(einval, Path::new("/mnt/x/data"));
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let msg = e.to_string();
        assert!(
            msg.contains("/mnt/x/data") && msg.contains("does not support O_DIRECT"),
            "{msg}"
        );
        // Without direct(true), EINVAL is the kernel's, with the path.
        o.direct(false);
        let e = o.explain(io::Error::from_raw_os_error(22), Path::new("/mnt/x/data"));
        assert_eq!(e.raw_os_error(), None);
        assert!(e.to_string().starts_with("open /mnt/x/data: "), "{e}");
    }
}
