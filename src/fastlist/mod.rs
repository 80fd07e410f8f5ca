//! FastList: listing everything under a prefix with many ListObjectsV2 requests at once.
//!
//! A plain listing is a chain (each page needs the previous page's continuation token), so
//! it costs one round trip per 1000 keys however fast the client is. FastList instead splits
//! the key space under the prefix into parts bounded by `start-after` keys and lists the parts
//! in parallel, discovering the shape of the key space from the pages as they arrive.
//!
//! - [`keyspace`]: arithmetic on key tails (split points that are valid UTF-8 and strictly
//!   between two keys in byte order).
//! - [`plan`]: the schedule: unlisted intervals, requests in flight, what to send next.
//! - this module: the threads that send the requests and feed the answers to the plan.
//!
//! The result holds every key of the plain listing exactly once, in no particular order: each
//! page's keys are appended as the page comes, so the result is complete the moment the last
//! page is in. Memory is the result itself plus the pages in flight.

pub(crate) mod keyspace;
pub(crate) mod plan;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;

use crate::client::{CancelToken, Client};
use crate::error::{Error, ErrorKind, Result};
use crate::listing::{self, ObjectInfo, Page};
use crate::logging;
pub(crate) use plan::{Job, Plan, PlanStats, PAGE_KEYS};

/// How often the scheduler looks at the caller's cancel token while it waits for pages.
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// Sends one listing request; implemented over the HTTP client, and in memory by tests.
pub(crate) trait PageSource: Sync {
    /// Lists one page of up to [`PAGE_KEYS`] keys under the listing's prefix, as `job` says.
    fn page(&self, cancel: &CancelToken, job: &Job) -> Result<Page>;
}

/// The pages of `bucket` under `prefix`, through the connector's client.
pub(crate) struct ClientSource<'a> {
    pub client: &'a Client,
    pub bucket: &'a str,
    pub prefix: &'a str,
}

impl PageSource for ClientSource<'_> {
    fn page(&self, cancel: &CancelToken, job: &Job) -> Result<Page> {
        match job.delimiter.as_deref() {
            // A page that breaks off part-way still covers (start, its last object]: the
            // plan keeps those objects and lists the rest of the part after them.
            None => listing::list_page_or_part(
                self.client,
                cancel,
                self.bucket,
                self.prefix,
                job.start_after.as_deref(),
                job.continuation_token.as_deref(),
                PAGE_KEYS as u32,
            ),
            Some(delimiter) => listing::list_page(
                self.client,
                cancel,
                self.bucket,
                self.prefix,
                job.start_after.as_deref(),
                job.continuation_token.as_deref(),
                Some(delimiter),
                PAGE_KEYS as u32,
            ),
        }
    }
}

/// FastList of `bucket` under `prefix` through the connector's client, with up to
/// `max_in_flight` requests at once (`fastList.vcpus × fastList.workers`).
pub(crate) fn list(
    client: &Client,
    bucket: &str,
    prefix: &str,
    max_in_flight: usize,
    cancel: &CancelToken,
) -> Result<Vec<ObjectInfo>> {
    let source = ClientSource {
        client,
        bucket,
        prefix,
    };
    let started = std::time::Instant::now();
    // The plan's own errors (a page that breaks the rules) do not know the bucket.
    let (objects, stats) =
        fast_list(&source, prefix, max_in_flight, cancel).map_err(|e| match e.bucket() {
            Some(_) => e,
            None => e.with_object(bucket, None),
        })?;
    log::info!(
        "fast list of {}{bucket}/{prefix}: {} objects in {} ms with {} requests \
         ({} splits, {} gallops, {} pages without new keys)",
        client.protocol().scheme(),
        objects.len(),
        started.elapsed().as_millis(),
        stats.requests,
        stats.splits,
        stats.gallops,
        stats.useless_pages
    );
    Ok(objects)
}

/// Lists every key under `prefix` from `source` with up to `max_in_flight` requests at once.
///
/// The first failed request (after the source's own retries) stops the others and is
/// returned; so does `cancel` (as [`ErrorKind::Cancelled`]). Nothing partial is returned.
pub(crate) fn fast_list(
    source: &dyn PageSource,
    prefix: &str,
    max_in_flight: usize,
    cancel: &CancelToken,
) -> Result<(Vec<ObjectInfo>, PlanStats)> {
    let want = max_in_flight.max(1);
    let mut plan = Plan::new(prefix, want);
    // Our own token: cancelling it on failure must not cancel the caller's other calls.
    let stop = CancelToken::new();
    let (job_tx, job_rx) = crossbeam_channel::unbounded::<Job>();
    let (page_tx, page_rx) = crossbeam_channel::unbounded::<(u64, Result<Page>)>();

    // The workers log as the caller's connector.
    let caller_log = logging::current();
    let outcome = std::thread::scope(|scope| {
        let mut workers = 0usize;
        for _ in 0..want {
            let (jobs, pages, stop) = (job_rx.clone(), page_tx.clone(), stop.clone());
            let log = caller_log.clone();
            let spawned = std::thread::Builder::new()
                .name("ossmc-fastlist".into())
                .spawn_scoped(scope, move || {
                    let _log = logging::enter(log);
                    for job in jobs.iter() {
                        if stop.is_cancelled() {
                            break;
                        }
                        let answer = catch_unwind(AssertUnwindSafe(|| source.page(&stop, &job)))
                            .unwrap_or_else(|_| {
                                Err(Error::new(ErrorKind::Internal, "a listing thread panicked"))
                            });
                        if pages.send((job.id, answer)).is_err() {
                            break;
                        }
                    }
                });
            match spawned {
                Ok(_) => workers += 1,
                Err(e) if workers == 0 => {
                    return Err(Error::new(
                        ErrorKind::Internal,
                        format!("cannot start a listing thread: {e}"),
                    ))
                }
                Err(e) => {
                    log::warn!("fast list: runs with {workers} threads; starting more failed: {e}");
                    break;
                }
            }
        }
        drop(page_tx);
        let result = drive(&mut plan, workers, &job_tx, &page_rx, cancel, &stop);
        // Whatever happened, requests still in flight are of no use now.
        stop.cancel();
        drop(job_tx);
        result
    });
    outcome?;
    let stats = plan.stats();
    log::debug!("fast list of {prefix:?}: {stats:?}");
    Ok((plan.into_objects(), stats))
}

/// Hands jobs to the workers and pages to the plan until the plan is done or fails.
fn drive(
    plan: &mut Plan,
    workers: usize,
    jobs: &crossbeam_channel::Sender<Job>,
    pages: &crossbeam_channel::Receiver<(u64, Result<Page>)>,
    cancel: &CancelToken,
    stop: &CancelToken,
) -> Result<()> {
    let cancelled = || Error::new(ErrorKind::Cancelled, "the listing was cancelled");
    loop {
        while plan.in_flight() < workers {
            let Some(job) = plan.next_job() else { break };
            if jobs.send(job).is_err() {
                return Err(Error::new(
                    ErrorKind::Internal,
                    "the listing threads stopped early",
                ));
            }
        }
        if plan.is_done() {
            return Ok(());
        }
        if plan.in_flight() == 0 {
            return Err(Error::new(
                ErrorKind::Internal,
                "the fast listing has ranges left but nothing to ask for",
            ));
        }
        let (id, answer) = loop {
            if cancel.is_cancelled() {
                stop.cancel();
                return Err(cancelled());
            }
            match pages.recv_timeout(CANCEL_POLL) {
                Ok(x) => break x,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Error::new(
                        ErrorKind::Internal,
                        "the listing threads stopped early",
                    ))
                }
            }
        };
        match answer {
            Ok(page) => plan.on_page(id, page)?,
            Err(e) if e.kind() == ErrorKind::Cancelled && cancel.is_cancelled() => {
                return Err(cancelled())
            }
            Err(e) => plan.on_error(id, e)?,
        }
    }
}

#[cfg(test)]
mod tests;
