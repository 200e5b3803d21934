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
use syn::{Block, Expr, Ident, ItemFn, LitStr, ReturnType, Type};

use crate::attr::{Args, Attribute, Capture, TracerArg};
use crate::shape::{BoxedAsync, Description, Shape};

/// Identifiers of the generated code, invisible to the user's code.
struct Names {
    body: syn::Ident,
    pending: syn::Ident,
    guard: syn::Ident,
    ret: syn::Ident,
    span: syn::Ident,
    tracer: syn::Ident,
}

impl Names {
    fn new() -> Self {
        let id = |name: &str| syn::Ident::new(name, Span::mixed_site());
        Names {
            body: id("__tracekit_body"),
            pending: id("__tracekit_pending"),
            guard: id("__tracekit_guard"),
            ret: id("__tracekit_ret"),
            span: id("__tracekit_span"),
            tracer: id("__tracekit_tracer"),
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
    if let Some(keyword) = &args.record {
        let replayed = record_body(&args, &item, &Shape::of(&args, &item)?, keyword)?;
        item.block = Box::new(replayed);
    }
    let shape = Shape::of(&args, &item)?;
    let gen = Gen {
        args: &args,
        krate: match &args.krate {
            Some(path) => path.to_token_stream(),
            None => quote!(::tracekit),
        },
        names: Names::new(),
    };
    let block = gen.body(&shape, &item)?;
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
    /// The new body: the shape's `__private` entry point around the original one.
    fn body(&self, shape: &Shape<'_>, item: &ItemFn) -> syn::Result<TokenStream> {
        let Gen { krate, names, .. } = self;
        let Names {
            pending: p,
            guard,
            span,
            ret,
            ..
        } = names;
        let entry = syn::Ident::new(shape.entry(), Span::call_site());
        let entry = quote!(#krate::__private::#entry);
        let description = self.span_description(item, shape.description())?;
        let body = &item.block;
        let declared = Returned {
            ty: match &item.sig.output {
                ReturnType::Default => None,
                ReturnType::Type(_, ty) => Some(&**ty),
            },
            unit_if_absent: true,
        };
        Ok(match shape {
            // The body is written once, as a closure: called directly when nothing records (so
            // it inlines as if untraced), or inside the span, under `catch_unwind` so a panic
            // can be recorded.
            Shape::Sync | Shape::SyncBorrowingSelf => {
                let annotation = declared.nameable().then(|| {
                    let t = declared.tokens();
                    quote!(-> #t)
                });
                let record = self.record_outcome(quote!(#span), quote!(#ret), declared);
                quote! {
                    #entry(
                        #description,
                        move || #annotation #body,
                        |#span: &#krate::Span, #ret| { #record },
                    )
                }
            }
            // As in the base of every shape, a no-op tracer costs a branch: the body's future
            // is awaited as it is. Each branch awaits its own future, so the function's state
            // holds the body once.
            Shape::Async | Shape::AsyncBorrowingSelf => {
                let (typed, record) = self.future_record(declared);
                let b = &names.body;
                let typed_body = declared.nameable().then(|| {
                    let t = declared.tokens();
                    quote!(::<#t, _>)
                });
                // The description first: attribute and `args` expressions borrow the arguments
                // before the body's future takes them.
                quote! {
                    let #p = #description;
                    let #b = #krate::__private::typed_future #typed_body (async move #body);
                    if !#krate::__private::Described::records(&#p) {
                        ::core::mem::drop(#p);
                        #b.await
                    } else {
                        #entry #typed (#p, #b, #record).await
                    }
                }
            }
            Shape::BoxedAsync(boxed) | Shape::BoxedAsyncBorrowingSelf(boxed) => {
                let (typed, record) = self.future_record(Returned {
                    ty: boxed.output,
                    unit_if_absent: false,
                });
                let BoxedAsync {
                    before,
                    pin,
                    future,
                    ..
                } = boxed;
                quote! {
                    let #p = #description;
                    #(#before)*
                    #pin(#entry #typed (#p, #future, #record))
                }
            }
            Shape::Never => quote! {
                let #guard = #entry(#description);
                #body
            },
            Shape::Iterator | Shape::Stream => quote! { #entry(#description, move || #body) },
        })
    }

    /// For a future: `::<R, _, _>` when `R` can be named (so `?` in the body knows its error
    /// type), and the closure that records the outcome.
    fn future_record(&self, returned: Returned<'_>) -> (Option<TokenStream>, TokenStream) {
        let Gen { krate, names, .. } = self;
        let Names { span, ret, .. } = names;
        let typed = returned.nameable().then(|| {
            let t = returned.tokens();
            quote!(::<#t, _, _>)
        });
        let record = self.record_outcome(quote!(#span), quote!(#ret), returned);
        (typed, quote!(move |#span: &#krate::Span, #ret| { #record }))
    }

    /// The span's description: its builder (`None` when the tracer records nothing), or the
    /// span started from it at once, as the shape's entry point `wanted` (see [`Description`]).
    fn span_description(&self, item: &ItemFn, wanted: Description) -> syn::Result<TokenStream> {
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
        let name = span_name(args, sig);
        let kind = args
            .kind
            .clone()
            .unwrap_or_else(|| format_ident!("Internal"));
        let capture = self.capture_call(sig)?;
        // The caller's context goes first, so `inheritable(..)` given here wins over baggage.
        let remote = args.parent.as_ref().map(|parent| {
            quote_spanned! {parent.span()=> .remote(#krate::__private::remote_parent(#parent)) }
        });
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
        let builder = quote! {
            if #krate::__private::enabled(#tracer) {
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
                ) #remote #(#attributes)* #(#inheritable)* #capture)
            } else {
                ::core::option::Option::None
            }
        };
        let start = match wanted {
            Description::Builder => None,
            Description::PendingBorrowingSelf => Some(quote!(pending_borrowing_self)),
            Description::Pending => Some(quote!(pending)),
        };
        Ok(match start {
            None => quote! {{ #bind_tracer #builder }},
            Some(start) => quote! {{ #bind_tracer #krate::__private::#start(#builder) }},
        })
    }

    /// `args`: `.attribute("input", {name: value, ..})` for the chosen arguments, each
    /// through `Serialize` by reference, long strings cut.
    fn capture_call(&self, sig: &syn::Signature) -> syn::Result<Option<TokenStream>> {
        let krate = &self.krate;
        let named: Vec<&Ident> = sig
            .inputs
            .iter()
            .filter_map(|arg| match arg {
                syn::FnArg::Typed(t) => match &*t.pat {
                    syn::Pat::Ident(p) => Some(&p.ident),
                    _ => None,
                },
                syn::FnArg::Receiver(_) => None,
            })
            .collect();
        let known = |ident: &Ident| -> syn::Result<()> {
            if named.contains(&ident) {
                Ok(())
            } else {
                Err(syn::Error::new(
                    ident.span(),
                    format!("`{}` has no argument named `{ident}` (destructured arguments cannot be recorded by name)", sig.ident),
                ))
            }
        };
        let skip: Vec<&Ident> = match &self.args.skip {
            Some((keyword, names)) => {
                if self.args.capture.is_none() && self.args.record.is_none() {
                    return Err(syn::Error::new(
                        keyword.span(),
                        "`skip(..)` leaves arguments out of `args` (or `record`); add `args`: #[traced(args, skip(..))]",
                    ));
                }
                names.iter().try_for_each(known)?;
                names.iter().collect()
            }
            None => Vec::new(),
        };
        let chosen: Vec<&Ident> = match &self.args.capture {
            None => return Ok(None),
            Some(Capture::All) => named
                .iter()
                .copied()
                .filter(|n| !skip.contains(n))
                .collect(),
            Some(Capture::Only(names)) => {
                names.iter().try_for_each(known)?;
                names.iter().filter(|n| !skip.contains(n)).collect()
            }
        };
        let entries = chosen.iter().map(|ident| {
            let name = LitStr::new(ident.to_string().trim_start_matches("r#"), ident.span());
            quote_spanned!(ident.span()=> (#name, #krate::__private::captured(&#ident)))
        });
        Ok(Some(quote! {
            .attribute("input", #krate::__private::captured_args([#(#entries),*]))
        }))
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

/// The span's name: `name = ".."`, else the function's.
fn span_name(args: &Args, sig: &syn::Signature) -> LitStr {
    match &args.name {
        Some(lit) => lit.clone(),
        None => LitStr::new(
            sig.ident.to_string().trim_start_matches("r#"),
            sig.ident.span(),
        ),
    }
}

/// `record`: the body, wrapped so that it returns the recorded value while a replay is
/// active (without running), and records its arguments and return value otherwise. The
/// original body runs as a closure (sync) or an `async` block, so its `return`s and `?`s
/// keep their meaning.
fn record_body(
    args: &Args,
    item: &ItemFn,
    shape: &Shape<'_>,
    keyword: &Ident,
) -> syn::Result<Block> {
    let krate = match &args.krate {
        Some(path) => path.to_token_stream(),
        None => quote!(::tracekit),
    };
    let sig = &item.sig;
    let is_async = match shape {
        Shape::Sync | Shape::SyncBorrowingSelf => false,
        Shape::Async | Shape::AsyncBorrowingSelf => true,
        _ => {
            return Err(syn::Error::new(
                keyword.span(),
                "`record` works on plain `fn`s and `async fn`s that return a value \
                 (not on `#[async_trait]` methods, `-> !` or `stream`): record the function they call instead",
            ))
        }
    };
    let ret = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) if is_nameable(ty) => ty.to_token_stream(),
        ReturnType::Type(_, ty) => {
            return Err(syn::Error::new(
                ty.span(),
                "`record` needs a return type it can name (not `impl Trait`): the recorded value is read back as it",
            ))
        }
    };
    let at = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    };
    let skip: Vec<&Ident> = args.skip.iter().flat_map(|(_, names)| names).collect();
    let mut recorded = Vec::new();
    for input in &sig.inputs {
        let syn::FnArg::Typed(typed) = input else {
            continue;
        };
        match &*typed.pat {
            syn::Pat::Ident(p) if skip.contains(&&p.ident) => {}
            syn::Pat::Ident(p) => {
                let ident = &p.ident;
                let name = LitStr::new(ident.to_string().trim_start_matches("r#"), ident.span());
                recorded.push(quote_spanned!(ident.span()=> (#name, #krate::__private::replay_arg(&#ident))));
            }
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    "`record` matches calls by their arguments' names: bind this argument to a name (or leave it out with `skip(..)`)",
                ))
            }
        }
    }
    let name = span_name(args, sig);
    let call = syn::Ident::new("__tracekit_call", Span::mixed_site());
    let out = syn::Ident::new("__tracekit_out", Span::mixed_site());
    let value = syn::Ident::new("__tracekit_value", Span::mixed_site());
    let body = &item.block;
    let run = if is_async {
        quote!(#krate::__private::typed_future::<#ret, _>(async move #body).await)
    } else {
        quote!((move || -> #ret #body)())
    };
    let replayed = quote_spanned!(at=> #call.replayed::<#ret>());
    let record = quote_spanned!(at=> #call.record(&#out));
    syn::parse2(quote! {{
        let #call = #krate::__private::ReplayCall::new(#name, || ::std::vec![#(#recorded),*]);
        if let ::core::option::Option::Some(#value) = #replayed {
            return #value;
        }
        let #out: #ret = #run;
        #record;
        #out
    }})
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
