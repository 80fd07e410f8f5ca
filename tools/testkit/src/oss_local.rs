//! Starting and stopping an `oss-local` server from a test or a benchmark.
//!
//! The server binary is found through `OSS_LOCAL_BIN`, or next to the running test
//! executable in the cargo target directory (`target/<profile>/oss-local`); build it
//! first with `cargo build -p oss-local`. The server picks a free port itself
//! (`--port 0`) and says which on its first stdout line.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running oss-local, stopped (killed and reaped) when dropped.
pub struct OssLocal {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    /// The port the server listens on.
    pub port: u16,
}

/// The credentials the servers started by [`OssLocal::start`] accept unless told otherwise.
pub const TEST_ACCESS_KEY_ID: &str = "LTAI5tTestAccessKeyId";
/// See [`TEST_ACCESS_KEY_ID`].
pub const TEST_ACCESS_KEY_SECRET: &str = "TestAccessKeySecret123";

/// The path of the oss-local binary.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("OSS_LOCAL_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/test-binary or target/<profile>/bench-binary
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    for _ in 0..3 {
        let candidate = dir.join("oss-local");
        if candidate.is_file() {
            return candidate;
        }
        if !dir.pop() {
            break;
        }
    }
    panic!(
        "oss-local binary not found near {}; run `cargo build -p oss-local` or set OSS_LOCAL_BIN",
        exe.display()
    );
}

impl OssLocal {
    /// Starts oss-local on 127.0.0.1 with a free port and the test credentials, plus
    /// `args` (for example `["--model", "b/m:4:64", "--fail-rate", "0.05"]`).
    pub fn start(args: &[&str]) -> OssLocal {
        let mut all = vec![
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--access-key-id",
            TEST_ACCESS_KEY_ID,
            "--access-key-secret",
            TEST_ACCESS_KEY_SECRET,
        ];
        all.extend_from_slice(args);
        OssLocal::start_raw(&all)
    }

    /// Starts oss-local with exactly `args`.
    pub fn start_raw(args: &[&str]) -> OssLocal {
        let mut child = Command::new(binary())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn oss-local");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read oss-local stdout");
        let endpoint = match line.trim().strip_prefix("listening on ") {
            Some(e) => e.to_owned(),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("oss-local did not start: first stdout line was {line:?}");
            }
        };
        let port = endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in endpoint");
        OssLocal {
            child,
            endpoint,
            port,
        }
    }

    /// The server's `/_stats` JSON text, fetched with a plain HTTP/1.1 request.
    pub fn stats_json(&self) -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            s,
            "GET /_stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read");
        match resp.split_once("\r\n\r\n") {
            Some((_, body)) => body.to_owned(),
            None => panic!("bad /_stats response: {resp:?}"),
        }
    }
}

impl Drop for OssLocal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
