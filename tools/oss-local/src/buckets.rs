//! Bucket and service operations: ListObjects (V1), ListObjectsV2 and ListBuckets.

use std::sync::Arc;

use crate::error::OssError;
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

/// ListObjects and ListObjectsV2.
pub async fn list_objects(ctx: &Ctx, bucket: &Arc<Bucket>) -> Result<Resp, OssError> {
    let params = Params::from_query(&ctx.query)?;
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
    Ok(response::xml(&ctx.request_id, xml))
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
