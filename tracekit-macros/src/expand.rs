//! Code generation for `#[traced]`.
//!
//! Generated local variables use `Span::mixed_site()`, so user code can neither see nor clash
//! with them; every runtime item is reached through an absolute path (`::tracekit::...` or
//! the `crate = ...` option); tokens that can fail to type-check (the tracer expression,
//! attribute values, the output's `Serialize` bound) carry the user's spans, so errors point
//! at the user's code.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{
    Block, Expr, ExprCall, GenericArgument, ItemFn, LitStr, PathArguments, ReturnType, Stmt, Type,
    TypeParamBound,
};

use crate::attr::{Args, Attribute, TracerArg};

/// Identifiers of the generated code, invisible to the user's code.
struct Names {
    pending: syn::Ident,
    guard: syn::Ident,
    ret: syn::Ident,
    span: syn::Ident,
    tracer: syn::Ident,
    body: syn::Ident,
}

impl Names {
    fn new() -> Self {
        let id = |name: &str| syn::Ident::new(name, Span::mixed_site());
        Names {
            pending: id("__tracekit_pending"),
            guard: id("__tracekit_guard"),
            ret: id("__tracekit_ret"),
            span: id("__tracekit_span"),
            tracer: id("__tracekit_tracer"),
            body: id("__tracekit_body"),
        }
    }
}

/// Instruments `item` as `args` say.
pub(crate) fn expand(args: Args, mut item: ItemFn) -> syn::Result<TokenStream> {
    let sig = &item.sig;
    if let Some(constness) = &sig.constness {
        return Err(syn::Error::new(
            constness.span,
            "#[traced] cannot instrument a `const fn`: spans read a clock and call a tracer at run time; remove `const` or the attribute",
        ));
    }
    let krate = match &args.krate {
        Some(path) => path.to_token_stream(),
        None => quote!(::tracekit),
    };
    let output = match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => Some(&**ty),
    };
    if let Some((keyword, _)) = &args.output {
        if output.is_none_or(is_unit) {
            return Err(syn::Error::new(
                keyword.span(),
                "`output` records the return value, but this function returns `()`; remove `output = ...`",
            ));
        }
    }
    let gen = Gen {
        args: &args,
        krate,
        names: Names::new(),
        borrows_self: args.tracer.is_none()
            && sig
                .receiver()
                .is_some_and(|r| matches!(r.kind, syn::ReceiverKind::Reference(_, _, None))),
    };
    let declared = Returned {
        ty: output,
        unit_if_absent: true,
    };
    let body = &item.block;
    let Gen { krate, names, .. } = &gen;
    let block: TokenStream = if let Some(keyword) = &args.stream {
        // The span is handed to the returned value: it cannot borrow from `self`.
        let pending = gen.pending_span(&item, format_ident!("begin"))?;
        gen.stream(keyword, sig, pending, body)?
    } else if sig.asyncness.is_some() {
        let pending = gen.pending_span(&item, gen.scoped("begin"))?;
        gen.async_fn(pending, body, declared)
    } else if let Some((before, call, future)) = boxed_async_body(body) {
        // `#[async_trait]` has already turned `async fn` into `fn -> Pin<Box<dyn Future>>`
        // whose body ends in `Box::pin(async move { .. })`: trace that future.
        let returned = Returned {
            ty: output.and_then(future_output),
            unit_if_absent: false,
        };
        let pending = gen.pending_span(&item, gen.scoped("begin"))?;
        let instrumented = gen.instrumented(quote!(#future), returned);
        let func = &call.func;
        let p = &names.pending;
        quote! {
            let #p = #pending;
            #(#before)*
            #func(#instrumented)
        }
    } else if output.is_some_and(|t| matches!(t, Type::Never(_))) {
        let pending = gen.pending_span(&item, format_ident!("begin"))?;
        let guard = &names.guard;
        quote! {
            let #guard = #krate::__private::start(#pending);
            #body
        }
    } else {
        gen.sync(
            // A `&self` method's span is built as it is entered (see `call_in`).
            gen.pending_span(
                &item,
                if gen.borrows_self {
                    format_ident!("defer_in")
                } else {
                    format_ident!("begin")
                },
            )?,
            body,
            declared,
        )
    };
    // Keep the original braces (and so the item's span): rustc's dead_code lint skips items
    // whose span comes from a macro expansion.
    let generated: Block = syn::parse2(quote!({ #block }))?;
    item.block.stmts = generated.stmts;
    Ok(item.into_token_stream())
}

/// What the generated code is built from.
struct Gen<'a> {
    args: &'a Args,
    krate: TokenStream,
    names: Names,
    /// A `&self` method's span borrows the tracer from `self` for the call instead of
    /// holding a lease on it (two locked instructions per root span): `self` stays borrowed
    /// for the whole call, or for the whole life of the method's future.
    borrows_self: bool,
}

/// The type the traced body produces, when the signature says it.
#[derive(Clone, Copy)]
struct Returned<'a> {
    ty: Option<&'a Type>,
    /// A missing type means `()` (a plain `fn`), not "unknown" (a boxed future's output).
    unit_if_absent: bool,
}

impl Returned<'_> {
    /// Whether the type can be written in generated code (no `impl Trait`, no `!`).
    fn nameable(&self) -> bool {
        self.ty.map_or(self.unit_if_absent, is_nameable)
    }

    fn tokens(&self) -> TokenStream {
        match self.ty {
            Some(t) => t.to_token_stream(),
            None if self.unit_if_absent => quote!(()),
            None => quote!(_),
        }
    }
}

impl Gen<'_> {
    /// `stream`: the body runs inside the span and returns an `impl Stream`/`impl Iterator`; the
    /// span stays open, attached to that value, until it is exhausted or dropped.
    fn stream(
        &self,
        keyword: &syn::Ident,
        sig: &syn::Signature,
        pending: TokenStream,
        body: &Block,
    ) -> syn::Result<TokenStream> {
        let Gen { krate, names, .. } = self;
        let returned = match &sig.output {
            ReturnType::Type(_, ty) => match &**ty {
                Type::ImplTrait(t) => Some(t),
                _ => None,
            },
            ReturnType::Default => None,
        };
        let (Some(returned), None) = (returned, &sig.asyncness) else {
            return Err(syn::Error::new(
                keyword.span(),
                "`stream` needs a (non-async) function that returns `impl Stream<Item = ..>` or `impl Iterator<Item = ..>`",
            ));
        };
        let iterator = returned.bounds.iter().any(|b| {
            matches!(b, TypeParamBound::Trait(t) if t.path.segments.last().is_some_and(|s| s.ident == "Iterator"))
        });
        let wrap = if iterator {
            quote!(iter)
        } else {
            quote!(stream)
        };
        let Names {
            pending: p,
            guard,
            ret,
            body: b,
            ..
        } = names;
        Ok(quote! {
            let #p = #pending;
            let #guard = #krate::__private::start(#p);
            let #b = #krate::__private::once(move || #body);
            let #ret = #b();
            #krate::__private::#wrap(#krate::__private::detach(#guard), #ret)
        })
    }

    /// The code that builds the span (not yet current), ending the borrow of the tracer so the
    /// body can use `self` freely.
    fn pending_span(&self, item: &ItemFn, begin: syn::Ident) -> syn::Result<TokenStream> {
        let Gen {
            args, krate, names, ..
        } = self;
        let Names { tracer, .. } = names;
        let sig = &item.sig;
        // `let t = &(expr);` keeps a temporary (e.g. from `self.tracer()`) alive for the block;
        // the `AsTracer` conversion carries the expression's span so a wrong type is reported
        // there.
        let (source, at) = match &args.tracer {
            Some(TracerArg::Expr(expr)) => (quote!(&(#expr)), expr.span()),
            Some(TracerArg::Current(ident)) => (quote!(&#krate::Tracer::current()), ident.span()),
            None => match sig.receiver() {
                Some(receiver) => {
                    let this = &receiver.self_token;
                    (quote_spanned!(this.span=> &#this.tracer), this.span)
                }
                None => {
                    return Err(syn::Error::new(
                        sig.ident.span(),
                        format!(
                            "#[traced] needs a tracer, and `{}` has no `self` to read `self.tracer` from; \
                             pass one with #[traced(tracer = <expr>)] (e.g. `tracer = ctx.tracer`), or use \
                             #[traced(tracer = current)] to take the tracer of the enclosing span",
                            sig.ident
                        ),
                    ))
                }
            },
        };
        // The same hygienic name, located at the user's expression, so that is where a type error
        // is reported.
        let source_at = syn::Ident::new(&tracer.to_string(), Span::mixed_site().located_at(at));
        let bind_tracer = quote_spanned! {at=>
            let #tracer = #source;
            let #tracer: &#krate::Tracer = #krate::__private::tracer(#source_at);
        };
        let name = match &args.name {
            Some(lit) => lit.clone(),
            None => LitStr::new(
                sig.ident.to_string().trim_start_matches("r#"),
                sig.ident.span(),
            ),
        };
        let kind = args
            .kind
            .clone()
            .unwrap_or_else(|| format_ident!("Internal"));
        let attributes = args
            .attributes
            .iter()
            .map(|a| self.attribute_call(a, quote!(attribute)));
        let inheritable = args
            .inheritable
            .iter()
            .map(|a| self.attribute_call(a, quote!(inheritable_attribute)));
        // Nothing is built (and attribute expressions are not evaluated) unless the tracer
        // records: a no-op tracer costs one branch.
        Ok(quote! {{
            #bind_tracer
            #krate::__private::#begin(if #krate::__private::enabled(#tracer) {
                ::core::option::Option::Some(#krate::__private::builder(
                    #tracer,
                    #name,
                    #krate::SpanKind::#kind,
                    {
                        static SCOPE: #krate::Scope = #krate::__private::scope(
                            ::core::option_env!("CARGO_PKG_NAME"),
                            ::core::option_env!("CARGO_PKG_VERSION"),
                        );
                        &SCOPE
                    },
                ) #(#attributes)* #(#inheritable)*)
            } else {
                ::core::option::Option::None
            })
        }})
    }

    /// The `__private` function `name`, or its `_in` form for a span that borrows the tracer
    /// from `self` (see `borrows_self`).
    fn scoped(&self, name: &str) -> syn::Ident {
        if self.borrows_self {
            format_ident!("{name}_in")
        } else {
            format_ident!("{name}")
        }
    }

    fn attribute_call(&self, attribute: &Attribute, method: TokenStream) -> TokenStream {
        let krate = &self.krate;
        let Attribute { key, value } = attribute;
        let value = match value {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => quote!(#krate::Value::from_static(#s)),
            other => quote_spanned!(other.span()=> #krate::__private::to_value(&(#other))),
        };
        quote!(.#method(#key, #value))
    }

    fn sync(&self, pending: TokenStream, body: &Block, returned: Returned<'_>) -> TokenStream {
        let Gen { krate, names, .. } = self;
        let Names {
            pending: p,
            ret,
            span,
            body: b,
            ..
        } = names;
        let annotation = returned.nameable().then(|| {
            let t = returned.tokens();
            quote!(-> #t)
        });
        let record = self.record_outcome(quote!(#span), quote!(#ret), returned);
        let call = self.scoped("call");
        // The body is written once, as a closure: called directly when nothing records (so it
        // inlines as if untraced), or inside the span, under `catch_unwind` so a panic can be
        // recorded.
        quote! {
            let #p = #pending;
            let #b = #krate::__private::once(move || #annotation #body);
            if !#p.is_recording() {
                #b()
            } else {
                #krate::__private::#call(#p, #b, |#span: &#krate::Span, #ret| { #record })
            }
        }
    }

    fn async_fn(&self, pending: TokenStream, body: &Block, returned: Returned<'_>) -> TokenStream {
        let Gen { krate, names, .. } = self;
        let Names {
            pending: p,
            body: b,
            ..
        } = names;
        // Typed up front so `?` in the body knows its error type.
        let typed = returned.nameable().then(|| {
            let t = returned.tokens();
            quote!(::<#t, _>)
        });
        let instrumented = self.instrumented(quote!(#b), returned);
        // As for sync functions: when nothing records, the body's future is awaited as it is.
        quote! {
            let #p = #pending;
            let #b = #krate::__private::typed_future #typed (async move #body);
            if !#p.is_recording() {
                // Not held across the await, so it takes no room in the future.
                ::core::mem::drop(#p);
                #b.await
            } else {
                #instrumented.await
            }
        }
    }

    /// `instrument(pending, future, record-outcome)`.
    fn instrumented(&self, future: TokenStream, returned: Returned<'_>) -> TokenStream {
        let Gen { krate, names, .. } = self;
        let Names {
            pending: p,
            span,
            ret,
            ..
        } = names;
        let record = self.record_outcome(quote!(#span), quote!(#ret), returned);
        let typed = returned.nameable().then(|| {
            let t = returned.tokens();
            quote!(::<#t, _, _>)
        });
        let instrument = self.scoped("instrument");
        quote! {
            #krate::__private::#instrument #typed (#p, #future, move |#span: &#krate::Span, #ret| { #record })
        }
    }

    /// Records a returned `Err` (and, with `output`, the value) on the span. Dispatch is by the
    /// value's type (autoref specialisation), so `io::Result`, `anyhow::Result` and aliases
    /// count as results without matching on names.
    fn record_outcome(
        &self,
        span: TokenStream,
        value: TokenStream,
        returned: Returned<'_>,
    ) -> TokenStream {
        let krate = &self.krate;
        let record_output = self.args.output.as_ref().map(|(_, key)| {
            // Spanned at the return type, so a missing `Serialize` is reported there.
            let at = returned.ty.map_or_else(Span::call_site, |t| t.span());
            quote_spanned! {at=>
                #krate::__private::record_output(
                    #span,
                    #key,
                    (&#krate::__private::OutputOf(#value)).__tracekit_output(),
                );
            }
        });
        quote! {
            #[allow(unused_imports, clippy::needless_borrow, clippy::let_unit_value)]
            let () = {
                use #krate::__private::{
                    OkOutput as _, RecordErrDebug as _, RecordErrDisplay as _, RecordNothing as _,
                    WholeOutput as _,
                };
                (&&#krate::__private::Outcome(#value)).__tracekit_record(#span);
                #record_output
            };
        }
    }
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

/// Whether the type can be written in a `let` (no `impl Trait`, no `!`).
fn is_nameable(ty: &Type) -> bool {
    struct FindImpl(bool);
    impl<'ast> Visit<'ast> for FindImpl {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
        fn visit_type_never(&mut self, _: &'ast syn::TypeNever) {
            self.0 = true;
        }
    }
    let mut finder = FindImpl(false);
    finder.visit_type(ty);
    !finder.0
}

/// A body of the shape `{ ..; Box::pin(async move { .. }) }`.
fn boxed_async_body(body: &Block) -> Option<(&[Stmt], &ExprCall, &syn::ExprAsync)> {
    let (last, before) = body.stmts.split_last()?;
    let Stmt::Expr(Expr::Call(call), None) = last else {
        return None;
    };
    let Expr::Path(func) = &*call.func else {
        return None;
    };
    let segments: Vec<String> = func
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    if !segments.ends_with(&["Box".to_string(), "pin".to_string()]) || call.args.len() != 1 {
        return None;
    }
    match &call.args[0] {
        Expr::Async(future) => Some((before, call, future)),
        _ => None,
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
