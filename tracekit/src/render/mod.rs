//! Renderings of spans: for people ([`tree`], [`timeline`], the reference's human-readable
//! format) and for other tools ([`to_json`], [`to_jaeger_json`]).
//!
//! [`Trace::as_human_readable`](crate::Trace::as_human_readable) reproduces the reference's
//! `Trace.as_human_readable()` byte for byte
//! (colours, layout, truncation, the `ai.trace.type`-specific detail lines), with one
//! deliberate difference: control characters from span names and attribute values are escaped
//! (`\x1b`, `\r`, ...) so recorded data cannot move the cursor, recolour or clear a terminal.

mod json;
mod label;
mod timeline;
mod tree;

pub use crate::format::RenderOptions;
pub use json::{to_jaeger_json, to_json};
pub use timeline::{timeline, timeline_colored};
pub use tree::tree;
