//! OTLP/gRPC: opentelemetry-proto's generated `TraceService` on tonic's server, on a tokio
//! runtime of the receiver's own; each export is handled on a blocking thread, as it waits
//! for the store.

use std::net::{SocketAddr, ToSocketAddrs};
use std::thread::JoinHandle;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;

use super::{Collector, RefusalKind, DEFAULT_GRPC_ADDR};
use crate::Error;

/// An OTLP/gRPC receiver from [`Collector::serve_grpc`]; stops when dropped (or with
/// [`stop`](Self::stop)).
#[derive(Debug)]
pub struct GrpcReceiver {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    /// Listens for OTLP/gRPC on `addr` (the standard port is 4317, the default of Python's
    /// and Java's exporters): `TraceService/Export`, gzip or not. Refusals are gRPC codes:
    /// `UNAUTHENTICATED`, `INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED` (over a limit) and
    /// `UNAVAILABLE` (a full queue or a failing store; SDKs retry it).
    ///
    /// # Errors
    ///
    /// As [`serve_http`](Self::serve_http).
    pub fn serve_grpc(
        &self,
        addr: impl ToSocketAddrs + std::fmt::Debug,
    ) -> Result<GrpcReceiver, Error> {
        let addr = super::socket_addr(addr, "the OTLP/gRPC receiver's address", DEFAULT_GRPC_ADDR)?;
        let failed = |operation: &'static str, e: &dyn std::fmt::Display| Error::Sink {
            sink: "ingest",
            operation,
            message: format!("{addr}: {e}"),
        };
        let listener =
            std::net::TcpListener::bind(addr).map_err(|e| failed("listen for OTLP/gRPC", &e))?;
        let addr = listener.local_addr().unwrap_or(addr);
        listener
            .set_nonblocking(true)
            .map_err(|e| failed("listen for OTLP/gRPC", &e))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tracekit-otlp-grpc")
            .enable_all()
            .build()
            .map_err(|e| failed("start its runtime", &e))?;
        let limits = self.settings.limits;
        let service = TraceServiceServer::new(Service(self.clone()))
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(limits.max_decompressed_bytes);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tracekit-otlp-grpc".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let incoming = tonic::transport::server::TcpIncoming::from(listener);
                    // One service, no router: the service answers other paths itself.
                    let _ = tonic::transport::Server::builder()
                        .serve_with_incoming_shutdown(service, incoming, async {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })
            .map_err(|e| failed("start its thread", &e))?;
        Ok(GrpcReceiver {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

struct Service(Collector);

#[tonic::async_trait]
impl TraceService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let collector = self.0.clone();
        let authorization = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let message = request.into_inner();
        let taken = tokio::task::spawn_blocking(move || {
            collector.handle(authorization.as_deref(), || Ok(message))
        })
        .await
        .map_err(|e| tonic::Status::internal(format!("the export failed: {e}")))?;
        match taken {
            Ok(answer) => Ok(tonic::Response::new(answer.response())),
            Err(refusal) => {
                let code = match refusal.kind {
                    RefusalKind::Unauthorized => tonic::Code::Unauthenticated,
                    RefusalKind::Malformed | RefusalKind::Unsupported => {
                        tonic::Code::InvalidArgument
                    }
                    RefusalKind::TooLarge => tonic::Code::ResourceExhausted,
                    RefusalKind::Busy { .. } => tonic::Code::Unavailable,
                };
                Err(tonic::Status::new(code, refusal.message))
            }
        }
    }
}

impl GrpcReceiver {
    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening, once the exports begun are answered.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for GrpcReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
