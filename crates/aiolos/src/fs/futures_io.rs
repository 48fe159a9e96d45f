//! The `futures-io` traits for [`File`] (feature `futures-io`): `AsyncRead`,
//! `AsyncBufRead`, `AsyncWrite` and `AsyncSeek`, for runtimes other than tokio, over the
//! same stream state as tokio's traits.

use super::File;
use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};
use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

impl AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let (fd, driver, s) = self.get_mut().parts();
        s.hint(buf.len());
        let data = ready!(s.poll_fill(fd, driver, cx))?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        s.consume(n);
        Poll::Ready(Ok(n))
    }
}

impl AsyncBufRead for File {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let (fd, driver, s) = self.get_mut().parts();
        s.poll_fill(fd, driver, cx)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().parts().2.consume(amt);
    }
}

impl AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        let (fd, driver, s) = self.get_mut().parts();
        s.poll_write(fd, driver, cx, src)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (fd, driver, s) = self.get_mut().parts();
        s.poll_flush(fd, driver, cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl AsyncSeek for File {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let (fd, driver, s) = self.get_mut().parts();
        if s.is_seeking() {
            return s.poll_complete(fd, driver, cx);
        }
        s.start_seek(pos)?;
        s.poll_complete(fd, driver, cx)
    }
}
