//! A DynamoDB-compatible server for the tests: `$TRACEKIT_DYNAMODB_ENDPOINT` when set (as
//! `.ci/run` does), else `scripts/dynamodb-local.sh start` (npm dynalite). Without either,
//! the tests say so loudly and skip.

#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The server's URL, or `None` (after a loud message) when none can be started.
pub fn endpoint() -> Option<String> {
    static ENDPOINT: OnceLock<Option<String>> = OnceLock::new();
    ENDPOINT
        .get_or_init(|| {
            if let Ok(url) = std::env::var("TRACEKIT_DYNAMODB_ENDPOINT") {
                return Some(url);
            }
            let script = crate::common::reference::workspace_root().join("scripts/dynamodb-local.sh");
            match Command::new("bash").arg(&script).arg("start").output() {
                Ok(out) if out.status.success() => {
                    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
                }
                other => {
                    eprintln!(
                        "\n!!! SKIPPED: no DynamoDB-compatible server: set TRACEKIT_DYNAMODB_ENDPOINT or \
                         make `scripts/dynamodb-local.sh start` work (it needs npm): {other:?}\n"
                    );
                    None
                }
            }
        })
        .clone()
}

/// A table name no other test (or earlier run on the same server) uses.
pub fn unique_table(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "tk-{what}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A config for `table` on the test server, created if missing.
pub fn config(endpoint: &str, table: &str) -> tracekit::DynamoDbConfig {
    tracekit::DynamoDbConfig::new(table)
        .endpoint(endpoint)
        .region("us-east-1")
        .static_credentials("local", "local")
        .create_table(true)
}
