//! Start-up and shutdown: exactly one `listening on` line on stdout, a clean exit on
//! SIGTERM and SIGINT, and a clear failure for bad command lines.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ossmc_testkit::oss_local::binary;

fn wait_with_deadline(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("oss-local did not exit after the signal");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn prints_one_line_and_exits_cleanly_on_signals() {
    for signal in ["TERM", "INT"] {
        let mut child = Command::new(binary())
            .args([
                "--port",
                "0",
                "--no-auth",
                "--access-key-id",
                "a",
                "--access-key-secret",
                "s",
            ])
            .args(["--model", "b01/m:1:1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let port = line
            .strip_prefix("listening on http://127.0.0.1:")
            .and_then(|p| p.strip_suffix('\n'))
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        assert_ne!(port, 0);
        // The server answers, then stops on the signal.
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        drop(s);
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let status = wait_with_deadline(&mut child);
        assert!(status.success(), "SIG{signal}: {status:?}");
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "", "nothing else on stdout");
    }
}

#[test]
fn bad_command_lines_fail_without_listening() {
    for args in [
        vec!["--model", "b01/m:x:1"],
        vec!["--keys", "b01"],
        vec!["--fail-rate", "2"],
        vec!["--root", "/nonexistent/oss-local-test-root"],
    ] {
        let out = Command::new(binary())
            .args([
                "--port",
                "0",
                "--access-key-id",
                "a",
                "--access-key-secret",
                "s",
            ])
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}: an explanation on stderr");
    }
}
