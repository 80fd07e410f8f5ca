//! Bucket and service operations: ListObjects (V1), ListObjectsV2 and ListBuckets.

use std::sync::Arc;

use bytes::Bytes;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};

use crate::body::{ObjectStream, OssBody};
use crate::error::OssError;
use crate::faults::{offset_in, LIST_FRAME};
use crate::listing::{self, Params};
use crate::listing_xml::{self, xml_escape, OWNER_ID};
use crate::response::{self, Resp};
use crate::routing::Query;
use crate::server::Ctx;
use crate::store::{Bucket, Uploads};
use crate::synth::synthetic_mtime;

/// Bucket sub-resources (oss2's signed list, less the listing ones) that make a bucket GET
/// something other than a listing; this server implements none of them.
const BUCKET_SUBRESOURCES: &[&str] = &[
    "acl",
    "location",
    "bucketInfo",
    "stat",
    "lifecycle",
    "cors",
    "logging",
    "website",
    "referer",
    "policy",
    "versioning",
    "versions",
    "uploads",
    "delete",
    "tagging",
    "encryption",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "inventory",
    "worm",
    "qos",
    "requestPayment",
    "transferAcceleration",
    "objectMeta",
    "regionList",
    "resourceGroup",
    "cname",
    "accessPoint",
    "style",
    "httpsConfig",
    "policyStatus",
    "metaQuery",
];

/// Whether a bucket-level GET asks for something other than a listing.
pub fn unsupported_subresource(q: &Query) -> bool {
    BUCKET_SUBRESOURCES.iter().any(|s| q.has(s))
}

/// ListObjects and ListObjectsV2. The body goes out in one piece with its length, or
/// streamed when it is sent chunked (`--chunked-listings`) or cut short (`--list-reset-rate`,
/// `--list-reset-after`).
pub async fn list_objects(ctx: &Ctx, bucket: &Arc<Bucket>) -> Result<Resp, OssError> {
    let mut params = Params::from_query(&ctx.query)?;
    let hostile = ctx
        .app
        .faults
        .hostile_listing
        .draw()
        .filter(|h| h.adjust(&mut params));
    let render = || {
        let snap = bucket.snapshot(&params.prefix);
        let page = listing::list(&snap, &params);
        listing_xml::render(&bucket.name, &params, &page, &snap)
    };
    let xml = match bucket.uploads {
        // Directory buckets are scanned from the disk: keep that off the async threads.
        Uploads::Dir(_) => tokio::task::block_in_place(render),
        Uploads::Memory(_) => render(),
    };
    let xml = match hostile {
        Some(h) => {
            ctx.app.stats.listing_fault();
            h.rewrite(&params, xml)
        }
        None => xml,
    };
    let faults = &ctx.app.faults;
    let len = xml.len() as u64;
    let drawn = ctx
        .draw
        .list_reset
        .filter(|_| len > 0)
        .map(|f| offset_in(f, len));
    let cut = faults.list_reset_after.filter(|&n| n < len);
    let reset_after = match (drawn, cut) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if !faults.chunked_listings && reset_after.is_none() {
        return Ok(response::xml(&ctx.request_id, xml));
    }
    let body = ObjectStream::listing(
        Bytes::from(xml),
        LIST_FRAME,
        faults.chunked_listings,
        reset_after,
        ctx.app.stats.clone(),
    );
    let mut resp = response::base(200, &ctx.request_id, OssBody::Stream(Box::new(body)));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    if !faults.chunked_listings {
        resp.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
    Ok(resp)
}

/// ListBuckets (`GET /` on the service).
pub fn list_buckets(ctx: &Ctx) -> Resp {
    let region = &ctx.app.region;
    let created = listing_xml::iso8601(synthetic_mtime());
    let mut s =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult>");
    s.push_str(&format!(
        "<Owner><ID>{OWNER_ID}</ID><DisplayName>{OWNER_ID}</DisplayName></Owner><Buckets>"
    ));
    for name in ctx.app.store.bucket_names() {
        s.push_str("<Bucket><CreationDate>");
        s.push_str(&created);
        s.push_str("</CreationDate><ExtranetEndpoint>");
        xml_escape(&ctx.host_id, &mut s);
        s.push_str(&format!(
            "</ExtranetEndpoint><IntranetEndpoint></IntranetEndpoint><Location>oss-{region}</Location><Name>"
        ));
        xml_escape(name, &mut s);
        s.push_str(&format!(
            "</Name><Region>{region}</Region><StorageClass>Standard</StorageClass></Bucket>"
        ));
    }
    s.push_str("</Buckets></ListAllMyBucketsResult>");
    response::xml(&ctx.request_id, s)
}
