//! What a server says reaches the connector log only escaped: an OSS error message holding a
//! newline and a fake log line, or a terminal escape sequence, stays on the line of the
//! record quoting it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

use common::*;
use ossmc::Connector;

/// What the hostile server puts in `<Message>`.
const HOSTILE_MESSAGE: &str =
    "slow down\n[2099-01-01T00:00:00.000Z WARN  [ossmc::client] FAKE LINE\x1b[31m red";

/// Answers every request on `listener` with a 503 whose OSS error document carries
/// [`HOSTILE_MESSAGE`], one request per connection.
fn serve_hostile_errors(listener: TcpListener) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { return };
        let _ = answer(stream);
    }
}

fn answer(stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    // The request has no body: its head ends with an empty line.
    while reader.read_line(&mut line)? > 0 && line != "\r\n" {
        line.clear();
    }
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>\
         <Message>{HOSTILE_MESSAGE}</Message><RequestId>5F0000HOSTILE</RequestId></Error>"
    );
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n\
         x-oss-request-id: 5F0000HOSTILE\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

#[test]
fn an_error_message_with_a_fake_log_line_and_escapes_stays_on_one_escaped_line() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || serve_hostile_errors(listener));
    let dir = TempDir::new("log-injection");
    let mut cfg = config(&dir);
    cfg.log_level = 1;
    cfg.retry.max_attempts = 2;
    let conn = Connector::new(&endpoint, good_credentials(), cfg).unwrap();
    let e = conn.list("bucket", "").unwrap_err();
    assert!(e.to_string().contains("FAKE LINE"), "{e}");
    drop(conn);

    let log = std::fs::read(dir.path("connector.log")).unwrap();
    assert!(!log.contains(&0x1b), "an escape character reached the log");
    let log = String::from_utf8(log).unwrap();
    let quoting: Vec<&str> = log.lines().filter(|l| l.contains("FAKE LINE")).collect();
    assert!(!quoting.is_empty(), "the error was not logged:\n{log}");
    for line in &quoting {
        assert!(
            line.contains("slow down\\n[2099-01-01T00:00:00.000Z WARN  [ossmc::client] FAKE LINE\\x1b[31m red"),
            "not escaped: {line}"
        );
        assert!(
            !line.starts_with("[2099") && !line.starts_with("2099"),
            "{line}"
        );
    }
    assert!(
        log.lines()
            .all(|l| l.starts_with("20") && !l.starts_with("2099")),
        "a line not written by the logger:\n{log}"
    );
}
