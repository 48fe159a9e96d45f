//! File system types, named from the `f_type` magic number that `statfs(2)` reports, for
//! [`AlignmentReport::fs_type`](super::AlignmentReport::fs_type) and `aiolos probe`.

/// A file system type, from the `f_type` magic number of `statfs(2)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FsType(pub u64);

/// Known `f_type` magic numbers and their names (from `statfs(2)` and `linux/magic.h`).
const FS_NAMES: &[(u64, &str)] = &[
    (0xef53, "ext4"), // ext2, ext3 and ext4 share one magic
    (0x5846_5342, "xfs"),
    (0x9123_683e, "btrfs"),
    (0x0102_1994, "tmpfs"),
    (0x6573_5546, "fuse"),
    (0x6969, "nfs"),
    (0x794c_7630, "overlayfs"),
    (0x2fc1_2fc1, "zfs"),
    (0xf2f5_2010, "f2fs"),
    (0x4d44, "vfat"),
    (0x2011_bab0, "exfat"),
    (0x5346_544e, "ntfs"),
    (0x9fa0, "proc"),
    (0x6265_6572, "sysfs"),
    (0x1373, "devfs"),
    (0x0102_1997, "9p"),
    (0xff53_4d42, "cifs"),
    (0xfe53_4d42, "smb2"),
    (0x0027_e0eb, "cgroup"),
    (0x6367_7270, "cgroup2"),
    (0x8584_58f6, "ramfs"),
    (0x7371_7368, "squashfs"),
    (0xca45_1a4e, "bcachefs"),
    (0x0000_9660, "iso9660"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
];

impl FsType {
    /// The type whose magic number is `f_type` (a signed word in `struct statfs`; the magic
    /// is its low 32 bits, and some magics have the top bit set).
    pub(crate) fn from_f_type(f_type: u64) -> FsType {
        FsType(f_type & 0xffff_ffff)
    }

    /// ext2/ext3/ext4 (one magic number).
    pub const EXT4: FsType = FsType(0xef53);
    /// XFS.
    pub const XFS: FsType = FsType(0x5846_5342);
    /// Btrfs.
    pub const BTRFS: FsType = FsType(0x9123_683e);
    /// tmpfs (and shmem).
    pub const TMPFS: FsType = FsType(0x0102_1994);
    /// Any FUSE file system.
    pub const FUSE: FsType = FsType(0x6573_5546);
    /// NFS.
    pub const NFS: FsType = FsType(0x6969);
    /// overlayfs.
    pub const OVERLAYFS: FsType = FsType(0x794c_7630);

    /// A short name (`"ext4"`, `"xfs"`, `"tmpfs"`, ...), or `None` for an unknown magic.
    pub fn name(self) -> Option<&'static str> {
        FS_NAMES
            .iter()
            .find(|(magic, _)| *magic == self.0)
            .map(|(_, n)| *n)
    }
}

impl std::fmt::Display for FsType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "unknown (0x{:x})", self.0),
        }
    }
}
