//! The connection wrapper that lets a handler end its connection abruptly.
//!
//! hyper owns the socket while it serves a connection, so a handler cannot close it directly.
//! Instead the handler marks the connection's [`ConnControl`]; the next read, write or flush of
//! [`ConnIo`] fails, hyper drops the connection, and the socket closes. For a reset, the wrapper
//! first sets `SO_LINGER` to zero, so closing sends a TCP RST instead of a FIN.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

const OPEN: u8 = 0;
const RESET: u8 = 1;
const CLOSE: u8 = 2;

/// How a handler wants its connection to end; shared between the handler and [`ConnIo`].
#[derive(Debug, Default)]
pub(crate) struct ConnControl {
    state: AtomicU8,
}

impl ConnControl {
    /// Resets the connection (TCP RST) at its next IO.
    pub(crate) fn reset(&self) {
        self.state.store(RESET, Ordering::Release);
    }

    /// Closes the connection (FIN) at its next IO, without answering.
    pub(crate) fn close(&self) {
        self.state.store(CLOSE, Ordering::Release);
    }
}

/// A TCP stream that fails on purpose once its [`ConnControl`] says so.
#[derive(Debug)]
pub(crate) struct ConnIo {
    stream: TcpStream,
    control: std::sync::Arc<ConnControl>,
}

impl ConnIo {
    pub(crate) fn new(stream: TcpStream, control: std::sync::Arc<ConnControl>) -> Self {
        Self { stream, control }
    }

    /// The error to fail with, if the connection must end.
    fn ending(&self) -> Option<io::Error> {
        match self.control.state.load(Ordering::Acquire) {
            OPEN => None,
            RESET => {
                // With a zero linger, closing the socket discards unsent data and sends RST.
                if let Err(error) = self.stream.set_zero_linger() {
                    tracing::warn!(%error, "cannot set SO_LINGER to zero; the reset will be a close");
                }
                Some(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "orkestra-mock: reset fault",
                ))
            }
            _ => Some(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "orkestra-mock: connection closed without an answer",
            )),
        }
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(error) = this.ending() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(error) = this.ending() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(error) = this.ending() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(error) = this.ending() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(error) = this.ending() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}
