//! moto (PyPI `moto[server]`), an S3 implementation written by others, as a server for the S3
//! tests: started on a free port of 127.0.0.1, waited for by polling, stopped when dropped.
//! Objects are put with plain HTTP requests (moto checks no signatures, but treats a request
//! without `Authorization` as anonymous and refuses it).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

/// A dummy `Authorization` header: moto accepts any, and wants one.
const AUTH: &str = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, \
                    SignedHeaders=host, Signature=0";

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

impl Moto {
    /// Starts moto, or returns `None` (after saying why on stderr) when it is not installed;
    /// under `CI=true` a missing moto is a failure (`tools/setup.sh` installs it).
    pub fn start() -> Option<Moto> {
        let probe = Command::new(python())
            .args(["-c", "import moto.server, flask"])
            .stderr(Stdio::null())
            .status();
        if !probe.is_ok_and(|s| s.success()) {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "moto is not installed, and CI=true: run tools/setup.sh"
            );
            eprintln!(
                "SKIPPED: moto is not installed (pip install 'moto[server]', or tools/setup.sh)"
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(python())
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let agent = agent();
        loop {
            if agent
                .get(format!("{}/moto-api/", moto.endpoint))
                .call()
                .is_ok()
            {
                return Some(moto);
            }
            assert!(Instant::now() < deadline, "moto did not start within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Creates `bucket`.
    pub fn create_bucket(&self, bucket: &str) {
        let r = agent()
            .put(format!("{}/{bucket}", self.endpoint))
            .header("authorization", AUTH)
            .send_empty()
            .expect("create bucket");
        assert_eq!(r.status().as_u16(), 200);
    }

    /// Puts an object; with `checksum`, the CRC-64/NVME moto stores and returns as
    /// `x-amz-checksum-crc64nvme` (moto does not check it, so a wrong one can be stored).
    pub fn put(&self, bucket: &str, key: &str, data: &[u8], checksum: Option<u64>) {
        use base64::Engine as _;
        let path = key
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>();
        let mut req = agent()
            .put(format!("{}/{bucket}/{path}", self.endpoint))
            .header("authorization", AUTH)
            .header("content-type", "application/octet-stream");
        if let Some(c) = checksum {
            req = req
                .header("x-amz-sdk-checksum-algorithm", "CRC64NVME")
                .header(
                    "x-amz-checksum-crc64nvme",
                    base64::engine::general_purpose::STANDARD.encode(c.to_be_bytes()),
                );
        }
        let r = req.send(data).expect("put object");
        assert_eq!(r.status().as_u16(), 200, "PUT {key}");
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build(),
    )
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CRC-64/NVME, as S3 computes `x-amz-checksum-crc64nvme`.
pub fn crc64nvme(data: &[u8]) -> u64 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, data)
}
