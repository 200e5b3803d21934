//! Stores named on the command line: a path, `sqlite://path`, or `dynamodb://table?...`.

use std::path::PathBuf;

use tracekit::Tracer;

use crate::CliError;

/// Where the traces are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreSpec {
    /// A SQLite file (it must exist: reading never creates one).
    Sqlite(PathBuf),
    /// An OTLP/HTTP collector or backend (its base URL): a place to send spans to, which
    /// cannot be read back (`serve --otlp` forwards to it).
    Otlp(String),
    /// A DynamoDB table.
    DynamoDb {
        /// The table.
        table: String,
        /// A local endpoint, if not AWS.
        endpoint: Option<String>,
        /// The region.
        region: Option<String>,
    },
}

impl std::str::FromStr for StoreSpec {
    type Err = CliError;

    fn from_str(s: &str) -> Result<StoreSpec, CliError> {
        let bad = |why: &str| CliError::StoreUrl {
            url: s.to_owned(),
            problem: why.to_owned(),
        };
        if let Some(path) = s.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(bad("the path is empty: sqlite://traces.db"));
            }
            return Ok(StoreSpec::Sqlite(PathBuf::from(path)));
        }
        if let Some(rest) = s.strip_prefix("dynamodb://") {
            let (table, query) = rest.split_once('?').unwrap_or((rest, ""));
            if table.is_empty() {
                return Err(bad(
                    "the table is missing: dynamodb://traces?region=us-east-1",
                ));
            }
            let (mut endpoint, mut region) = (None, None);
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                match pair.split_once('=') {
                    Some(("endpoint", v)) if v.starts_with("http://") || v.starts_with("https://") => {
                        endpoint = Some(v.to_owned())
                    }
                    Some(("endpoint", _)) => return Err(bad("endpoint must be an http:// or https:// URL")),
                    Some(("region", v)) if !v.is_empty() => region = Some(v.to_owned()),
                    _ => return Err(bad(&format!("unknown or empty parameter `{pair}`: expected endpoint=URL and region=NAME"))),
                }
            }
            return Ok(StoreSpec::DynamoDb {
                table: table.to_owned(),
                endpoint,
                region,
            });
        }
        if s.starts_with("http://") || s.starts_with("https://") {
            if s.split_once("://").is_some_and(|(_, host)| host.is_empty()) {
                return Err(bad("the host is missing: http://127.0.0.1:4318"));
            }
            return Ok(StoreSpec::Otlp(s.to_owned()));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(bad(&format!(
                "unknown scheme `{scheme}`: expected a path, sqlite://PATH, dynamodb://TABLE or an OTLP collector's http(s):// URL"
            )));
        }
        if s.is_empty() {
            return Err(bad("empty: give a path such as traces.db"));
        }
        Ok(StoreSpec::Sqlite(PathBuf::from(s)))
    }
}

impl StoreSpec {
    /// Opens the store for writing what a collector receives: a SQLite file is created if
    /// missing, a DynamoDB table too; an OTLP URL is forwarded to.
    pub fn open_for_writing(&self) -> Result<Tracer, CliError> {
        match self {
            StoreSpec::Sqlite(path) => Ok(Tracer::sqlite(path)?),
            StoreSpec::Otlp(url) => Ok(Tracer::otlp(tracekit::OtlpConfig::new(url))?),
            #[cfg(feature = "dynamodb")]
            StoreSpec::DynamoDb { .. } => Ok(Tracer::dynamodb(self.dynamodb()?.create_table(true))?),
            #[cfg(not(feature = "dynamodb"))]
            StoreSpec::DynamoDb { .. } => Err(CliError::NotBuiltIn(
                "DynamoDB stores need the `dynamodb` feature: cargo install tracekit-cli --features dynamodb",
            )),
        }
    }

    /// A DynamoDB store's table, endpoint and region as a configuration.
    #[cfg(feature = "dynamodb")]
    fn dynamodb(&self) -> Result<tracekit::DynamoDbConfig, CliError> {
        let StoreSpec::DynamoDb {
            table,
            endpoint,
            region,
        } = self
        else {
            return Err(CliError::Usage(format!("{self:?} is not a DynamoDB table")));
        };
        let mut config = tracekit::DynamoDbConfig::new(table);
        if let Some(endpoint) = endpoint {
            config = config.endpoint(endpoint);
        }
        if let Some(region) = region {
            config = config.region(region);
        }
        Ok(config)
    }

    /// Opens the store for reading.
    pub fn open(&self) -> Result<Tracer, CliError> {
        match self {
            StoreSpec::Otlp(url) => Err(CliError::Usage(format!(
                "{url} is an OTLP endpoint: spans sent there cannot be read back here; give a SQLite file or a DynamoDB table"
            ))),
            StoreSpec::Sqlite(path) => {
                if !path.is_file() {
                    return Err(CliError::MissingStore(path.display().to_string()));
                }
                // Reading only: no writer thread, and the file (perhaps another process's,
                // being written) is never changed.
                Ok(Tracer::sqlite(tracekit::SqliteConfig::new(path).read_only())?)
            }
            #[cfg(feature = "dynamodb")]
            StoreSpec::DynamoDb { .. } => Ok(Tracer::dynamodb(
                self.dynamodb()?.create_table(false).allow_scan(true),
            )?),
            #[cfg(not(feature = "dynamodb"))]
            StoreSpec::DynamoDb { .. } => Err(CliError::NotBuiltIn(
                "DynamoDB stores need the `dynamodb` feature: cargo install tracekit-cli --features dynamodb",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_and_urls() {
        assert_eq!(
            "traces.db".parse(),
            Ok(StoreSpec::Sqlite("traces.db".into()))
        );
        assert_eq!(
            "sqlite://a/b.db".parse(),
            Ok(StoreSpec::Sqlite("a/b.db".into()))
        );
        assert_eq!(
            "dynamodb://traces?endpoint=http://127.0.0.1:8000&region=eu-west-1".parse(),
            Ok(StoreSpec::DynamoDb {
                table: "traces".into(),
                endpoint: Some("http://127.0.0.1:8000".into()),
                region: Some("eu-west-1".into())
            })
        );
        for bad in [
            "",
            "sqlite://",
            "dynamodb://",
            "dynamodb://t?endpoint=ftp://x",
            "dynamodb://t?colour=red",
            "postgres://db",
        ] {
            let err = bad.parse::<StoreSpec>().unwrap_err();
            assert!(
                err.to_string().contains(bad) || bad.is_empty(),
                "{bad}: {err}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5_000))]

        /// Any text is a store or a `StoreUrl` error that quotes it; never a panic.
        #[test]
        fn any_text_is_a_store_or_names_what_is_wrong(
            text in proptest::prop_oneof![
                "(?s).{0,60}",
                "(sqlite|dynamodb|s3|)://[a-z?=&:/.%\\-]{0,40}",
                "dynamodb://[a-z]{0,8}\\?((endpoint|region|x)=[a-z:/.0-9]{0,16}&?){0,3}",
            ],
        ) {
            match text.parse::<StoreSpec>() {
                Ok(StoreSpec::Sqlite(path)) => proptest::prop_assert!(!path.as_os_str().is_empty()),
                Ok(StoreSpec::Otlp(url)) => proptest::prop_assert!(url.starts_with("http")),
                Ok(StoreSpec::DynamoDb { table, endpoint, .. }) => {
                    proptest::prop_assert!(!table.is_empty());
                    proptest::prop_assert!(endpoint.is_none_or(|e| e.starts_with("http")));
                }
                Err(CliError::StoreUrl { url, problem }) => {
                    proptest::prop_assert_eq!(url, text);
                    proptest::prop_assert!(!problem.is_empty());
                }
                Err(other) => proptest::prop_assert!(false, "untyped: {other}"),
            }
        }
    }
}
