//! DirectFile's zero-copy path takes aligned buffers as they are and refuses misaligned
//! ones with an error naming the required alignment; a file without O_DIRECT is refused.
mod common;
use aiolos::align::{AlignmentError, Misaligned};
use aiolos::{AlignedBuf, BufResult, DirectFile};

fn direct_file(dir: &std::path::Path) -> Option<DirectFile> {
    match DirectFile::create(dir.join("f")) {
        Ok(f) => Some(f),
        Err(e) => {
            eprintln!("SKIP: no O_DIRECT in the build directory: {e}");
            None
        }
    }
}

#[test]
fn aligned_buffers_round_trip_without_copying() {
    let dir = common::scratch_dir();
    let Some(file) = direct_file(dir.path()) else {
        return;
    };
    let a = file.alignment();
    assert_eq!(file.align_up(1), a.offset() as u64);
    assert_eq!(file.align_down(a.offset() as u64 + 1), a.offset() as u64);
    let mut buf = file.alloc_buf(3 * a.offset() - 1);
    assert_eq!(buf.len(), 3 * a.offset(), "alloc_buf rounds the length up");
    assert_eq!(buf.as_ptr() as usize % a.mem(), 0);
    let data = common::pattern(0, buf.len());
    buf.copy_from_slice(&data);
    let addr = buf.as_ptr();
    let BufResult(res, buf) = file.write_aligned(buf, a.offset() as u64);
    assert_eq!(res.unwrap(), 3 * a.offset());
    assert_eq!(buf.as_ptr(), addr, "the same buffer comes back");
    let BufResult(res, back) =
        file.read_aligned(AlignedBuf::with_capacity(4 * a.offset(), a.mem()), 0);
    assert_eq!(res.unwrap(), 4 * a.offset());
    assert!(
        back[..a.offset()].iter().all(|&b| b == 0),
        "the hole reads as zeros"
    );
    assert_eq!(&back[a.offset()..], &buf[..]);
}

#[test]
fn misaligned_zero_copy_requests_name_the_required_alignment() {
    let dir = common::scratch_dir();
    let Some(file) = direct_file(dir.path()) else {
        return;
    };
    let a = file.alignment();
    let check = |res: std::io::Result<usize>, what: Misaligned, required: usize| {
        let e = res.expect_err("misaligned request refused");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains(&required.to_string()), "{e}");
        let inner = e.get_ref().and_then(|i| i.downcast_ref::<AlignmentError>());
        let inner = inner.expect("an AlignmentError inside");
        assert_eq!((inner.what(), inner.required()), (what, required));
    };
    let BufResult(res, buf) = file.write_aligned(file.alloc_buf(a.offset()), 1);
    check(res, Misaligned::Offset, a.offset());
    assert_eq!(buf.len(), a.offset(), "the buffer comes back on error");
    let short = AlignedBuf::from_slice(&[1, 2, 3], a.mem());
    check(
        file.write_aligned(short, 0).0,
        Misaligned::Length,
        a.offset(),
    );
    let odd = AlignedBuf::with_capacity(a.offset() + 1, a.mem());
    check(file.read_aligned(odd, 0).0, Misaligned::Length, a.offset());
    assert_eq!(file.len().unwrap(), 0, "nothing was written");
}

#[test]
fn unaligned_writes_past_the_end_leave_the_exact_size() {
    let dir = common::scratch_dir();
    let Some(file) = direct_file(dir.path()) else {
        return;
    };
    let a = file.alignment().offset() as u64;
    file.write_at(b"abc", a + 5).unwrap();
    assert_eq!(
        file.len().unwrap(),
        a + 8,
        "no block padding is left behind"
    );
    let mut back = vec![9u8; (a + 100) as usize];
    assert_eq!(file.read_at(&mut back, 0).unwrap(), (a + 8) as usize);
    assert!(back[..(a + 5) as usize].iter().all(|&b| b == 0));
    assert_eq!(&back[(a + 5) as usize..(a + 8) as usize], b"abc");
    assert_eq!(file.read_at(&mut back, a + 8).unwrap(), 0, "end of file");
    file.write_at(b"x", 1).unwrap();
    assert_eq!(
        file.len().unwrap(),
        a + 8,
        "a write inside the file keeps its size"
    );
}

#[test]
fn a_file_opened_without_o_direct_is_refused() {
    let dir = common::scratch_dir();
    let plain = std::fs::File::create(dir.path().join("plain")).unwrap();
    let e = DirectFile::from_file(plain).expect_err("no O_DIRECT, no DirectFile");
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("O_DIRECT"), "{e}");
}
