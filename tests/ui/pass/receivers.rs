//! Every receiver kind and tracer field type.
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use tracekit::{traced, Tracer};

struct Owned {
    tracer: Tracer,
}

impl Owned {
    #[traced]
    fn by_ref(&self) {}
    #[traced]
    fn by_mut(&mut self) {}
    #[traced]
    fn by_value(self) {}
    #[traced]
    fn by_arc(self: Arc<Self>) {}
    #[traced]
    fn by_rc(self: Rc<Self>) {}
    #[traced]
    fn by_box(self: Box<Self>) {}
    #[traced]
    fn by_pin(self: Pin<&mut Self>) {}
    #[traced]
    async fn async_by_mut(&mut self) {}
    #[traced]
    async fn async_by_value(self) {}
}

struct Borrowed<'a> {
    tracer: &'a Tracer,
}

impl Borrowed<'_> {
    #[traced]
    fn by_ref(&self) {}
}

struct Shared {
    tracer: Arc<Tracer>,
}

impl Shared {
    #[traced]
    fn by_ref(&self) {}
}

struct Boxed {
    tracer: Box<Tracer>,
}

impl Boxed {
    #[traced]
    fn by_ref(&self) {}
}

fn main() {
    let mut o = Owned { tracer: Tracer::noop() };
    o.by_ref();
    o.by_mut();
    Pin::new(&mut o).by_pin();
    let _ = o.async_by_mut();
    o.by_value();
    Arc::new(Owned { tracer: Tracer::noop() }).by_arc();
    Rc::new(Owned { tracer: Tracer::noop() }).by_rc();
    Box::new(Owned { tracer: Tracer::noop() }).by_box();
    let _ = Owned { tracer: Tracer::noop() }.async_by_value();
    let t = Tracer::noop();
    Borrowed { tracer: &t }.by_ref();
    Shared { tracer: Arc::new(Tracer::noop()) }.by_ref();
    Boxed { tracer: Box::new(Tracer::noop()) }.by_ref();
}
