//! `#[traced(...)]` arguments, parsed into a typed model. Every error points at the token
//! that caused it.

use proc_macro2::{Span, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{parenthesized, Expr, ExprLit, Ident, Lit, LitStr, Path, Token};

const OPTIONS: &str =
    "`name`, `kind`, `tracer`, `parent`, `attributes(..)`, `inheritable(..)`, `args`, `skip(..)`, `output`, `stream`, `record`, `crate`";
const KINDS: [&str; 5] = ["Internal", "Server", "Client", "Producer", "Consumer"];

/// Where the span's tracer comes from.
pub(crate) enum TracerArg {
    /// `tracer = <expr>`.
    Expr(Expr),
    /// `tracer = current`: the tracer of the enclosing span.
    Current(Ident),
}

/// One `"key" = value` of `attributes(..)` / `inheritable(..)`.
pub(crate) struct Attribute {
    pub(crate) key: LitStr,
    pub(crate) value: Expr,
}

/// Which arguments `args` records.
pub(crate) enum Capture {
    /// `args`: every named argument (but `skip(..)`).
    All,
    /// `args(a, b)`: these.
    Only(Vec<Ident>),
}

/// The parsed options.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) kind: Option<Ident>,
    pub(crate) tracer: Option<TracerArg>,
    /// `parent = <expr>`: a caller's context from another process (a `RemoteContext`, or an
    /// `Option` of one).
    pub(crate) parent: Option<Expr>,
    pub(crate) attributes: Vec<Attribute>,
    pub(crate) inheritable: Vec<Attribute>,
    /// `args` / `args(a, b)`: record arguments in the attribute `input`.
    pub(crate) capture: Option<Capture>,
    /// `skip(a, b)` (with `args`): arguments not to record, and the keyword.
    pub(crate) skip: Option<(Ident, Vec<Ident>)>,
    /// The `output` keyword (for error spans) and the attribute key.
    pub(crate) output: Option<(Ident, LitStr)>,
    /// The `stream` keyword: the span lasts until the returned stream/iterator is done.
    pub(crate) stream: Option<Ident>,
    /// The `record` keyword: arguments and return value recorded for replay, and the
    /// recorded value returned while a replay is active.
    pub(crate) record: Option<Ident>,
    pub(crate) krate: Option<Path>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut seen: Vec<String> = Vec::new();
        let mut first = true;
        while !input.is_empty() {
            if input.peek(LitStr) {
                let lit: LitStr = input.parse()?;
                if !first {
                    return Err(syn::Error::new(
                        lit.span(),
                        "the span name goes first: #[traced(\"name\", ...)]; or write `name = \"...\"`",
                    ));
                }
                args.set_name(
                    &mut seen,
                    lit.span(),
                    Expr::Lit(ExprLit {
                        attrs: Vec::new(),
                        lit: Lit::Str(lit),
                    }),
                )?;
            } else if input.peek(Token![crate]) {
                let kw: Token![crate] = input.parse()?;
                once(&mut seen, "crate", kw.span)?;
                input.parse::<Token![=]>()?;
                args.krate = Some(input.call(Path::parse_mod_style)?);
            } else {
                let key = input.call(Ident::parse_any).map_err(|e| {
                    syn::Error::new(e.span(), format!("expected a #[traced] option: {OPTIONS}"))
                })?;
                match key.to_string().as_str() {
                    "name" => {
                        input.parse::<Token![=]>()?;
                        let value: Expr = input.parse()?;
                        args.set_name(&mut seen, key.span(), value)?;
                    }
                    "kind" => {
                        once(&mut seen, "kind", key.span())?;
                        input.parse::<Token![=]>()?;
                        args.kind = Some(parse_kind(input)?);
                    }
                    "tracer" => {
                        once(&mut seen, "tracer", key.span())?;
                        input.parse::<Token![=]>()?;
                        args.tracer = Some(parse_tracer(input)?);
                    }
                    "parent" => {
                        once(&mut seen, "parent", key.span())?;
                        input.parse::<Token![=]>().map_err(|_| {
                            syn::Error::new(
                                key.span(),
                                "`parent` needs a caller's context: \
                                 `parent = tracekit::propagation::extract(&headers)`",
                            )
                        })?;
                        args.parent = Some(input.parse()?);
                    }
                    "attributes" | "inheritable" => {
                        once(&mut seen, &key.to_string(), key.span())?;
                        let content;
                        parenthesized!(content in input);
                        let pairs = parse_attributes(&content)?;
                        if key == "attributes" {
                            args.attributes = pairs;
                        } else {
                            args.inheritable = pairs;
                        }
                    }
                    "output" => {
                        once(&mut seen, "output", key.span())?;
                        input.parse::<Token![=]>()?;
                        let lit = parse_key(input, "the output key")?;
                        args.output = Some((key, lit));
                    }
                    "args" => {
                        once(&mut seen, "args", key.span())?;
                        args.capture = Some(if input.peek(syn::token::Paren) {
                            Capture::Only(parse_idents(input)?)
                        } else {
                            Capture::All
                        });
                    }
                    "skip" => {
                        once(&mut seen, "skip", key.span())?;
                        args.skip = Some((key, parse_idents(input)?));
                    }
                    "stream" => {
                        once(&mut seen, "stream", key.span())?;
                        args.stream = Some(key);
                    }
                    "record" => {
                        once(&mut seen, "record", key.span())?;
                        args.record = Some(key);
                    }
                    other => {
                        return Err(syn::Error::new(
                            key.span(),
                            format!(
                                "unknown #[traced] option `{other}`; expected one of {OPTIONS}"
                            ),
                        ))
                    }
                }
            }
            first = false;
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        check_duplicate_keys(&args.attributes)?;
        check_duplicate_keys(&args.inheritable)?;
        Ok(args)
    }
}

impl Args {
    fn set_name(&mut self, seen: &mut Vec<String>, key_span: Span, value: Expr) -> syn::Result<()> {
        once(seen, "name", key_span)?;
        match value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) => {
                if lit.value().trim().is_empty() {
                    return Err(syn::Error::new(
                        lit.span(),
                        "the span name must not be empty",
                    ));
                }
                self.name = Some(lit);
                Ok(())
            }
            other => Err(syn::Error::new_spanned(
                other,
                "the span name must be a string literal, e.g. #[traced(name = \"llm-invocation\")]",
            )),
        }
    }
}

/// `(a, b, ...)`: argument names.
fn parse_idents(input: ParseStream<'_>) -> syn::Result<Vec<Ident>> {
    let content;
    parenthesized!(content in input);
    let names = content.parse_terminated(Ident::parse_any, Token![,])?;
    Ok(names.into_iter().collect())
}

fn once(seen: &mut Vec<String>, option: &str, span: Span) -> syn::Result<()> {
    if seen.iter().any(|s| s == option) {
        return Err(syn::Error::new(
            span,
            format!("duplicate #[traced] option `{option}`"),
        ));
    }
    seen.push(option.to_string());
    Ok(())
}

fn parse_kind(input: ParseStream<'_>) -> syn::Result<Ident> {
    let kind: Ident = input.call(Ident::parse_any).map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected a span kind: one of {}", KINDS.join(", ")),
        )
    })?;
    if KINDS.contains(&kind.to_string().as_str()) {
        Ok(kind)
    } else {
        Err(syn::Error::new(
            kind.span(),
            format!(
                "unknown span kind `{kind}`; expected one of {}",
                KINDS.join(", ")
            ),
        ))
    }
}

fn parse_tracer(input: ParseStream<'_>) -> syn::Result<TracerArg> {
    let fork = input.fork();
    if let Ok(ident) = fork.parse::<Ident>() {
        if ident == "current" && (fork.is_empty() || fork.peek(Token![,])) {
            input.parse::<Ident>()?;
            return Ok(TracerArg::Current(ident));
        }
    }
    Ok(TracerArg::Expr(input.parse()?))
}

/// A string-literal key; anything else is an error at that token.
fn parse_key(input: ParseStream<'_>, what: &str) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        if lit.value().is_empty() {
            return Err(syn::Error::new(
                lit.span(),
                format!("{what} must not be empty"),
            ));
        }
        return Ok(lit);
    }
    let span = input
        .fork()
        .parse::<TokenTree>()
        .map_or_else(|_| input.span(), |t| t.span());
    Err(syn::Error::new(
        span,
        format!("{what} must be a string literal, e.g. \"ai.tool.input\""),
    ))
}

fn parse_attributes(input: ParseStream<'_>) -> syn::Result<Vec<Attribute>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let key = parse_key(input, "an attribute key")?;
        input.parse::<Token![=]>()?;
        let value: Expr = input.parse()?;
        out.push(Attribute { key, value });
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(out)
}

fn check_duplicate_keys(attrs: &[Attribute]) -> syn::Result<()> {
    for (i, a) in attrs.iter().enumerate() {
        if attrs[..i].iter().any(|b| b.key.value() == a.key.value()) {
            return Err(syn::Error::new(
                a.key.span(),
                format!("duplicate attribute key {:?}", a.key.value()),
            ));
        }
    }
    Ok(())
}
