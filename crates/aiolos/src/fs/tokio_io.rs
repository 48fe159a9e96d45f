//! tokio's I/O traits for [`File`]: `AsyncRead`, `AsyncBufRead`, `AsyncWrite` and
//! `AsyncSeek`, over the stream state in `stream.rs`.

use super::File;
use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

impl AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let (fd, driver, s) = self.get_mut().parts();
        s.hint(buf.remaining());
        let data = ready!(s.poll_fill(fd, driver, cx))?;
        let n = data.len().min(buf.remaining());
        buf.put_slice(&data[..n]);
        s.consume(n);
        Poll::Ready(Ok(()))
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

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl AsyncSeek for File {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        self.get_mut().parts().2.start_seek(position)
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let (fd, driver, s) = self.get_mut().parts();
        s.poll_complete(fd, driver, cx)
    }
}
