//! Where propagation headers are written and read: a `HashMap<String, String>`, and
//! `http::HeaderMap` with the `http` feature.

use std::collections::HashMap;
use std::hash::BuildHasher;

/// Somewhere [`inject`](super::inject) writes headers (an outgoing request's).
///
/// Implement it for another client's header type:
///
/// ```
/// use tracekit::propagation::{inject, Injector};
///
/// struct Headers(Vec<(String, String)>);
/// impl Injector for Headers {
///     fn set(&mut self, name: &'static str, value: String) {
///         self.0.retain(|(k, _)| k != name);
///         self.0.push((name.to_owned(), value));
///     }
/// }
///
/// let tracer = tracekit::Tracer::in_memory(1);
/// let span = tracer.trace("call");
/// let mut headers = Headers(Vec::new());
/// inject(&span, &mut headers);
/// assert_eq!(headers.0[0].0, "traceparent");
/// ```
pub trait Injector {
    /// Sets header `name` (lowercase) to `value`, replacing what it held.
    fn set(&mut self, name: &'static str, value: String);
}

/// Somewhere [`extract`](super::extract) reads headers from (an incoming request's).
///
/// ```
/// use tracekit::propagation::{extract, Extractor};
///
/// struct Headers(Vec<(String, String)>);
/// impl Extractor for Headers {
///     fn get_all<'a>(&'a self, name: &str) -> Box<dyn Iterator<Item = &'a str> + 'a> {
///         let name = name.to_owned();
///         Box::new(self.0.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(&name)).map(|(_, v)| v.as_str()))
///     }
/// }
///
/// let headers = Headers(vec![(
///     "Traceparent".into(),
///     "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
/// )]);
/// assert!(extract(&headers).is_some());
/// ```
pub trait Extractor {
    /// Every value of header `name` (given in lowercase; matched without regard to case), in
    /// order.
    fn get_all<'a>(&'a self, name: &str) -> Box<dyn Iterator<Item = &'a str> + 'a>;
}

impl<S: BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, name: &'static str, value: String) {
        self.insert(name.to_owned(), value);
    }
}

/// A map holds one value per key; keys that differ only in case are separate values of one
/// header, as in HTTP.
impl<S: BuildHasher> Extractor for HashMap<String, String, S> {
    fn get_all<'a>(&'a self, name: &str) -> Box<dyn Iterator<Item = &'a str> + 'a> {
        let name = name.to_owned();
        Box::new(
            self.iter()
                .filter(move |(k, _)| k.eq_ignore_ascii_case(&name))
                .map(|(_, v)| v.as_str()),
        )
    }
}

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl Injector for http::HeaderMap {
    fn set(&mut self, name: &'static str, value: String) {
        // What inject writes is visible ASCII, always a valid header value.
        if let Ok(value) = http::HeaderValue::try_from(value) {
            self.insert(name, value);
        }
    }
}

/// Values that are not visible ASCII are not valid header values for these headers, and
/// are skipped.
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl Extractor for http::HeaderMap {
    fn get_all<'a>(&'a self, name: &str) -> Box<dyn Iterator<Item = &'a str> + 'a> {
        Box::new(
            http::HeaderMap::get_all(self, name)
                .into_iter()
                .filter_map(|v| v.to_str().ok()),
        )
    }
}
