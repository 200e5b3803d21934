//! `OTEL_*` variables with any text: a config or `Error::Config` naming the variable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracekit::{Error, OtlpConfig};

const VARS: [&str; 14] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_SERVICE_NAME",
    "OTEL_SDK_DISABLED",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // One line per variable, in order; an empty line leaves it unset.
    let values: Vec<&str> = text.split('\n').collect();
    let lookup = |name: &str| {
        let i = VARS.iter().position(|v| *v == name)?;
        values
            .get(i)
            .filter(|v| !v.is_empty())
            .map(|v| (*v).to_owned())
    };
    match OtlpConfig::from_vars(lookup) {
        Ok(config) => {
            let _ = format!("{config:?}");
        }
        Err(Error::Config { setting, .. }) => assert!(VARS.contains(&setting)),
        Err(other) => panic!("untyped: {other:?}"),
    }
});
