//! OTLP/HTTP: `POST /v1/traces` (and `GET /healthz`) on a small blocking server (tiny_http:
//! HTTP/1.1 with keep-alive, a thread per connection), handled by a few worker threads.

use std::io::Read;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tiny_http::{Header, Method, Request, Response, Server};

use super::{decode, Collector, ExportRequest, Format, Reply, DEFAULT_HTTP_ADDR};
use crate::Error;

/// Requests handled at once: each waits for the store to take its spans, and the writer
/// takes what several have queued in one transaction.
const WORKERS: usize = 4;

/// An OTLP/HTTP receiver from [`Collector::serve_http`]; stops when dropped (or with
/// [`stop`](Self::stop)), answering the requests it has begun.
#[derive(Debug)]
pub struct HttpReceiver {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl Collector {
    /// Listens for OTLP/HTTP on `addr` (port 0: any free one; see
    /// [`local_addr`](HttpReceiver::local_addr)): `POST /v1/traces` with protobuf or JSON,
    /// gzipped or not, over keep-alive connections, and `GET /healthz` with the counts as
    /// JSON. A receiver listening beyond the loopback interface should have a
    /// [token](Self::token).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `addr` is not an address, [`Error::Sink`] when it cannot be
    /// listened on (in use, not this machine's).
    pub fn serve_http(
        &self,
        addr: impl ToSocketAddrs + std::fmt::Debug,
    ) -> Result<HttpReceiver, Error> {
        let addr = super::socket_addr(addr, "the OTLP/HTTP receiver's address", DEFAULT_HTTP_ADDR)?;
        let server = Server::http(addr).map_err(|e| Error::Sink {
            sink: "ingest",
            operation: "listen for OTLP/HTTP",
            message: format!("{addr}: {e}"),
        })?;
        let addr = server.server_addr().to_ip().unwrap_or(addr);
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..WORKERS)
            .map(|i| {
                let (server, stop, collector) = (server.clone(), stop.clone(), self.clone());
                std::thread::Builder::new()
                    .name(format!("tracekit-otlp-http-{i}"))
                    .spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            match server.recv_timeout(Duration::from_millis(100)) {
                                Ok(Some(request)) => collector.answer(request),
                                Ok(None) => {}
                                Err(_) => break,
                            }
                        }
                    })
                    .map_err(|e| Error::Sink {
                        sink: "ingest",
                        operation: "start its threads",
                        message: e.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(HttpReceiver {
            addr,
            stop,
            workers,
        })
    }

    fn answer(&self, mut request: Request) {
        let header = |name: &'static str| {
            request
                .headers()
                .iter()
                .find(|h| h.field.equiv(name))
                .map(|h| h.value.as_str().to_owned())
        };
        let (content_type, encoding, authorization) = (
            header("Content-Type"),
            header("Content-Encoding"),
            header("Authorization"),
        );
        let format = Format::of(content_type.as_deref()).unwrap_or(Format::Protobuf);
        let path = request.url().split('?').next().unwrap_or("").to_owned();
        let reply = match (request.method(), path.as_str()) {
            (Method::Post, "/v1/traces") => {
                let limit = self.settings.limits.max_body_bytes;
                match read_body(&mut request, limit) {
                    Some(body) => {
                        let mut export = ExportRequest::new(&body);
                        export.content_type = content_type.as_deref();
                        export.content_encoding = encoding.as_deref();
                        export.authorization = authorization.as_deref();
                        self.export(export)
                    }
                    None => {
                        let refused = self.handle(authorization.as_deref(), || {
                            Err(decode::too_large("the body", limit))
                        });
                        let reply = Reply::of(format, refused);
                        // The rest of the body is not read: the connection cannot go on.
                        let _ = request.respond(response(reply, true));
                        return;
                    }
                }
            }
            (_, "/v1/traces") => plain(405, "send spans with POST /v1/traces"),
            (Method::Get | Method::Head, "/healthz" | "/") => {
                let body = serde_json::json!({
                    "status": "ok",
                    "collector": self.stats(),
                    "tracer": super::tracer_stats(&self.tracer),
                });
                Reply {
                    status: 200,
                    content_type: "application/json",
                    body: body.to_string().into_bytes(),
                    retry_after: None,
                }
            }
            _ => plain(
                404,
                "this is an OTLP receiver: POST /v1/traces, GET /healthz",
            ),
        };
        let _ = request.respond(response(reply, false));
    }
}

/// The body, unless it is longer than `limit` (without reading more of it than that).
fn read_body(request: &mut Request, limit: usize) -> Option<Vec<u8>> {
    if request.body_length().is_some_and(|n| n > limit) {
        return None;
    }
    let mut body = Vec::with_capacity(request.body_length().unwrap_or(0));
    request
        .as_reader()
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .ok()?;
    (body.len() <= limit).then_some(body)
}

fn plain(status: u16, message: &str) -> Reply {
    Reply {
        status,
        content_type: "application/json",
        body: serde_json::json!({ "error": message })
            .to_string()
            .into_bytes(),
        retry_after: None,
    }
}

fn response(reply: Reply, close: bool) -> Response<std::io::Cursor<Vec<u8>>> {
    let mut response = Response::from_data(reply.body)
        .with_status_code(reply.status)
        .with_chunked_threshold(usize::MAX);
    let mut add = |name: &str, value: &str| {
        if let Ok(h) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(h);
        }
    };
    add("Content-Type", reply.content_type);
    if let Some(seconds) = reply.retry_after {
        add("Retry-After", &seconds.to_string());
    }
    if close {
        add("Connection", "close");
    }
    response
}

impl HttpReceiver {
    /// Where it listens (the port chosen, when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening, once the requests begun are answered.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}
