//! The shape of a traced function, decided once from its options, signature and body. Each
//! shape has one entry point in `tracekit::__private`, which keeps its span the way that shape
//! needs.

use syn::{
    Block, Expr, ExprAsync, ExprCall, GenericArgument, ItemFn, PathArguments, ReturnType, Stmt,
    Type, TypeParamBound,
};

use crate::attr::Args;

/// How the span is kept around the function's body.
pub(crate) enum Shape<'a> {
    /// `fn f(..) -> T`: the span is started before the body, which may then take `self` by
    /// value or mutably, and is current for the call.
    Sync,
    /// A sync `&self` method with the default tracer, `self.tracer`: the span borrows the
    /// tracer from `self` for the call, and is started as it is entered, so it can also
    /// borrow its parent.
    SyncBorrowingSelf,
    /// `async fn`: the span covers the whole future.
    Async,
    /// An `async fn` on `&self` with the default tracer: the future borrows `self` anyway, and
    /// the span borrows the tracer for as long.
    AsyncBorrowingSelf,
    /// A method that `#[async_trait]` has already expanded (see [`BoxedAsync`]).
    BoxedAsync(BoxedAsync<'a>),
    /// [`Shape::BoxedAsync`] on `&self` with the default tracer.
    BoxedAsyncBorrowingSelf(BoxedAsync<'a>),
    /// `fn f(..) -> !`: the span is current until the function diverges.
    Never,
    /// `#[traced(stream)]` returning `impl Iterator`: the body runs inside the span, which then
    /// moves into the returned iterator.
    Iterator,
    /// `#[traced(stream)]` returning `impl Stream`: as [`Shape::Iterator`].
    Stream,
}

/// A body of the shape `{ ..; Box::pin(async move { .. }) }` in a function returning
/// `Pin<Box<dyn Future<Output = R> + ..>>`: what `#[async_trait]` makes of an `async fn`. The
/// boxed future is what gets traced.
pub(crate) struct BoxedAsync<'a> {
    /// The statements before `Box::pin(..)`.
    pub(crate) before: &'a [Stmt],
    /// The `Box::pin` path, as written.
    pub(crate) pin: &'a Expr,
    /// The `async move { .. }` block.
    pub(crate) future: &'a ExprAsync,
    /// `R`, when the signature says it.
    pub(crate) output: Option<&'a Type>,
}

impl<'a> Shape<'a> {
    /// The shape of `item` traced with `args`.
    pub(crate) fn of(args: &Args, item: &'a ItemFn) -> syn::Result<Shape<'a>> {
        let sig = &item.sig;
        let borrows_self = args.tracer.is_none()
            && sig
                .receiver()
                .is_some_and(|r| matches!(r.kind, syn::ReceiverKind::Reference(_, _, None)));
        let output = match &sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => Some(&**ty),
        };
        if let Some(keyword) = &args.stream {
            // The span is handed to the returned value: it cannot borrow from `self`.
            let returned = match output {
                Some(Type::ImplTrait(t)) if sig.asyncness.is_none() => t,
                _ => {
                    return Err(syn::Error::new(
                        keyword.span(),
                        "`stream` needs a (non-async) function that returns `impl Stream<Item = ..>` or `impl Iterator<Item = ..>`",
                    ))
                }
            };
            let iterator = returned.bounds.iter().any(|b| {
                matches!(b, TypeParamBound::Trait(t) if t.path.segments.last().is_some_and(|s| s.ident == "Iterator"))
            });
            return Ok(if iterator {
                Shape::Iterator
            } else {
                Shape::Stream
            });
        }
        Ok(if sig.asyncness.is_some() {
            if borrows_self {
                Shape::AsyncBorrowingSelf
            } else {
                Shape::Async
            }
        } else if let Some(boxed) = BoxedAsync::of(&item.block, output) {
            if borrows_self {
                Shape::BoxedAsyncBorrowingSelf(boxed)
            } else {
                Shape::BoxedAsync(boxed)
            }
        } else if matches!(output, Some(Type::Never(_))) {
            Shape::Never
        } else if borrows_self {
            Shape::SyncBorrowingSelf
        } else {
            Shape::Sync
        })
    }

    /// The `tracekit::__private` function that serves this shape.
    pub(crate) fn entry(&self) -> &'static str {
        match self {
            Shape::Sync => "sync",
            Shape::SyncBorrowingSelf => "sync_borrowing_self",
            // The boxed future is traced as an `async fn`'s body is; only the rewriting of
            // the body differs.
            Shape::Async | Shape::BoxedAsync(_) => "async_fn",
            Shape::AsyncBorrowingSelf | Shape::BoxedAsyncBorrowingSelf(_) => {
                "async_fn_borrowing_self"
            }
            Shape::Never => "never",
            Shape::Iterator => "iter",
            Shape::Stream => "stream",
        }
    }

    /// How the entry point wants the span described.
    pub(crate) fn description(&self) -> Description {
        match self {
            Shape::SyncBorrowingSelf => Description::Builder,
            Shape::AsyncBorrowingSelf | Shape::BoxedAsyncBorrowingSelf(_) => {
                Description::PendingBorrowingSelf
            }
            _ => Description::Pending,
        }
    }
}

/// What a shape's entry point takes to describe the span.
pub(crate) enum Description {
    /// The builder, which borrows the tracer from `self`: the entry point starts the span as
    /// it enters it, so the span can also borrow its parent.
    Builder,
    /// A span started at once, borrowing the tracer from `self`: a pointer to keep in a
    /// future's state, where the builder would take several words.
    PendingBorrowingSelf,
    /// A span started at once that borrows nothing, so the body may move or mutably borrow
    /// `self`.
    Pending,
}

impl<'a> BoxedAsync<'a> {
    fn of(body: &'a Block, output: Option<&'a Type>) -> Option<Self> {
        let (last, before) = body.stmts.split_last()?;
        let Stmt::Expr(Expr::Call(ExprCall { func, args, .. }), None) = last else {
            return None;
        };
        let Expr::Path(path) = &**func else {
            return None;
        };
        let segments: Vec<String> = path
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        if !segments.ends_with(&["Box".to_string(), "pin".to_string()]) || args.len() != 1 {
            return None;
        }
        match &args[0] {
            Expr::Async(future) => Some(BoxedAsync {
                before,
                pin: func,
                future,
                output: output.and_then(future_output),
            }),
            _ => None,
        }
    }
}

/// `R` of `Pin<Box<dyn Future<Output = R> + ..>>`.
fn future_output(ty: &Type) -> Option<&Type> {
    fn last_args(ty: &Type) -> Option<&syn::AngleBracketedGenericArguments> {
        let Type::Path(path) = ty else { return None };
        match &path.path.segments.last()?.arguments {
            PathArguments::AngleBracketed(args) => Some(args),
            _ => None,
        }
    }
    let pinned = last_args(ty)?.args.first()?;
    let GenericArgument::Type(boxed) = pinned else {
        return None;
    };
    let GenericArgument::Type(Type::TraitObject(dyn_future)) = last_args(boxed)?.args.first()?
    else {
        return None;
    };
    dyn_future.bounds.iter().find_map(|bound| {
        let TypeParamBound::Trait(t) = bound else {
            return None;
        };
        let PathArguments::AngleBracketed(args) = &t.path.segments.last()?.arguments else {
            return None;
        };
        args.args.iter().find_map(|a| match a {
            GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
            _ => None,
        })
    })
}
