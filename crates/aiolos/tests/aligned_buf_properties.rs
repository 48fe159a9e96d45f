//! AlignedBuf keeps its promises for any alignment and length: the address is aligned,
//! the lengths are what the constructor says, zeroed means zero, and the IoBuf view agrees
//! with the slice view. BufPool reuses buffers within its bound.
use aiolos::{AlignedBuf, BufPool, IoBuf, IoBufMut};
use proptest::prelude::*;

fn align_strategy() -> impl Strategy<Value = usize> {
    (0u32..=16).prop_map(|shift| 1usize << shift)
}

proptest! {
    #[test]
    fn a_zeroed_buffer_is_aligned_full_length_and_zero(
        len in 0usize..=(1 << 18),
        align in align_strategy(),
    ) {
        let buf = AlignedBuf::zeroed(len, align);
        prop_assert_eq!(buf.as_ptr() as usize % align, 0);
        prop_assert_eq!(buf.len(), len);
        prop_assert_eq!(buf.capacity(), len);
        prop_assert_eq!(buf.alignment(), align);
        prop_assert!(buf.iter().all(|&b| b == 0));
        prop_assert_eq!(buf.stable_ptr(), buf.as_ptr());
        prop_assert_eq!(buf.bytes_init(), len);
        prop_assert_eq!(buf.bytes_total(), len);
    }

    #[test]
    fn a_buffer_with_capacity_starts_empty_and_grows_only_by_writes(
        cap in 0usize..=(1 << 16),
        align in align_strategy(),
        data in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut buf = AlignedBuf::with_capacity(cap, align);
        prop_assert_eq!(buf.as_ptr() as usize % align, 0);
        prop_assert_eq!((buf.len(), buf.capacity()), (0, cap));
        prop_assert_eq!(buf.bytes_init(), 0);
        prop_assert_eq!(buf.bytes_total(), cap);
        let n = data.len().min(cap);
        buf.extend_from_slice(&data[..n]);
        prop_assert_eq!(&buf[..], &data[..n]);
        // A read that reports fewer bytes than are already initialised shrinks nothing.
        // SAFETY: 0 <= len bytes are initialised.
        unsafe { buf.set_init(0) };
        prop_assert_eq!(buf.len(), n);
        buf.resize(cap);
        prop_assert_eq!(buf.len(), cap);
        prop_assert!(buf[n..].iter().all(|&b| b == 0));
        buf.truncate(n / 2);
        prop_assert_eq!(&buf[..], &data[..n / 2]);
    }

    #[test]
    fn moving_a_buffer_keeps_its_address(len in 1usize..4096, align in align_strategy()) {
        let buf = AlignedBuf::from_slice(&vec![3u8; len], align);
        let addr = buf.stable_ptr();
        let moved = Box::new(buf);
        prop_assert_eq!(moved.stable_ptr(), addr);
        prop_assert_eq!(moved.len(), len);
    }
}

#[test]
fn an_invalid_alignment_is_an_error_not_undefined_behaviour() {
    assert!(AlignedBuf::try_zeroed(4096, 3000).is_err());
    assert!(AlignedBuf::try_with_capacity(4096, 0).is_err());
    assert!(AlignedBuf::try_zeroed(usize::MAX - 10, 4096).is_err());
}

#[test]
fn the_pool_reuses_buffers_up_to_its_bound_and_hides_old_contents() {
    let pool = BufPool::new(8192, 4096, 2);
    let mut a = pool.get_zeroed();
    a[0] = 42;
    let (b, c) = (pool.get(), pool.get());
    let addrs = [a.as_ptr(), b.as_ptr(), c.as_ptr()];
    pool.put(a);
    pool.put(b);
    pool.put(c);
    assert_eq!(pool.idle(), 2, "the pool keeps at most its bound");
    let again = pool.get();
    assert!(addrs.contains(&again.as_ptr()), "a pooled buffer is reused");
    assert_eq!(again.len(), 0, "old contents are not visible");
    assert_eq!(again.as_ptr() as usize % 4096, 0);
    pool.put(AlignedBuf::zeroed(100, 4096));
    pool.put(AlignedBuf::zeroed(8192, 512));
    assert_eq!(
        pool.idle(),
        1,
        "foreign sizes and weaker alignments are not pooled"
    );
}

#[test]
fn the_pool_is_shared_safely_between_threads() {
    let pool = std::sync::Arc::new(BufPool::new(4096, 4096, 4));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let mut b = pool.get_zeroed();
                    b.fill((t * 31 + i) as u8);
                    assert!(b.iter().all(|&x| x == (t * 31 + i) as u8));
                    pool.put(b);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(pool.idle() <= 4);
}
