//! A local OTLP/HTTP endpoint for tests and benchmarks: plain std sockets, HTTP/1.1 with
//! keep-alive, and a script of misbehaviours (reset, hang, error statuses) to play in order
//! before it accepts normally.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the endpoint does with one request.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// 200 with an empty protobuf answer.
    Accept,
    /// 200 with a partial success rejecting this many spans.
    Partial(i64, &'static str),
    /// This status, with these extra headers.
    Status(u16, Vec<(&'static str, String)>),
    /// Reads a little of the request, then closes the connection with data unread (the
    /// client sees a reset).
    Reset,
    /// Reads the request and answers nothing for this long.
    Hang(Duration),
}

/// One request as received (the body gunzipped if it came compressed).
#[derive(Clone, Debug)]
pub struct Request {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub compressed_len: usize,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Receiver {
    pub addr: SocketAddr,
    script: Arc<Mutex<VecDeque<Behaviour>>>,
    requests: Arc<Mutex<Vec<Request>>>,
    /// When set, bodies are counted but not kept (benchmarks).
    discard: bool,
    pub spans_bytes: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    /// Listens on a free port of 127.0.0.1.
    pub fn start() -> Receiver {
        Receiver::on(TcpListener::bind("127.0.0.1:0").unwrap(), false)
    }

    /// Listens on `port` (for an endpoint that comes back where it was).
    pub fn start_on(port: u16) -> Receiver {
        Receiver::on(TcpListener::bind(("127.0.0.1", port)).unwrap(), false)
    }

    /// Accepts everything and keeps nothing but byte counts.
    pub fn discarding() -> Receiver {
        Receiver::on(TcpListener::bind("127.0.0.1:0").unwrap(), true)
    }

    fn on(listener: TcpListener, discard: bool) -> Receiver {
        let receiver = Receiver {
            addr: listener.local_addr().unwrap(),
            script: Arc::default(),
            requests: Arc::default(),
            discard,
            spans_bytes: Arc::default(),
            stop: Arc::default(),
        };
        let (script, requests, bytes, stop) = (
            receiver.script.clone(),
            receiver.requests.clone(),
            receiver.spans_bytes.clone(),
            receiver.stop.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (script, requests, bytes) = (script.clone(), requests.clone(), bytes.clone());
                std::thread::spawn(move || serve(stream, &script, &requests, &bytes, discard));
            }
        });
        receiver
    }

    /// The base URL (`OtlpConfig::new` appends `/v1/traces`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Plays `behaviours` in order on the next requests, then accepts again.
    pub fn script(&self, behaviours: impl IntoIterator<Item = Behaviour>) {
        self.script.lock().unwrap().extend(behaviours);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(
    stream: TcpStream,
    script: &Mutex<VecDeque<Behaviour>>,
    requests: &Mutex<Vec<Request>>,
    bytes: &AtomicU64,
    discard: bool,
) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut headers = Vec::new();
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        // Taken when a request starts, so a kept-alive connection plays the script too.
        let behaviour = script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Behaviour::Accept);
        if let Behaviour::Reset = behaviour {
            // The rest of the request is left unread, which makes the close a reset.
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        bytes.fetch_add(len as u64, Ordering::Relaxed);
        if !discard {
            let gzip = headers
                .iter()
                .any(|(k, v)| k == "content-encoding" && v == "gzip");
            let plain = if gzip {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&body[..])
                    .read_to_end(&mut out)
                    .unwrap();
                out
            } else {
                body.clone()
            };
            requests.lock().unwrap().push(Request {
                headers,
                body: plain,
                compressed_len: len,
            });
        }
        let (status, extra, answer): (u16, Vec<(&str, String)>, Vec<u8>) = match behaviour {
            Behaviour::Accept => (200, vec![], vec![]),
            Behaviour::Partial(rejected, message) => (200, vec![], partial(rejected, message)),
            Behaviour::Status(status, extra) => (status, extra, b"scripted failure".to_vec()),
            Behaviour::Hang(d) => {
                std::thread::sleep(d);
                return;
            }
            Behaviour::Reset => unreachable!(),
        };
        let mut head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n",
            answer.len()
        );
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&answer).is_err() {
            return;
        }
    }
}

/// An `ExportTraceServiceResponse` with a partial success, encoded by hand (field 1, a
/// message of field 1 varint and field 2 string).
fn partial(rejected: i64, message: &str) -> Vec<u8> {
    let mut inner = vec![0x08];
    let mut v = rejected as u64;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            inner.push(byte);
            break;
        }
        inner.push(byte | 0x80);
    }
    inner.push(0x12);
    inner.push(message.len() as u8);
    inner.extend_from_slice(message.as_bytes());
    let mut out = vec![0x0a, inner.len() as u8];
    out.extend(inner);
    out
}
