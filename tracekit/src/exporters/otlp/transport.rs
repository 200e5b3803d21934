//! Delivering a request body: one POST, what its answer means, and retries.
//!
//! ureq is the client: a small blocking HTTP/1.1 client with rustls, keep-alive and
//! timeouts, which is all an exporter thread of its own needs (no async runtime to carry into
//! users' programs, as hyper or reqwest would bring).

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::Agent;

use super::config::{OtlpConfig, Protocol, RetryPolicy};
use super::encode::Body;
use crate::batch::Retries;
use crate::Error;

/// The most of a response body read (an error message, or a partial success).
const MAX_RESPONSE: u64 = 64 * 1024;

pub(super) struct Transport {
    agent: Agent,
    endpoint: String,
    /// The endpoint as messages show it (no `user:password@`).
    shown: String,
    headers: Vec<(String, String)>,
    protocol: Protocol,
    retry: RetryPolicy,
}

/// What one attempt came to.
#[derive(Debug, PartialEq)]
enum Attempt {
    /// The backend took the request; it may have rejected some spans (partial success).
    Accepted { rejected: u64, message: String },
    /// Worth another try (a connection error, 408, 429, 502, 503, 504), after the backend's
    /// `Retry-After` if it sent one.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Trying again cannot help (another 4xx or 5xx, a bad certificate).
    Fail(String),
}

impl Transport {
    pub(super) fn new(config: &OtlpConfig) -> Result<Transport, Error> {
        let roots = match &config.ca_file {
            Some(path) => {
                let setting = "OtlpConfig ca_file (OTEL_EXPORTER_OTLP_CERTIFICATE)";
                let shown = path.display().to_string();
                let pem = std::fs::read(path).map_err(|e| Error::Config {
                    setting,
                    value: shown.clone(),
                    problem: format!("cannot read it: {e}"),
                })?;
                let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
                    .filter_map(|item| match item {
                        Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                        _ => None,
                    })
                    .collect();
                if certs.is_empty() {
                    return Err(Error::Config {
                        setting,
                        value: shown,
                        problem: "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
                    });
                }
                RootCerts::new_with_certs(&certs)
            }
            None if config.platform_roots => RootCerts::PlatformVerifier,
            None => RootCerts::WebPki,
        };
        let agent = Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("tracekit/", env!("CARGO_PKG_VERSION")))
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build()
            .new_agent();
        Ok(Transport {
            agent,
            endpoint: config.endpoint.clone(),
            shown: super::config::without_userinfo(&config.endpoint).into_owned(),
            headers: config.headers.clone(),
            protocol: config.protocol,
            retry: config.retry,
        })
    }

    /// Delivers `body` (of `spans` spans), retrying as the policy says within the budget of
    /// `retries`; counts rejected spans of a partial success through it.
    pub(super) fn deliver(
        &self,
        body: &Body,
        spans: usize,
        retries: &Retries<'_>,
    ) -> Result<(), String> {
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            match self.attempt(body) {
                Attempt::Accepted { rejected, message } => {
                    if rejected > 0 {
                        let rejected = rejected.min(spans as u64);
                        retries.reject(
                            rejected,
                            &format_args!(
                                "the backend rejected {rejected} of {spans} spans: {message}"
                            ),
                        );
                    }
                    return Ok(());
                }
                Attempt::Fail(reason) => return Err(reason),
                Attempt::Retry { reason, after } => {
                    let wait = after.unwrap_or_else(|| self.retry.backoff(attempt));
                    let left = retries.budget().saturating_sub(started.elapsed());
                    if wait > left {
                        retries.note_gave_up();
                        return Err(format!(
                            "{reason}; gave up after {} tries in {:.1?}",
                            attempt + 1,
                            started.elapsed()
                        ));
                    }
                    if !retries.wait(wait) {
                        return Err(format!("{reason}; gave up at the shutdown deadline"));
                    }
                }
            }
            attempt += 1;
        }
    }

    fn attempt(&self, body: &Body) -> Attempt {
        let mut request = self
            .agent
            .post(&self.endpoint)
            .header("content-type", body.content_type);
        if body.gzip {
            request = request.header("content-encoding", "gzip");
        }
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        match request.send(&body.bytes[..]) {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                let bytes = response
                    .body_mut()
                    .with_config()
                    .limit(MAX_RESPONSE)
                    .read_to_vec()
                    .unwrap_or_default();
                classify(status, retry_after, &bytes, self.protocol)
            }
            Err(e) => match e {
                // rustls reports a certificate it does not trust as invalid data: trying again
                // cannot help.
                ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
                    Attempt::Fail(format!("cannot send to {}: {io}", self.shown))
                }
                ureq::Error::Io(_)
                | ureq::Error::Timeout(_)
                | ureq::Error::HostNotFound
                | ureq::Error::ConnectionFailed
                | ureq::Error::Protocol(_)
                | ureq::Error::BodyStalled => Attempt::Retry {
                    reason: format!("cannot reach {}: {e}", self.shown),
                    after: None,
                },
                other => Attempt::Fail(format!("cannot send to {}: {other}", self.shown)),
            },
        }
    }
}

impl RetryPolicy {
    /// Full jitter: a random wait up to `first_wait × 2^attempt`, capped at `max_wait`.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .first_wait
            .saturating_mul(1 << attempt.min(16))
            .min(self.max_wait);
        ceiling.mul_f64(fastrand::f64())
    }
}

fn classify(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    protocol: Protocol,
) -> Attempt {
    match status {
        200..=299 => {
            let (rejected, message) = match protocol {
                Protocol::HttpProtobuf => ExportTraceServiceResponse::decode(body)
                    .ok()
                    .and_then(|r| r.partial_success)
                    .map(|p| (p.rejected_spans, p.error_message)),
                Protocol::HttpJson => json_partial_success(body),
            }
            .unwrap_or_default();
            Attempt::Accepted {
                rejected: u64::try_from(rejected).unwrap_or(0),
                message,
            }
        }
        408 | 429 | 502 | 503 | 504 => Attempt::Retry {
            reason: format!("HTTP {status}{}", excerpt(body)),
            after: retry_after,
        },
        _ => Attempt::Fail(format!("HTTP {status}{}", excerpt(body))),
    }
}

/// `partialSuccess` of a JSON answer; proto3's JSON form writes the 64-bit count as a
/// string or a number.
fn json_partial_success(body: &[u8]) -> Option<(i64, String)> {
    let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    let partial = answer.get("partialSuccess")?;
    let rejected = match partial.get("rejectedSpans") {
        Some(serde_json::Value::String(s)) => s.parse().ok()?,
        Some(n) => n.as_i64()?,
        None => 0,
    };
    let message = partial
        .get("errorMessage")
        .and_then(|m| m.as_str())
        .unwrap_or_default();
    Some((rejected, message.to_owned()))
}

/// The start of an error body, for the failure log (a status message from a protobuf body
/// shows as its printable text).
fn excerpt(body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if text.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", text.trim())
    }
}

/// `Retry-After`: delay-seconds, or an HTTP date (a date in the past means now).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let wait = at - time::OffsetDateTime::now_utc();
    Some(wait.try_into().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_only_what_may_succeed_later() {
        for status in [408, 429, 502, 503, 504] {
            assert!(
                matches!(
                    classify(status, None, b"", Protocol::HttpProtobuf),
                    Attempt::Retry { .. }
                ),
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 413, 415, 500, 501] {
            assert!(
                matches!(
                    classify(status, None, b"", Protocol::HttpProtobuf),
                    Attempt::Fail(_)
                ),
                "{status}"
            );
        }
        assert_eq!(
            classify(
                429,
                Some(Duration::from_secs(3)),
                b"slow down",
                Protocol::HttpJson
            ),
            Attempt::Retry {
                reason: "HTTP 429: slow down".into(),
                after: Some(Duration::from_secs(3))
            }
        );
    }

    #[test]
    fn partial_success_is_read_in_both_encodings() {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
        let response = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "too old".into(),
            }),
        };
        let expected = Attempt::Accepted {
            rejected: 3,
            message: "too old".into(),
        };
        assert_eq!(
            classify(200, None, &response.encode_to_vec(), Protocol::HttpProtobuf),
            expected
        );
        let json = br#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"too old"}}"#;
        assert_eq!(classify(200, None, json, Protocol::HttpJson), expected);
        assert_eq!(
            classify(200, None, b"", Protocol::HttpProtobuf),
            Attempt::Accepted {
                rejected: 0,
                message: String::new()
            }
        );
    }

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(30);
        let text = soon
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap();
        let wait = parse_retry_after(&text).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn backoff_grows_with_full_jitter_and_a_cap() {
        let policy = RetryPolicy {
            first_wait: Duration::from_millis(100),
            max_wait: Duration::from_secs(1),
        };
        for attempt in 0..40 {
            let ceiling =
                Duration::from_millis(100 * (1u64 << attempt.min(16))).min(Duration::from_secs(1));
            assert!(policy.backoff(attempt) <= ceiling);
        }
    }
}
