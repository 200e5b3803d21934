//! Request bodies in (protobuf or JSON, gzipped or not, within the limits) and answers out.

use std::io::Read;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use super::{json, Limits, Refusal, RefusalKind};

/// How an OTLP/HTTP body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `application/x-protobuf` (also taken as `application/protobuf`).
    Protobuf,
    /// `application/json`: the OTLP/JSON mapping.
    Json,
}

impl Format {
    /// The format a `Content-Type` names (parameters such as `charset` ignored); `None` for
    /// any other.
    ///
    /// ```
    /// use tracekit::ingest::Format;
    /// assert_eq!(Format::of(Some("application/json; charset=utf-8")), Some(Format::Json));
    /// assert_eq!(Format::of(Some("application/x-protobuf")), Some(Format::Protobuf));
    /// assert_eq!(Format::of(Some("text/plain")), None);
    /// ```
    pub fn of(content_type: Option<&str>) -> Option<Format> {
        let media = content_type?.split(';').next()?.trim();
        if media.eq_ignore_ascii_case("application/x-protobuf")
            || media.eq_ignore_ascii_case("application/protobuf")
        {
            Some(Format::Protobuf)
        } else if media.eq_ignore_ascii_case("application/json") {
            Some(Format::Json)
        } else {
            None
        }
    }

    pub(super) fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/x-protobuf",
            Format::Json => "application/json",
        }
    }

    pub(super) fn encode_response(self, response: &ExportTraceServiceResponse) -> Vec<u8> {
        match self {
            Format::Protobuf => response.encode_to_vec(),
            Format::Json => {
                let body = match &response.partial_success {
                    Some(p) => serde_json::json!({"partialSuccess": {
                        "rejectedSpans": p.rejected_spans.to_string(),
                        "errorMessage": p.error_message,
                    }}),
                    None => serde_json::json!({}),
                };
                body.to_string().into_bytes()
            }
        }
    }

    /// A `google.rpc.Status`, the body OTLP gives every error answer.
    pub(super) fn encode_status(self, code: i32, message: &str) -> Vec<u8> {
        match self {
            Format::Protobuf => RpcStatus {
                code,
                message: message.to_owned(),
            }
            .encode_to_vec(),
            Format::Json => serde_json::json!({"code": code, "message": message})
                .to_string()
                .into_bytes(),
        }
    }
}

/// `google.rpc.Status` without its details.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// The request in `body`, encoded as `content_type` and `content_encoding` say, within
/// `limits`.
pub(super) fn request(
    body: &[u8],
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    limits: &Limits,
) -> Result<ExportTraceServiceRequest, Refusal> {
    let Some(format) = Format::of(content_type) else {
        return Err(Refusal::new(
            RefusalKind::Unsupported,
            format!(
                "Content-Type {:?}: send application/x-protobuf or application/json",
                content_type.unwrap_or("")
            ),
        ));
    };
    if body.len() > limits.max_body_bytes {
        return Err(too_large("the body", limits.max_body_bytes));
    }
    let inflated;
    let plain = match content_encoding.map(str::trim).filter(|e| !e.is_empty()) {
        None => body,
        Some(e) if e.eq_ignore_ascii_case("identity") => body,
        Some(e) if e.eq_ignore_ascii_case("gzip") => {
            inflated = gunzip(body, limits.max_decompressed_bytes)?;
            &inflated
        }
        Some(other) => {
            return Err(Refusal::new(
                RefusalKind::Unsupported,
                format!("Content-Encoding {other:?}: send gzip or no encoding"),
            ))
        }
    };
    parse(plain, format).map_err(|problem| Refusal::new(RefusalKind::Malformed, problem))
}

/// A body already read and inflated, as a request.
pub(super) fn parse(body: &[u8], format: Format) -> Result<ExportTraceServiceRequest, String> {
    match format {
        Format::Protobuf => ExportTraceServiceRequest::decode(body)
            .map_err(|e| format!("the body is not an OTLP ExportTraceServiceRequest: {e}")),
        Format::Json => json::request(body),
    }
}

/// Inflates `body`, stopping past `limit` bytes: a small body that inflates to gigabytes
/// costs only the limit.
fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    flate2::read::GzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            Refusal::new(
                RefusalKind::Malformed,
                format!("the body is not valid gzip: {e}"),
            )
        })?;
    if out.len() > limit {
        return Err(too_large("the inflated body", limit));
    }
    Ok(out)
}

/// Refuses `what` for being over `limit` bytes.
pub(super) fn too_large(what: &str, limit: usize) -> Refusal {
    Refusal::new(
        RefusalKind::TooLarge,
        format!("{what} is over this collector's limit of {limit} bytes: send smaller batches"),
    )
}
