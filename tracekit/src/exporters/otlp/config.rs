//! [`OtlpConfig`]: where and how the OTLP exporter sends, from code or the `OTEL_*` variables.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use ureq::http::Uri;

use crate::BatchConfig;
use crate::{Error, Key, Value};

/// How the exporter sends to an OpenTelemetry backend over OTLP/HTTP;
/// [`Tracer::otlp`](crate::Tracer::otlp) starts it.
///
/// Build it in code, or from the standard variables with [`from_env`](Self::from_env) (and
/// adjust it in code after). The defaults are the OpenTelemetry SDKs': protobuf bodies, gzip,
/// a 10 s timeout per request, batches of up to 512 spans sent at least every second.
///
/// ```
/// use std::time::Duration;
/// use tracekit::{OtlpConfig, Protocol};
///
/// let config = OtlpConfig::new("https://collector.example.com:4318")
///     .header("x-api-key", "secret")
///     .service_name("weather-agent")
///     .resource_attribute("deployment.environment", "prod")
///     .protocol(Protocol::HttpJson)
///     .timeout(Duration::from_secs(5));
/// assert_eq!(config.endpoint(), "https://collector.example.com:4318/v1/traces");
/// // Header values carry API keys: they never show.
/// assert!(!format!("{config:?}").contains("secret"));
/// ```
#[derive(Clone)]
#[must_use = "a configuration does nothing until it is given to `Tracer::otlp`"]
pub struct OtlpConfig {
    pub(super) endpoint: String,
    pub(super) protocol: Protocol,
    pub(super) compression: Compression,
    pub(super) headers: Vec<(String, String)>,
    pub(super) timeout: Duration,
    pub(super) resource: Vec<(Key, Value)>,
    pub(super) batch: BatchConfig,
    pub(super) retry: RetryPolicy,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) platform_roots: bool,
    pub(super) disabled: bool,
    pub(super) spool: Option<crate::stores::Spool>,
}

/// The body format (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// `http/protobuf`: binary protobuf (the default).
    #[default]
    HttpProtobuf,
    /// `http/json`: the OTLP JSON encoding (ids as hex, integers as strings).
    HttpJson,
}

/// Request body compression (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// `gzip` (the default).
    #[default]
    Gzip,
    /// `none`.
    None,
}

/// How a batch that could not be delivered is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RetryPolicy {
    pub(super) first_wait: Duration,
    pub(super) max_wait: Duration,
}

const DEFAULT_BASE: &str = "http://localhost:4318";
const TRACES_PATH: &str = "/v1/traces";

crate::batch::batch_settings!(OtlpConfig);
crate::stores::spool_setting!(OtlpConfig);

impl OtlpConfig {
    /// Sends to the collector at base URL `endpoint` (`http://` or `https://`); `/v1/traces`
    /// is appended, as for `OTEL_EXPORTER_OTLP_ENDPOINT`. Use
    /// [`traces_endpoint`](Self::traces_endpoint) for a full URL.
    pub fn new(endpoint: impl AsRef<str>) -> Self {
        OtlpConfig {
            endpoint: with_traces_path(endpoint.as_ref()),
            protocol: Protocol::HttpProtobuf,
            compression: Compression::Gzip,
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            resource: Vec::new(),
            batch: BatchConfig::with(16_384, 512, Duration::from_secs(1)),
            // How long to retry in all is the batch's `retry_for`.
            retry: RetryPolicy {
                first_wait: Duration::from_millis(200),
                max_wait: Duration::from_secs(10),
            },
            ca_file: None,
            platform_roots: false,
            disabled: false,
            spool: None,
        }
    }

    /// The configuration the standard variables give, over the defaults of
    /// [`new`](Self::new)`("http://localhost:4318")`:
    ///
    /// | variable | meaning |
    /// | --- | --- |
    /// | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | the full URL spans are sent to |
    /// | `OTEL_EXPORTER_OTLP_ENDPOINT` | a base URL; `/v1/traces` is appended |
    /// | `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS` | `key=value,...`, values percent-encoded |
    /// | `OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT` | per request, in milliseconds |
    /// | `OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION` | `gzip` or `none` |
    /// | `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` | `http/protobuf` or `http/json` |
    /// | `OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE` | a PEM file of CA certificates to trust |
    /// | `OTEL_SERVICE_NAME` | `service.name` (over the one in `OTEL_RESOURCE_ATTRIBUTES`) |
    /// | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,...`, values percent-encoded |
    /// | `OTEL_SDK_DISABLED` | `true`: [`Tracer::otlp`](crate::Tracer::otlp) gives a no-op tracer |
    ///
    /// The `TRACES_` variants win over the general ones. An empty variable counts as unset.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the variable and its value (header values shown as `***`) for
    /// a URL that is not `http(s)://host...`, a timeout that is not a whole number of
    /// milliseconds, an unknown compression or protocol (`grpc` is not supported: use
    /// `http/protobuf` and port 4318), a malformed `key=value` list, or a boolean that is
    /// neither `true` nor `false`.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables from `lookup` instead of the process
    /// environment (for tests, and for configuration kept elsewhere).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracekit::{OtlpConfig, Protocol};
    ///
    /// let vars = HashMap::from([
    ///     ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:6006"),
    ///     ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
    /// ]);
    /// let config = OtlpConfig::from_vars(|name| vars.get(name).map(|v| v.to_string()))?;
    /// assert_eq!(config.endpoint(), "http://127.0.0.1:6006/v1/traces");
    /// assert_eq!(config.get_protocol(), Protocol::HttpJson);
    ///
    /// let bad = OtlpConfig::from_vars(|name| {
    ///     (name == "OTEL_EXPORTER_OTLP_TIMEOUT").then(|| "10s".to_string())
    /// });
    /// assert!(bad.unwrap_err().to_string().contains("OTEL_EXPORTER_OTLP_TIMEOUT"));
    /// # Ok::<(), tracekit::Error>(())
    /// ```
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (name, v))
        };
        // The signal's own variable wins over the general one.
        let either =
            |general: &'static str, traces: &'static str| get(traces).or_else(|| get(general));
        let mut config = OtlpConfig::new(DEFAULT_BASE);
        // The batch span processor's variables, over this exporter's own defaults.
        let bsp: Vec<(&str, String)> = [
            "OTEL_BSP_MAX_QUEUE_SIZE",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            "OTEL_BSP_SCHEDULE_DELAY",
        ]
        .into_iter()
        .filter_map(get)
        .collect();
        if !bsp.is_empty() {
            let batch = config
                .batch
                .clone()
                .overridden_by(bsp.iter().map(|(k, v)| (*k, v.as_str())))?;
            config = config.batch(batch);
        }
        if let Some((name, url)) = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            config.endpoint = checked_url(name, url.trim())?.to_owned();
        } else if let Some((name, url)) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            config.endpoint = with_traces_path(checked_url(name, url.trim())?);
        }
        if let Some((name, list)) = either(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ) {
            config.headers = key_values(name, &list, true)?;
        }
        if let Some((name, ms)) = either(
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        ) {
            let ms: u64 = ms.trim().parse().map_err(|_| {
                invalid(
                    name,
                    &ms,
                    "expected a whole number of milliseconds, such as 10000",
                )
            })?;
            config.timeout = Duration::from_millis(ms);
        }
        if let Some((name, value)) = either(
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        ) {
            config.compression = match value.trim() {
                "gzip" => Compression::Gzip,
                "none" => Compression::None,
                _ => return Err(invalid(name, &value, "expected `gzip` or `none`")),
            };
        }
        if let Some((name, value)) = either(
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        ) {
            config.protocol = match value.trim() {
                "http/protobuf" => Protocol::HttpProtobuf,
                "http/json" => Protocol::HttpJson,
                "grpc" => {
                    return Err(invalid(
                        name,
                        &value,
                        "gRPC is not supported: use `http/protobuf` (most collectors take it on port 4318)",
                    ))
                }
                _ => return Err(invalid(name, &value, "expected `http/protobuf` or `http/json`")),
            };
        }
        if let Some((_, path)) = either(
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        ) {
            config.ca_file = Some(PathBuf::from(path.trim()));
        }
        if let Some((name, list)) = get("OTEL_RESOURCE_ATTRIBUTES") {
            for (key, value) in key_values(name, &list, false)? {
                config = config.resource_attribute(key, value);
            }
        }
        if let Some((_, service)) = get("OTEL_SERVICE_NAME") {
            config = config.service_name(service.trim());
        }
        if let Some((name, value)) = get("OTEL_SDK_DISABLED") {
            config.disabled = match value.trim().to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(invalid(name, &value, "expected `true` or `false`")),
            };
        }
        Ok(config)
    }

    /// Sends to exactly this URL (no path appended), as `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`.
    pub fn traces_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = url.into();
        self
    }

    /// Adds a header to every request (an API key, say). Its value never appears in errors
    /// or `Debug` output.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Protobuf (the default) or JSON bodies.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Gzip (the default) or uncompressed bodies.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// The longest one request may take, connecting included (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `service.name` in the resource every span is sent with.
    pub fn service_name(self, name: impl Into<String>) -> Self {
        self.resource_attribute("service.name", name.into())
    }

    /// A resource attribute (`deployment.environment`, `service.version`,
    /// `openinference.project.name`, ...); a later value for a key replaces the earlier one.
    /// Resource attributes set on the tracer itself win over these.
    pub fn resource_attribute(mut self, key: impl Into<Key>, value: impl Into<Value>) -> Self {
        let (key, value) = (key.into(), value.into());
        match self.resource.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.resource.push((key, value)),
        }
        self
    }

    /// The old name of [`max_export_batch_size`](Self::max_export_batch_size): at most this
    /// many spans per request.
    #[deprecated(
        since = "0.1.0",
        note = "use `max_export_batch_size` (BatchConfig's name)"
    )]
    pub fn batch_size(self, spans: usize) -> Self {
        self.max_export_batch_size(spans)
    }

    /// The old name of [`scheduled_delay`](Self::scheduled_delay).
    #[deprecated(since = "0.1.0", note = "use `scheduled_delay` (BatchConfig's name)")]
    pub fn batch_delay(self, delay: Duration) -> Self {
        self.scheduled_delay(delay)
    }

    /// Trusts the CA certificates in this PEM file (a collector with a self-signed
    /// certificate), instead of the bundled Mozilla roots.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Trusts the operating system's certificate store instead of the bundled Mozilla roots.
    pub fn platform_roots(mut self, yes: bool) -> Self {
        self.platform_roots = yes;
        self
    }

    /// Whether [`Tracer::otlp`](crate::Tracer::otlp) gives a no-op tracer
    /// (`OTEL_SDK_DISABLED=true`).
    pub fn disabled(mut self, yes: bool) -> Self {
        self.disabled = yes;
        self
    }

    /// The URL spans are sent to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The body format.
    pub fn get_protocol(&self) -> Protocol {
        self.protocol
    }

    /// Checks what [`from_vars`](Self::from_vars) cannot have checked: a URL given in code.
    pub(super) fn validate(&self) -> Result<(), Error> {
        checked_url("OtlpConfig endpoint", &self.endpoint).map(|_| ())
    }
}

impl fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(k, _)| format!("{k}: ***"))
            .collect();
        f.debug_struct("OtlpConfig")
            .field("endpoint", &without_userinfo(&self.endpoint))
            .field("protocol", &self.protocol)
            .field("compression", &self.compression)
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .field("resource", &self.resource)
            .field("batch", &self.batch)
            .field("retry", &self.retry)
            .field("ca_file", &self.ca_file)
            .field("platform_roots", &self.platform_roots)
            .field("disabled", &self.disabled)
            .field("spool", &self.spool)
            .finish()
    }
}

fn with_traces_path(base: &str) -> String {
    format!("{}{TRACES_PATH}", base.trim().trim_end_matches('/'))
}

fn invalid(setting: &'static str, value: &str, problem: &str) -> Error {
    Error::Config {
        setting,
        value: value.chars().take(200).collect(),
        problem: problem.to_owned(),
    }
}

/// `url` if it is `http(s)://` with a host.
fn checked_url<'a>(setting: &'static str, url: &'a str) -> Result<&'a str, Error> {
    let problem = "expected an http:// or https:// URL with a host, such as http://localhost:4318";
    let bad = || invalid(setting, &without_userinfo(url), problem);
    let uri: Uri = url.parse().map_err(|_| bad())?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => Ok(url),
        _ => Err(bad()),
    }
}

/// `url` with any `user:password@` replaced by `***@`, for messages and `Debug`.
pub(super) fn without_userinfo(url: &str) -> std::borrow::Cow<'_, str> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..start], &url[start + at..]).into(),
        None => url.into(),
    }
}

/// `key=value,key=value` with percent-encoded values (the OpenTelemetry list format). With
/// `secret`, errors show keys only.
fn key_values(
    setting: &'static str,
    list: &str,
    secret: bool,
) -> Result<Vec<(String, String)>, Error> {
    let shown = || {
        if secret {
            list.split(',')
                .map(|m| {
                    m.split_once('=')
                        .map_or("***".to_owned(), |(k, _)| format!("{}=***", k.trim()))
                })
                .collect::<Vec<_>>()
                .join(",")
        } else {
            list.to_owned()
        }
    };
    list.split(',')
        .filter(|m| !m.trim().is_empty())
        .map(|member| {
            let (key, value) = member
                .split_once('=')
                .filter(|(k, _)| !k.trim().is_empty())
                .ok_or_else(|| {
                    invalid(
                        setting,
                        &shown(),
                        "expected `key=value` pairs separated by commas",
                    )
                })?;
            let value = crate::propagation::percent_decode(value.trim()).ok_or_else(|| {
                invalid(
                    setting,
                    &shown(),
                    "a value has a `%` not followed by two hex digits",
                )
            })?;
            Ok((key.trim().to_owned(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<OtlpConfig, Error> {
        OtlpConfig::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    fn problem(vars: &[(&str, &str)]) -> String {
        from(vars).unwrap_err().to_string()
    }

    #[test]
    fn batch_span_processor_variables_set_the_queue() {
        let c = from(&[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_SCHEDULE_DELAY", "250"),
        ])
        .unwrap();
        let defaults = OtlpConfig::new(DEFAULT_BASE);
        assert_eq!(c.batch.queue.capacity, 100);
        assert_eq!(c.batch.queue.linger, Duration::from_millis(250));
        // What they do not set keeps this exporter's default.
        assert_eq!(c.batch.queue.batch_size, defaults.batch.queue.batch_size);
        assert_eq!(c.batch.retry_for, defaults.batch.retry_for);
        assert!(problem(&[("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "lots")])
            .contains("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"));
    }

    #[test]
    fn defaults_are_the_sdks() {
        let c = from(&[]).unwrap();
        assert_eq!(c.endpoint(), "http://localhost:4318/v1/traces");
        assert_eq!(
            (c.protocol, c.compression),
            (Protocol::HttpProtobuf, Compression::Gzip)
        );
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(
            (c.batch.queue.batch_size, c.batch.queue.linger),
            (512, Duration::from_secs(1))
        );
        assert!(!c.disabled);
    }

    #[test]
    fn reads_every_variable() {
        let c = from(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318/"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "api-key=s%3Dcret, x-team = agents",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=from-resource,deployment.environment=prod%20eu",
            ),
            ("OTEL_SERVICE_NAME", "weather"),
            ("OTEL_SDK_DISABLED", "FALSE"),
        ])
        .unwrap();
        assert_eq!(c.endpoint(), "https://collector:4318/v1/traces");
        assert_eq!(
            c.headers,
            [
                ("api-key".into(), "s=cret".into()),
                ("x-team".into(), "agents".into())
            ]
        );
        assert_eq!(c.timeout, Duration::from_millis(2500));
        assert_eq!(
            (c.protocol, c.compression),
            (Protocol::HttpJson, Compression::None)
        );
        assert_eq!(
            c.resource,
            [
                (Key::from("service.name"), Value::from("weather")),
                (Key::from("deployment.environment"), Value::from("prod eu")),
            ]
        );
    }

    #[test]
    fn the_traces_variables_win() {
        let c = from(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://general:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://traces:9999/custom/path",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2000"),
        ])
        .unwrap();
        assert_eq!(c.endpoint(), "http://traces:9999/custom/path");
        assert_eq!(c.timeout, Duration::from_millis(2000));
    }

    #[test]
    fn disabled_and_empty_values() {
        assert!(from(&[("OTEL_SDK_DISABLED", "true")]).unwrap().disabled);
        let c = from(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "  "),
            ("OTEL_SDK_DISABLED", ""),
        ])
        .unwrap();
        assert_eq!(c.endpoint(), "http://localhost:4318/v1/traces");
        assert!(!c.disabled);
    }

    #[test]
    fn bad_values_name_the_variable_and_the_value() {
        for (var, value, says) in [
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "localhost:4318",
                "http:// or https://",
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "ftp://x/v1/traces",
                "http:// or https://",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s", "milliseconds"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd", "`gzip` or `none`"),
            (
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "grpc",
                "gRPC is not supported",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/xml", "http/protobuf"),
            ("OTEL_RESOURCE_ATTRIBUTES", "novalue", "key=value"),
            ("OTEL_RESOURCE_ATTRIBUTES", "k=%G0", "%"),
            ("OTEL_SDK_DISABLED", "yes", "`true` or `false`"),
        ] {
            let message = problem(&[(var, value)]);
            assert!(
                message.starts_with(&format!("{var}={value:?}")),
                "{message}"
            );
            assert!(message.contains(says), "{message}");
        }
    }

    #[test]
    fn header_values_never_show() {
        let message = problem(&[("OTEL_EXPORTER_OTLP_HEADERS", "api-key=sk-live-123,broken")]);
        assert!(!message.contains("sk-live-123"), "{message}");
        assert!(message.contains("api-key=***"), "{message}");
        let message = problem(&[("OTEL_EXPORTER_OTLP_HEADERS", "api-key=sk-live-123%zz")]);
        assert!(!message.contains("sk-live-123"), "{message}");
        let config = OtlpConfig::new("http://x").header("authorization", "Bearer sk-live-123");
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("sk-live-123") && debug.contains("authorization: ***"),
            "{debug}"
        );
    }

    #[test]
    fn arbitrary_values_never_panic() {
        // A cheap fuzz: every variable at once, with values built from the characters the
        // parsers split on.
        let alphabet: Vec<char> = "=,%:/ab1 \t\u{0}é".chars().collect();
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..5_000 {
            let value: String = (0..rng.usize(0..24))
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let _ = OtlpConfig::from_vars(|_| Some(value.clone()));
        }
    }

    #[test]
    fn a_bad_url_from_code_is_caught_when_the_tracer_starts() {
        let err = OtlpConfig::new("not a url").validate().unwrap_err();
        assert!(
            matches!(
                err,
                Error::Config {
                    setting: "OtlpConfig endpoint",
                    ..
                }
            ),
            "{err}"
        );
    }
}
