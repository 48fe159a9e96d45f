//! With the `futures-io` feature, `fs::File` implements the `futures` I/O traits, for
//! runtimes other than tokio: here driven by hand on the global driver (no runtime at all).
//! Written-behind bytes are visible after `poll_close`, a seek from the end finds them, and
//! reads come back through the read-ahead buffer.
mod common;
use aiolos::fs::{Driver, File};
use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};
use std::future::poll_fn;
use std::io::SeekFrom;
use std::pin::Pin;

#[test]
fn futures_io_traits_write_seek_and_read_back() {
    let dir = common::scratch_dir();
    let path = dir.path().join("f");
    let d = Driver::global().expect("driver");
    d.block_on(async {
        let mut f = File::options()
            .read(true)
            .write(true)
            .create(true)
            .open(&path)
            .await
            .expect("open");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let mut done = 0;
        while done < data.len() {
            let n = poll_fn(|cx| Pin::new(&mut f).poll_write(cx, &data[done..]))
                .await
                .expect("write");
            done += n;
        }
        poll_fn(|cx| Pin::new(&mut f).poll_close(cx))
            .await
            .expect("close");
        assert_eq!(std::fs::read(&path).expect("std read"), data);
        let end = poll_fn(|cx| Pin::new(&mut f).poll_seek(cx, SeekFrom::End(-1000)))
            .await
            .expect("seek");
        assert_eq!(end, 199_000);
        let mut back = vec![0u8; 2000];
        let mut got = 0;
        loop {
            let n = poll_fn(|cx| Pin::new(&mut f).poll_read(cx, &mut back[got..]))
                .await
                .expect("read");
            if n == 0 {
                break;
            }
            got += n;
        }
        assert_eq!(&back[..got], &data[199_000..]);
        poll_fn(|cx| Pin::new(&mut f).poll_seek(cx, SeekFrom::Start(10)))
            .await
            .expect("seek");
        let buf = poll_fn(|cx| Pin::new(&mut f).poll_fill_buf(cx).map_ok(|b| b.to_vec()))
            .await
            .expect("fill_buf");
        assert_eq!(&buf[..5], &data[10..15]);
        Pin::new(&mut f).consume(5);
        let mut five = [0u8; 5];
        poll_fn(|cx| Pin::new(&mut f).poll_read(cx, &mut five))
            .await
            .expect("read");
        assert_eq!(&five, &data[15..20]);
    });
}
