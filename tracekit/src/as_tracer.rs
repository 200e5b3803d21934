//! [`AsTracer`]: what `#[traced]` accepts as a tracer.

use std::rc::Rc;
use std::sync::Arc;

use crate::Tracer;

/// Something that holds a [`Tracer`]: `Tracer` itself, references to it, and `Arc`/`Rc`/`Box`
/// of it. `#[traced]` reads `self.tracer` (or `tracer = <expr>`) through this trait, so the
/// field can be any of these.
///
/// ```
/// use std::sync::Arc;
/// use tracekit::{AsTracer, Tracer};
/// fn name_of(t: &impl AsTracer) -> &'static str {
///     t.as_tracer().sink_name()
/// }
/// assert_eq!(name_of(&Arc::new(Tracer::in_memory(1))), "in_memory");
/// assert_eq!(name_of(&&Tracer::noop()), "noop");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a tracekit tracer",
    label = "expected a `Tracer`, `&Tracer`, `Arc<Tracer>` or `Box<Tracer>`",
    note = "#[traced] takes its tracer from `self.tracer` or from `tracer = <expr>`"
)]
pub trait AsTracer {
    /// The tracer.
    fn as_tracer(&self) -> &Tracer;
}

impl AsTracer for Tracer {
    fn as_tracer(&self) -> &Tracer {
        self
    }
}

impl<T: AsTracer + ?Sized> AsTracer for &T {
    fn as_tracer(&self) -> &Tracer {
        (**self).as_tracer()
    }
}

impl<T: AsTracer + ?Sized> AsTracer for &mut T {
    fn as_tracer(&self) -> &Tracer {
        (**self).as_tracer()
    }
}

impl<T: AsTracer + ?Sized> AsTracer for Arc<T> {
    fn as_tracer(&self) -> &Tracer {
        (**self).as_tracer()
    }
}

impl<T: AsTracer + ?Sized> AsTracer for Rc<T> {
    fn as_tracer(&self) -> &Tracer {
        (**self).as_tracer()
    }
}

impl<T: AsTracer + ?Sized> AsTracer for Box<T> {
    fn as_tracer(&self) -> &Tracer {
        (**self).as_tracer()
    }
}
