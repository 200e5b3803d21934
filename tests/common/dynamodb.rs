//! A DynamoDB-compatible server for the tests: `servers::dynalite` (`$TRACEKIT_DYNAMODB_ENDPOINT`
//! when set, as `.ci/run` does, else `scripts/dynamodb-local.sh start`, npm dynalite). Without
//! either, the tests say so loudly and skip.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

/// The server's URL, or `None` (after a loud line) when none can be started.
pub fn endpoint() -> Option<String> {
    crate::common::servers::dynalite()
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
