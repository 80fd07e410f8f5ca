//! A host program that installed its own `log` logger keeps it: ossmc's records go to the
//! host's logger (which decides levels and destinations), and the connectors' `logPath`
//! files stay empty. The only test of its binary, so the host's logger is there before
//! any connector.

mod common;

use std::sync::Mutex;

use common::*;
use log::{LevelFilter, Log, Metadata, Record};
use ossmc::LogPath;
use ossmc_testkit::oss_local::OssLocal;
use ossmc_testkit::synthetic::shard_key;

/// The host's logger: keeps every record's level, module and message.
struct Host(Mutex<Vec<String>>);

impl Log for Host {
    fn enabled(&self, _: &Metadata) -> bool {
        true
    }
    fn log(&self, record: &Record) {
        let line = format!(
            "{} [{}] {}",
            record.level(),
            record.module_path().unwrap_or("?"),
            record.args()
        );
        self.0.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

static HOST: Host = Host(Mutex::new(Vec::new()));

#[test]
fn the_host_programs_logger_gets_the_records() {
    log::set_logger(&HOST).unwrap();
    log::set_max_level(LevelFilter::Debug);
    let server = OssLocal::start(&["--model", "host-bkt/m:1:1"]);
    let dir = TempDir::new("hostlog");
    let mut cfg = config(&dir);
    // The host's logger decides: ossmc's level does not filter.
    cfg.log_level = 3;
    cfg.log_path = LogPath {
        path: dir.path("ignored.log"),
        is_default: false,
    };
    let conn = connector(&server, cfg);
    let mut r = conn
        .open(&format!("oss://host-bkt/{}", shard_key("m", 1, 1)))
        .unwrap();
    read_checked(&mut r, 1 << 16).unwrap();
    drop((r, conn));
    // The host's level still holds.
    assert_eq!(log::max_level(), LevelFilter::Debug);
    let lines = HOST.0.lock().unwrap().clone();
    for want in [
        "INFO [ossmc::connector] connector for",
        "DEBUG [ossmc::prefetch] open oss://host-bkt/",
        "DEBUG [ossmc::client] GetObject GET",
        "INFO [ossmc::prefetch] prefetcher: ",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(want)),
            "no {want:?} among the host's records: {lines:#?}"
        );
    }
    let file = std::fs::read_to_string(dir.path("ignored.log")).unwrap_or_default();
    assert!(
        file.is_empty(),
        "ossmc wrote its own log beside the host's: {file}"
    );
}
