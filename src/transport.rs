//! Connections whose waits end soon after their operation is cancelled.
//!
//! A request blocked on a silent server waits in a socket read until the read timeout
//! (`timeouts.readMs`), and cancelling its [`CancelToken`] used to be noticed only after that
//! read returned. That made a timed read (`ossmc_read_timeout`, Python's half-second slices)
//! overrun its time by up to the read timeout when it cancelled the requests filling its
//! buffer, and an interrupted listing or prefetch hold its thread as long.
//!
//! Every connection of the agent is wrapped in a [`CancellableTransport`] (the outermost layer,
//! above TLS), which waits for input in slices of [`SLICE`] and, between slices, checks the
//! token of the operation running on this thread ([`watch`], set by `Client::call` for the
//! whole operation, body reads included). A cancelled operation's wait ends with a
//! `ConnectionAborted` error within a slice; the connection is then dropped, never reused. Waits
//! that are not cancelled behave as before: the same overall and per-read timeouts, reported
//! the same way.

use std::cell::RefCell;
use std::time::Instant;

use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};

use crate::cancel::CancelToken;

/// The longest a wait goes without checking for cancellation.
const SLICE: std::time::Duration = std::time::Duration::from_millis(100);

thread_local! {
    /// The token of the operation this thread is running, if any.
    static CURRENT: RefCell<Option<CancelToken>> = const { RefCell::new(None) };
}

/// Makes `token` the one this thread's socket waits check, until the guard is dropped (then
/// the previous one is back: operations may nest, as a credentials refresh inside a fetch).
pub(crate) fn watch(token: &CancelToken) -> Watch {
    let previous = CURRENT.with(|c| c.replace(Some(token.clone())));
    Watch { previous }
}

/// See [`watch`].
pub(crate) struct Watch {
    previous: Option<CancelToken>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

fn cancelled() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(CancelToken::is_cancelled))
}

/// The last link of the agent's connector chain: wraps each connection the chain before it
/// made (TCP, proxy, TLS) in a [`CancellableTransport`].
#[derive(Debug)]
pub(crate) struct CancellableConnector;

impl<In: Transport> Connector<In> for CancellableConnector {
    type Out = CancellableTransport<In>;

    fn connect(
        &self,
        _details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| CancellableTransport { inner }))
    }
}

/// A connection whose waits for input check for cancellation every [`SLICE`].
#[derive(Debug)]
pub(crate) struct CancellableTransport<T> {
    inner: T,
}

fn is_timeout(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Timeout(_) => true,
        ureq::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        ),
        _ => false,
    }
}

impl<T: Transport> Transport for CancellableTransport<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        // The wait the layers below would make, cut into slices: a slice that times out is
        // not an error unless the whole wait is over (a layer below keeps what it read).
        let whole = timeout.for_read();
        let started = Instant::now();
        loop {
            if cancelled() {
                // Not `Interrupted`: `Read::read_exact` and friends retry that.
                return Err(ureq::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "the operation was cancelled",
                )));
            }
            let left = whole.after.saturating_sub(started.elapsed());
            if !whole.after.is_not_happening() && left.is_zero() {
                return Err(ureq::Error::Timeout(whole.reason));
            }
            let slice = NextTimeout {
                after: UreqDuration::Exact(left.min(SLICE)),
                reason: whole.reason,
                per_read: None,
                per_write: timeout.per_write,
            };
            match self.inner.await_input(slice) {
                Err(e) if is_timeout(&e) => continue,
                other => return other,
            }
        }
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}
