//! O_DIRECT alignment: per-file discovery of what the kernel requires, helpers to round
//! offsets and lengths, and errors that name the required value instead of a bare `EINVAL`.
//!
//! Direct I/O bypasses the page cache, so the memory address, the file offset and the
//! length of every request must be multiples of values that depend on the file system and
//! the device. [`Alignment::of`] asks, in order:
//!
//! 1. `statx(STATX_DIOALIGN)` (Linux 6.1 and later, on file systems that report it): the
//!    kernel's own answer, for memory and for offsets separately;
//! 2. the logical block size of the block device behind the file (`BLKSSZGET` for a
//!    device file, sysfs `queue/logical_block_size` for a file on a file system);
//! 3. 512 bytes, the smallest sector any Linux block device has.
//!
//! Lengths must be multiples of the offset alignment.
//!
//! # Examples
//! ```
//! use aiolos::align::Alignment;
//! let file = std::fs::File::open("/")?;
//! let a = Alignment::of(&file)?;
//! assert!(a.offset().is_power_of_two() && a.mem().is_power_of_two());
//! assert_eq!(a.align_up(1), a.offset() as u64);
//! assert!(a.check(a.mem(), a.offset(), 0).is_ok());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # References
//! `statx(2)` (`STATX_DIOALIGN`), `open(2)` (the O_DIRECT notes), `ioctl_blk(2)`.

mod fs_type;

pub use fs_type::FsType;

use crate::sys::{self, Errno};
use crate::Fd;
use rustix::fs::{AtFlags, FileType, OFlags, Stat, StatxFlags};
use std::fmt;
use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The smallest logical block size of any Linux block device: the floor of discovery.
pub const SECTOR_FLOOR: usize = 512;

/// What O_DIRECT requires of a request on one file: the memory address must be a multiple
/// of [`mem`](Alignment::mem), the file offset and the length multiples of
/// [`offset`](Alignment::offset). Both are powers of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Alignment {
    mem: usize,
    offset: usize,
}

/// Where an [`Alignment`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlignmentSource {
    /// `statx(2)` with `STATX_DIOALIGN`.
    Statx,
    /// The logical block size of the block device behind the file.
    BlockDevice,
    /// Nothing better was known: 512 bytes.
    Floor,
}

impl fmt::Display for AlignmentSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AlignmentSource::Statx => "statx STATX_DIOALIGN",
            AlignmentSource::BlockDevice => "block device logical block size",
            AlignmentSource::Floor => "512-byte floor",
        })
    }
}

/// A block device, as found behind a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockDevice {
    /// Major device number.
    pub major: u32,
    /// Minor device number.
    pub minor: u32,
    /// Logical block size: the smallest addressable unit, the O_DIRECT granularity.
    pub logical_block_size: u32,
    /// Physical block size: writes smaller than this cost a read-modify-write in the
    /// device, if it reports one.
    pub physical_block_size: Option<u32>,
}

/// Everything discovery learnt about one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlignmentReport {
    /// The alignment to use.
    pub alignment: Alignment,
    /// Where it came from.
    pub source: AlignmentSource,
    /// Whether the kernel said O_DIRECT works on this file (`statx` reports an alignment of
    /// 0 when it does not); `None` when the kernel did not say.
    pub direct_io: Option<bool>,
    /// The type of the file system holding the file (for a device node, the one holding
    /// the node, such as devtmpfs).
    pub fs_type: Option<FsType>,
    /// The block device behind the file, when there is one.
    pub block_device: Option<BlockDevice>,
}

impl Alignment {
    /// An alignment of `mem` bytes for memory and `offset` bytes for offsets and lengths,
    /// or `None` unless both are non-zero powers of two.
    pub fn new(mem: usize, offset: usize) -> Option<Alignment> {
        (mem.is_power_of_two() && offset.is_power_of_two()).then_some(Alignment { mem, offset })
    }

    /// The 512-byte floor, for memory and offsets.
    pub fn floor() -> Alignment {
        Alignment {
            mem: SECTOR_FLOOR,
            offset: SECTOR_FLOOR,
        }
    }

    /// Required alignment of the buffer's memory address.
    pub fn mem(&self) -> usize {
        self.mem
    }

    /// Required alignment of the file offset.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Required alignment of the length (the offset alignment).
    pub fn length(&self) -> usize {
        self.offset
    }

    /// The larger of the two, a safe alignment for allocations that serve as buffers and
    /// whose size is used as a length.
    pub fn max(&self) -> usize {
        self.mem.max(self.offset)
    }

    /// The O_DIRECT alignment of an open file (see the [module docs](self) for the order).
    ///
    /// # Errors
    /// Only when the descriptor is unusable (`fstat` fails); missing kernel support falls
    /// back to the next source.
    ///
    /// # Examples
    /// ```
    /// use aiolos::align::Alignment;
    /// let dir = tempfile::tempdir()?;
    /// let file = std::fs::File::create(dir.path().join("f"))?;
    /// let a = Alignment::of(&file)?;
    /// // Buffers at multiples of a.mem(); offsets and lengths multiples of a.offset().
    /// assert!(a.mem().is_power_of_two() && a.offset() >= 512);
    /// assert_eq!(a.align_down(a.offset() as u64 + 1), a.offset() as u64);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn of(file: impl AsFd) -> io::Result<Alignment> {
        Ok(Alignment::discover(file)?.alignment)
    }

    /// Like [`Alignment::of`], also saying where the value came from, whether O_DIRECT is
    /// supported, the file system type and the block device.
    ///
    /// # Errors
    /// Only when the descriptor is unusable (`fstat` fails).
    pub fn discover(file: impl AsFd) -> io::Result<AlignmentReport> {
        discover_fd(file.as_fd())
    }

    /// Rounds `n` up to a multiple of the offset alignment.
    pub fn align_up(&self, n: u64) -> u64 {
        align_up(n, self.offset as u64)
    }

    /// Rounds `n` down to a multiple of the offset alignment.
    pub fn align_down(&self, n: u64) -> u64 {
        align_down(n, self.offset as u64)
    }

    /// Whether `n` is a multiple of the offset alignment.
    pub fn is_aligned(&self, n: u64) -> bool {
        is_aligned(n, self.offset as u64)
    }

    /// Checks one request: memory address `addr`, length `len`, file offset `offset`.
    ///
    /// # Errors
    /// An [`AlignmentError`] naming the first misaligned value (address, then offset,
    /// then length) and the alignment it needs.
    pub fn check(&self, addr: usize, len: usize, offset: u64) -> Result<(), AlignmentError> {
        let fail = |what, value, required| {
            Err(AlignmentError {
                what,
                value,
                required,
            })
        };
        if !is_aligned(addr as u64, self.mem as u64) {
            return fail(Misaligned::Address, addr as u64, self.mem);
        }
        if !self.is_aligned(offset) {
            return fail(Misaligned::Offset, offset, self.offset);
        }
        if !self.is_aligned(len as u64) {
            return fail(Misaligned::Length, len as u64, self.offset);
        }
        Ok(())
    }
}

impl fmt::Display for Alignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memory {} bytes, offset and length {} bytes",
            self.mem, self.offset
        )
    }
}

/// Rounds `n` up to a multiple of `align` (a power of two), saturating at the largest
/// multiple that fits.
pub fn align_up(n: u64, align: u64) -> u64 {
    debug_assert!(align.is_power_of_two());
    let mask = align.wrapping_sub(1);
    match n.checked_add(mask) {
        Some(v) => v & !mask,
        None => !mask,
    }
}

/// Rounds `n` down to a multiple of `align` (a power of two).
pub fn align_down(n: u64, align: u64) -> u64 {
    debug_assert!(align.is_power_of_two());
    n & !align.wrapping_sub(1)
}

/// Whether `n` is a multiple of `align` (a power of two).
pub fn is_aligned(n: u64, align: u64) -> bool {
    debug_assert!(align.is_power_of_two());
    n & align.wrapping_sub(1) == 0
}

/// Which part of a request is misaligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Misaligned {
    /// The buffer's memory address.
    Address,
    /// The file offset.
    Offset,
    /// The length.
    Length,
}

/// A request that O_DIRECT cannot serve as it is: names the misaligned value and the
/// alignment it needs. Converts into an [`io::Error`] of kind
/// [`InvalidInput`](io::ErrorKind::InvalidInput).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlignmentError {
    what: Misaligned,
    value: u64,
    required: usize,
}

impl AlignmentError {
    /// What is misaligned.
    pub fn what(&self) -> Misaligned {
        self.what
    }
    /// The offending address, offset or length.
    pub fn value(&self) -> u64 {
        self.value
    }
    /// The alignment it needs.
    pub fn required(&self) -> usize {
        self.required
    }
}

impl fmt::Display for AlignmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (v, r) = (self.value, self.required as u64);
        match self.what {
            Misaligned::Address => write!(
                f,
                "O_DIRECT needs the buffer address aligned to {r} bytes, but it is {v:#x}; \
                 allocate it with AlignedBuf (or DirectFile::alloc_buf)"
            ),
            Misaligned::Offset => write!(
                f,
                "O_DIRECT needs the file offset to be a multiple of {r} bytes, but it is {v} \
                 (nearest aligned: {} or {})",
                align_down(v, r),
                align_up(v, r)
            ),
            Misaligned::Length => write!(
                f,
                "O_DIRECT needs the length to be a multiple of {r} bytes, but it is {v} \
                 (round it up to {})",
                align_up(v, r)
            ),
        }
    }
}

impl std::error::Error for AlignmentError {}

impl From<AlignmentError> for io::Error {
    fn from(e: AlignmentError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

/// Explains an `EINVAL` completion of a read or write: when `fd` is open with O_DIRECT and
/// the request broke the file's alignment, the error that says so; otherwise `None` (the
/// `EINVAL` had another cause, and the caller keeps the kernel's error).
pub(crate) fn explain_einval(fd: &Fd, addr: usize, len: usize, offset: u64) -> Option<io::Error> {
    // -1 names no file (and no `BorrowedFd` may hold it): there is nothing to explain.
    if fd.as_raw() == -1 {
        return None;
    }
    let fd = fd.as_fd();
    let flags = rustix::fs::fcntl_getfl(fd).ok()?;
    if !flags.contains(OFlags::DIRECT) {
        return None;
    }
    let alignment = discover_fd(fd).ok()?.alignment;
    alignment
        .check(addr, len, offset)
        .err()
        .map(io::Error::from)
}

/// Whether files at `path` can be opened with O_DIRECT. For a directory, a scratch file is
/// created in it (and removed); otherwise `path` itself is opened read-only.
///
/// # Errors
/// Errors other than the `EINVAL` that means "no O_DIRECT here" (missing path, no
/// permission to create the scratch file, ...).
pub fn direct_io_supported(path: &Path) -> io::Result<bool> {
    let result = if path.is_dir() {
        let probe = path.join(format!(".aiolos-direct-probe-{}", std::process::id()));
        let r = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .custom_flags(sys::O_DIRECT)
            .open(&probe);
        if r.is_ok() || probe.exists() {
            let _ = std::fs::remove_file(&probe);
        }
        r
    } else {
        OpenOptions::new()
            .read(true)
            .custom_flags(sys::O_DIRECT)
            .open(path)
    };
    match result {
        Ok(file) => {
            // Opening can succeed where the kernel still reports no O_DIRECT support.
            let report = Alignment::discover(&file)?;
            Ok(report.direct_io != Some(false))
        }
        Err(e) if e.raw_os_error() == Some(Errno::INVAL.0) => Ok(false),
        Err(e) => Err(e),
    }
}

fn discover_fd(fd: BorrowedFd<'_>) -> io::Result<AlignmentReport> {
    let st = rustix::fs::fstat(fd)?;
    let fs_type = rustix::fs::fstatfs(fd)
        .ok()
        .map(|s| FsType::from_f_type(s.f_type as u64));
    let block_device = block_device_fd(fd, &st);
    let mut direct_io = None;
    if let Ok(sx) = rustix::fs::statx(fd, c"", AtFlags::EMPTY_PATH, StatxFlags::DIOALIGN) {
        if StatxFlags::from_bits_retain(sx.stx_mask).contains(StatxFlags::DIOALIGN) {
            let (mem, off) = (
                sx.stx_dio_mem_align as usize,
                sx.stx_dio_offset_align as usize,
            );
            direct_io = Some(off != 0);
            if let Some(alignment) = Alignment::new(mem, off) {
                return Ok(AlignmentReport {
                    alignment,
                    source: AlignmentSource::Statx,
                    direct_io,
                    fs_type,
                    block_device,
                });
            }
        }
    }
    let (alignment, source) = match block_device {
        Some(dev) => {
            let lbs = (dev.logical_block_size as usize).max(SECTOR_FLOOR);
            match Alignment::new(lbs, lbs) {
                Some(a) => (a, AlignmentSource::BlockDevice),
                None => (Alignment::floor(), AlignmentSource::Floor),
            }
        }
        None => (Alignment::floor(), AlignmentSource::Floor),
    };
    Ok(AlignmentReport {
        alignment,
        source,
        direct_io,
        fs_type,
        block_device,
    })
}

/// The block device an open file lives on (or is), with its block sizes; `None` for
/// files on file systems without one (tmpfs, NFS, FUSE, btrfs's anonymous devices).
///
/// # Errors
/// When `fstat` fails.
pub fn block_device(file: impl AsFd) -> io::Result<Option<BlockDevice>> {
    let fd = file.as_fd();
    let st = rustix::fs::fstat(fd)?;
    Ok(block_device_fd(fd, &st))
}

fn block_device_fd(fd: BorrowedFd<'_>, st: &Stat) -> Option<BlockDevice> {
    if FileType::from_raw_mode(st.st_mode) == FileType::BlockDevice {
        let (major, minor) = dev_split(st.st_rdev);
        let logical_block_size = rustix::fs::ioctl_blksszget(fd).ok()?;
        return Some(BlockDevice {
            major,
            minor,
            logical_block_size,
            physical_block_size: rustix::fs::ioctl_blkpbszget(fd).ok(),
        });
    }
    let (major, minor) = dev_split(st.st_dev);
    let logical_block_size = sysfs_queue_value(major, minor, "logical_block_size")?;
    Some(BlockDevice {
        major,
        minor,
        logical_block_size,
        physical_block_size: sysfs_queue_value(major, minor, "physical_block_size"),
    })
}

/// Splits a `dev_t` into its major and minor numbers.
fn dev_split(dev: u64) -> (u32, u32) {
    (rustix::fs::major(dev), rustix::fs::minor(dev))
}

/// Reads `/sys/dev/block/MAJ:MIN/queue/NAME`; a partition has no `queue` of its own, so
/// its parent disk's is used.
fn sysfs_queue_value(major: u32, minor: u32, name: &str) -> Option<u32> {
    let base = format!("/sys/dev/block/{major}:{minor}");
    [
        format!("{base}/queue/{name}"),
        format!("{base}/../queue/{name}"),
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .and_then(|s| s.trim().parse().ok())
    .filter(|&v: &u32| v > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_helpers_agree_with_arithmetic() {
        for align in [1u64, 2, 512, 4096, 1 << 20] {
            for n in [0u64, 1, 511, 512, 513, 4095, 4096, 4097, 1 << 30] {
                assert_eq!(align_down(n, align), n / align * align);
                assert_eq!(align_up(n, align), n.div_ceil(align) * align);
                assert_eq!(is_aligned(n, align), n % align == 0);
            }
        }
        assert_eq!(align_up(u64::MAX, 4096), u64::MAX - 4095);
    }

    #[test]
    fn check_names_the_first_misaligned_value_and_the_requirement() {
        let a = Alignment::new(512, 4096).unwrap();
        assert!(a.check(1024, 8192, 4096).is_ok());
        let e = a.check(1000, 8192, 4096).unwrap_err();
        assert_eq!(
            (e.what(), e.value(), e.required()),
            (Misaligned::Address, 1000, 512)
        );
        let e = a.check(512, 8192, 100).unwrap_err();
        assert_eq!(
            (e.what(), e.value(), e.required()),
            (Misaligned::Offset, 100, 4096)
        );
        let e = a.check(512, 10, 0).unwrap_err();
        assert_eq!(
            (e.what(), e.value(), e.required()),
            (Misaligned::Length, 10, 4096)
        );
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::InvalidInput);
        assert!(io.to_string().contains("4096"), "{io}");
    }

    #[test]
    fn alignments_must_be_powers_of_two() {
        assert!(Alignment::new(0, 512).is_none());
        assert!(Alignment::new(512, 3000).is_none());
        assert_eq!(Alignment::floor().offset(), SECTOR_FLOOR);
    }

    #[test]
    fn dev_split_matches_the_kernel_encoding() {
        // 259:3 and a large minor, encoded as glibc's makedev does.
        let makedev = |ma: u64, mi: u64| {
            ((ma & 0xffff_f000) << 32)
                | ((ma & 0xfff) << 8)
                | ((mi & 0xffff_ff00) << 12)
                | (mi & 0xff)
        };
        assert_eq!(dev_split(makedev(259, 3)), (259, 3));
        assert_eq!(dev_split(makedev(7, 1 << 20)), (7, 1 << 20));
    }
}
