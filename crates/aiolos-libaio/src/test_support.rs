//! Helpers shared by the crate's unit tests.

use crate::abi::Iocb;

/// The iocb pointer array a C caller passes to `io_submit`. The library reads the pointers
/// as integers (they are also the requests' ids), as the kernel does; a C pointer that
/// became an integer is an exposed one.
pub(crate) fn ptr_array(cbs: &mut [Iocb]) -> Vec<*mut Iocb> {
    let base = cbs.as_mut_ptr();
    (0..cbs.len())
        .map(|i| {
            let p = base.wrapping_add(i);
            let _ = p.expose_provenance();
            p
        })
        .collect()
}
