//! `#[traced]` at run time: every form and outcome, sync and async.

mod common;

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{all, named, runtime};
use tracekit::{traced, SpanKind, SpanStatus, Trace, Tracer, Value};

struct Agent {
    tracer: Tracer,
}

impl Agent {
    fn new() -> Self {
        Agent {
            tracer: Tracer::in_memory(100),
        }
    }

    #[traced]
    fn by_ref(&self) -> u8 {
        1
    }

    #[traced]
    fn by_mut(&mut self, x: u8) -> u8 {
        x + 1
    }

    #[traced]
    fn by_value(self) -> Tracer {
        self.tracer
    }

    #[traced]
    fn by_arc(self: Arc<Self>) -> usize {
        Arc::strong_count(&self)
    }

    #[traced]
    fn by_box(self: Box<Self>) -> Tracer {
        self.tracer
    }

    #[traced]
    fn by_pin(self: Pin<&mut Self>) -> bool {
        true
    }

    #[traced("custom-name", kind = Server)]
    fn named(&self) {}

    #[traced(name = "also-named", kind = Producer)]
    fn named_with_key(&self) {}

    #[traced]
    fn outer(&self) -> u8 {
        self.inner() + 1
    }

    #[traced]
    fn inner(&self) -> u8 {
        self.tracer.current_trace().add_attribute("inside", "inner");
        1
    }

    #[traced(inheritable("ai.conversation.id" = conversation))]
    fn converse(&self, conversation: &str) -> u8 {
        self.outer()
    }

    /// Documented, generic, with a where clause and lifetimes: all kept.
    #[traced]
    #[inline]
    pub fn generic<'a, T>(&self, items: &'a [T], extra: impl IntoIterator<Item = T>) -> Vec<&'a T>
    where
        T: PartialEq + 'a,
    {
        let extra: Vec<T> = extra.into_iter().collect();
        items.iter().filter(|i| !extra.contains(i)).collect()
    }

    #[traced]
    fn returns_impl(&self, n: u32) -> impl Iterator<Item = u32> {
        0..n
    }

    #[traced]
    fn reborrow<'a>(&self, v: &'a mut [u8]) -> &'a mut u8 {
        &mut v[0]
    }

    #[traced]
    unsafe fn unsafe_read(&self, p: *const u8) -> u8 {
        *p
    }

    #[traced]
    fn diverges(&self) -> ! {
        panic!("never returns")
    }

    #[traced]
    fn recursive(&self, n: u32) -> u32 {
        if n == 0 {
            0
        } else {
            self.recursive(n - 1) + 1
        }
    }
}

struct Borrowing<'t> {
    tracer: &'t Tracer,
}

impl Borrowing<'_> {
    #[traced]
    fn step(&self) -> &'static str {
        "ok"
    }
}

struct Shared {
    tracer: Arc<Tracer>,
}

impl Shared {
    #[traced]
    fn step(&self) {}
}

fn span_names(t: &Tracer) -> Vec<String> {
    all(t).iter().map(|s| s.span_name.to_string()).collect()
}

#[test]
fn default_name_and_every_receiver_kind() {
    let mut agent = Agent::new();
    assert_eq!(agent.by_ref(), 1);
    assert_eq!(agent.by_mut(1), 2);
    assert!(Pin::new(&mut agent).by_pin());
    let tracer = agent.tracer.clone();
    let arc = Arc::new(Agent {
        tracer: tracer.clone(),
    });
    assert_eq!(arc.clone().by_arc(), 2);
    Box::new(Agent {
        tracer: tracer.clone(),
    })
    .by_box();
    agent.by_value();
    let mut names = span_names(&tracer);
    names.sort();
    assert_eq!(
        names,
        ["by_arc", "by_box", "by_mut", "by_pin", "by_ref", "by_value"]
    );
    assert!(all(&tracer)
        .iter()
        .all(|s| s.span_kind == SpanKind::Internal));
}

#[test]
fn tracer_fields_may_be_references_or_arcs() {
    let tracer = Tracer::in_memory(10);
    assert_eq!(Borrowing { tracer: &tracer }.step(), "ok");
    let shared = Shared {
        tracer: Arc::new(tracer.clone()),
    };
    shared.step();
    assert_eq!(span_names(&tracer), ["step", "step"]);
}

#[test]
fn names_kinds_and_scope() {
    let agent = Agent::new();
    agent.named();
    agent.named_with_key();
    let custom = named(&agent.tracer, "custom-name");
    assert_eq!(custom.span_kind, SpanKind::Server);
    assert_eq!(
        named(&agent.tracer, "also-named").span_kind,
        SpanKind::Producer
    );
    // The scope is the crate that contains the traced function.
    assert_eq!(custom.scope.name, env!("CARGO_PKG_NAME"));
    assert_eq!(custom.scope.version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn nested_calls_nest_and_inherit() {
    let agent = Agent::new();
    assert_eq!(agent.converse("c-9"), 2);
    let (converse, outer, inner) = (
        named(&agent.tracer, "converse"),
        named(&agent.tracer, "outer"),
        named(&agent.tracer, "inner"),
    );
    assert_eq!(outer.parent_span_id, Some(converse.span_id));
    assert_eq!(inner.parent_span_id, Some(outer.span_id));
    assert_eq!(inner.attributes.get("inside"), Some(&"inner".into()));
    for span in [&converse, &outer, &inner] {
        assert_eq!(
            span.attributes.get("ai.conversation.id"),
            Some(&"c-9".into())
        );
    }
}

#[test]
fn signatures_are_kept_for_generics_impl_trait_lifetimes_unsafe() {
    let agent = Agent::new();
    let items = [1, 2, 3];
    assert_eq!(agent.generic(&items, [2]), [&1, &3]);
    assert_eq!(agent.returns_impl(3).sum::<u32>(), 3);
    let mut v = vec![5];
    *agent.reborrow(&mut v) += 1;
    assert_eq!(v, [6]);
    let byte = 9u8;
    // SAFETY: the pointer comes from a live local.
    assert_eq!(unsafe { agent.unsafe_read(&byte) }, 9);
    assert_eq!(agent.recursive(3), 3);
    assert_eq!(all(&agent.tracer).len(), 4 + 4);
}

// Free functions take their tracer from an expression, which may use the arguments.
struct Ctx {
    tracer: Tracer,
}

#[traced(
    name = "search",
    tracer = ctx.tracer,
    kind = Client,
    attributes("ai.trace.type" = "tool-invocation", "ai.tool.input" = query, "n" = query.len()),
    inheritable("ai.agent.name" = "planner"),
    output = "ai.tool.output"
)]
fn search(ctx: &Ctx, query: String) -> Result<Vec<String>, std::io::Error> {
    if query.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "empty query",
        ));
    }
    Ok(vec![query.to_uppercase()])
}

#[test]
fn free_fn_with_every_option() {
    let ctx = Ctx {
        tracer: Tracer::in_memory(10),
    };
    assert_eq!(search(&ctx, "rust".into()).unwrap(), ["RUST"]);
    assert!(search(&ctx, String::new()).is_err());
    let spans = all(&ctx.tracer);
    let ok = &spans[0];
    assert_eq!(ok.span_name, "search");
    assert_eq!(ok.span_kind, SpanKind::Client);
    assert_eq!(
        ok.attributes.get("ai.trace.type"),
        Some(&"tool-invocation".into())
    );
    assert_eq!(ok.attributes.get("ai.tool.input"), Some(&"rust".into()));
    assert_eq!(ok.attributes.get("n"), Some(&4.into()));
    assert_eq!(ok.attributes.get("ai.agent.name"), Some(&"planner".into()));
    assert_eq!(
        ok.attributes.get("ai.tool.output"),
        Some(&Value::from(serde_json::json!(["RUST"])))
    );
    assert_eq!(ok.span_status, SpanStatus::Unset);
    // Inheritable attributes come first.
    assert_eq!(ok.attributes.keys().next(), Some("ai.agent.name"));
    let err = &spans[1];
    assert_eq!(err.span_status, SpanStatus::Error);
    assert_eq!(
        err.attributes.get("exception.type"),
        Some(&"std::io::error::Error".into())
    );
    assert_eq!(
        err.attributes.get("exception.message"),
        Some(&"empty query".into())
    );
    assert!(!err.attributes.contains_key("ai.tool.output"));
}

static EVALUATED: AtomicUsize = AtomicUsize::new(0);

fn expensive() -> u32 {
    EVALUATED.fetch_add(1, Ordering::SeqCst);
    7
}

#[traced(tracer = tracer, attributes("cost" = expensive()))]
fn with_expensive_attribute(tracer: &Tracer) {}

#[test]
fn attribute_expressions_run_once_and_only_when_recording() {
    let before = EVALUATED.load(Ordering::SeqCst);
    with_expensive_attribute(&Tracer::noop());
    assert_eq!(EVALUATED.load(Ordering::SeqCst), before);
    let tracer = Tracer::in_memory(10);
    with_expensive_attribute(&tracer);
    assert_eq!(EVALUATED.load(Ordering::SeqCst), before + 1);
    assert_eq!(all(&tracer)[0].attributes.get("cost"), Some(&7.into()));
}

#[traced(tracer = current)]
fn helper(x: u8) -> u8 {
    x * 2
}

#[test]
fn tracer_current_follows_the_enclosing_span() {
    let tracer = Tracer::in_memory(10);
    assert_eq!(helper(2), 4); // no span around: nothing recorded
    {
        let _outer = tracer.trace("outer");
        helper(3);
    }
    let spans = all(&tracer);
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[1].span_name, "helper");
    assert_eq!(spans[1].parent_span_id, Some(spans[0].span_id));
}

// Error-like returns, recognised by type, not by name.
type MyResult<T> = Result<T, MyError>;

#[derive(Debug)]
struct MyError;

impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("my error happened")
    }
}

#[derive(Debug)]
#[allow(dead_code)] // read through Debug only
struct DebugOnly {
    code: u16,
}

#[traced(tracer = t)]
fn alias_err(t: &Tracer) -> MyResult<()> {
    Err(MyError)
}

#[traced(tracer = t)]
fn io_err(t: &Tracer) -> std::io::Result<u8> {
    Err(std::io::Error::other("disk on fire"))
}

#[traced(tracer = t)]
fn anyhow_err(t: &Tracer) -> anyhow::Result<u8> {
    let n: u8 = "x".parse()?;
    Ok(n)
}

#[traced(tracer = t)]
fn boxed_err(t: &Tracer) -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    Err("boxed".into())
}

#[traced(tracer = t)]
fn debug_only_err(t: &Tracer) -> Result<u8, DebugOnly> {
    Err(DebugOnly { code: 503 })
}

#[traced(tracer = t, output = "out")]
fn plain_output(t: &Tracer) -> Option<&'static str> {
    Some("value")
}

fn error_of(span: &Trace) -> (SpanStatus, Option<String>, Option<String>) {
    let get = |k: &str| {
        span.attributes
            .get(k)
            .and_then(Value::as_str)
            .map(String::from)
    };
    (
        span.span_status,
        get("exception.type"),
        get("exception.message"),
    )
}

#[test]
fn errors_of_every_result_shape_are_recorded() {
    let t = Tracer::in_memory(10);
    alias_err(&t).unwrap_err();
    io_err(&t).unwrap_err();
    anyhow_err(&t).unwrap_err();
    boxed_err(&t).unwrap_err();
    debug_only_err(&t).unwrap_err();
    assert_eq!(plain_output(&t), Some("value"));
    let err = SpanStatus::Error;
    let s = |x: &str| Some(x.to_string());
    assert_eq!(
        error_of(&named(&t, "alias_err")),
        (err, s("traced::MyError"), s("my error happened"))
    );
    assert_eq!(
        error_of(&named(&t, "io_err")),
        (err, s("std::io::error::Error"), s("disk on fire"))
    );
    assert_eq!(
        error_of(&named(&t, "anyhow_err")),
        (err, s("anyhow::Error"), s("invalid digit found in string"))
    );
    assert_eq!(error_of(&named(&t, "boxed_err")).2, s("boxed"));
    assert_eq!(
        error_of(&named(&t, "debug_only_err")),
        (err, s("traced::DebugOnly"), s("DebugOnly { code: 503 }"))
    );
    let plain = named(&t, "plain_output");
    assert_eq!(plain.span_status, SpanStatus::Unset);
    assert_eq!(plain.attributes.get("out"), Some(&"value".into()));
}

#[test]
fn a_panic_is_recorded_and_propagates_unchanged() {
    let agent = Agent::new();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| agent.diverges()));
    assert_eq!(
        caught.unwrap_err().downcast_ref::<&str>(),
        Some(&"never returns")
    );
    let span = named(&agent.tracer, "diverges");
    assert_eq!(span.span_status, SpanStatus::Error);

    #[traced(tracer = t)]
    fn panics(t: &Tracer, msg: String) -> u8 {
        panic!("{msg}")
    }
    let caught = std::panic::catch_unwind(|| panics(&agent.tracer, "formatted 42".into()));
    assert_eq!(
        caught
            .unwrap_err()
            .downcast_ref::<String>()
            .map(String::as_str),
        Some("formatted 42")
    );
    let span = named(&agent.tracer, "panics");
    assert_eq!(span.span_status, SpanStatus::Error);
    assert_eq!(span.attributes.get("exception.type"), Some(&"panic".into()));
    assert_eq!(
        span.attributes.get("exception.message"),
        Some(&"formatted 42".into())
    );
}

#[traced(tracer = t)]
extern "C" fn c_abi(t: &Tracer, x: i32) -> i32 {
    x * 3
}

#[test]
fn extern_c_functions_are_traced() {
    let t = Tracer::in_memory(10);
    assert_eq!(c_abi(&t, 2), 6);
    assert_eq!(span_names(&t), ["c_abi"]);
}

// Traits: default methods name their tracer; impl methods use self.tracer.
trait Tool {
    fn tracer(&self) -> &Tracer;

    #[traced(tracer = self.tracer())]
    fn describe(&self) -> String {
        "a tool".to_string()
    }

    fn run(&self, input: &str) -> Result<String, String>;
}

struct Upper {
    tracer: Tracer,
}

impl Tool for Upper {
    fn tracer(&self) -> &Tracer {
        &self.tracer
    }

    #[traced(kind = Client)]
    fn run(&self, input: &str) -> Result<String, String> {
        if input.is_empty() {
            Err("nothing to do".into())
        } else {
            Ok(input.to_uppercase())
        }
    }
}

#[test]
fn trait_default_and_impl_methods() {
    let tool = Upper {
        tracer: Tracer::in_memory(10),
    };
    assert_eq!(tool.describe(), "a tool");
    assert_eq!(tool.run("a").unwrap(), "A");
    assert!(tool.run("").is_err());
    let dyn_tool: &dyn Tool = &tool;
    dyn_tool.describe();
    assert_eq!(
        span_names(&tool.tracer),
        ["describe", "run", "run", "describe"]
    );
    assert_eq!(
        all(&tool.tracer)[2].attributes.get("exception.type"),
        Some(&"alloc::string::String".into())
    );
}

// ---- async ----

struct AsyncAgent {
    tracer: Arc<Tracer>,
}

impl AsyncAgent {
    #[traced(kind = Server, inheritable("ai.conversation.id" = id))]
    async fn converse(&self, id: &str, turns: u32) -> Result<u32, MyError> {
        let mut total = 0;
        for i in 0..turns {
            total += self.call_llm(i).await?;
        }
        Ok(total)
    }

    #[traced("llm-invocation", kind = Client, output = "ai.llm.response.output")]
    async fn call_llm(&self, i: u32) -> Result<u32, MyError> {
        tokio::task::yield_now().await;
        let span = self.tracer.current_trace();
        assert_eq!(span.span_name(), Some("llm-invocation"));
        if i == 99 {
            return Err(MyError);
        }
        Ok(i * 10)
    }

    #[traced]
    async fn mutate(&mut self, by: u32) -> u32 {
        tokio::task::yield_now().await;
        by
    }

    #[traced]
    async fn slow(&self) {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }

    #[traced]
    async fn explode(&self) -> u8 {
        tokio::task::yield_now().await;
        panic!("async boom")
    }

    #[traced]
    async fn owned(self: Arc<Self>, s: String) -> usize {
        tokio::task::yield_now().await;
        s.len()
    }
}

#[test]
fn async_methods_nest_record_outputs_and_errors_on_a_multi_thread_runtime() {
    let agent = Arc::new(AsyncAgent {
        tracer: Arc::new(Tracer::in_memory(100)),
    });
    let rt = runtime(2);
    let a = agent.clone();
    let total = rt
        .block_on(async move { tokio::spawn(async move { a.converse("c-1", 3).await }).await })
        .unwrap()
        .unwrap();
    assert_eq!(total, 30);
    let spans = all(&agent.tracer);
    assert_eq!(spans.len(), 4);
    let root = &spans[0];
    assert_eq!(
        (root.span_name.as_ref(), root.span_kind),
        ("converse", SpanKind::Server)
    );
    for llm in &spans[1..] {
        assert_eq!(llm.parent_span_id, Some(root.span_id));
        assert_eq!(llm.trace_id, root.trace_id);
        assert_eq!(
            llm.attributes.get("ai.conversation.id"),
            Some(&"c-1".into())
        );
    }
    assert_eq!(
        spans[3].attributes.get("ai.llm.response.output"),
        Some(&20.into())
    );

    assert!(rt.block_on(agent.call_llm(99)).is_err());
    let failed = all(&agent.tracer).pop().unwrap();
    assert_eq!(failed.span_status, SpanStatus::Error);
    assert_eq!(
        failed.attributes.get("exception.message"),
        Some(&"my error happened".into())
    );
}

#[test]
fn async_futures_are_send_and_support_every_receiver() {
    fn assert_send<T: Send>(t: T) -> T {
        t
    }
    let tracer = Arc::new(Tracer::in_memory(10));
    let mut agent = AsyncAgent {
        tracer: tracer.clone(),
    };
    let rt = runtime(2);
    assert_eq!(rt.block_on(assert_send(agent.mutate(5))), 5);
    let shared = Arc::new(agent);
    // `&self` methods borrow the tracer from `self` instead of leasing it: still `Send`.
    assert_eq!(rt.block_on(assert_send(shared.call_llm(2))).unwrap(), 20);
    assert_eq!(rt.block_on(assert_send(shared.owned("abc".into()))), 3);
    let mut names = span_names(&tracer);
    names.sort();
    assert_eq!(names, ["llm-invocation", "mutate", "owned"]);
}

#[test]
fn async_cancellation_and_panics() {
    let agent = AsyncAgent {
        tracer: Arc::new(Tracer::in_memory(10)),
    };
    let rt = runtime(2);
    rt.block_on(async {
        assert!(
            tokio::time::timeout(Duration::from_millis(10), agent.slow())
                .await
                .is_err()
        );
    });
    let slow = named(&agent.tracer, "slow");
    assert_eq!(slow.attributes.get("cancelled"), Some(&true.into()));
    assert_eq!(slow.span_status, SpanStatus::Unset);

    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(agent.explode())
    }));
    assert_eq!(
        caught.unwrap_err().downcast_ref::<&str>(),
        Some(&"async boom")
    );
    let boom = named(&agent.tracer, "explode");
    assert_eq!(boom.span_status, SpanStatus::Error);
    assert_eq!(
        boom.attributes.get("exception.message"),
        Some(&"async boom".into())
    );
}

// async fn in traits, and #[async_trait].
trait Fetch {
    fn tracer(&self) -> &Tracer;

    #[traced(tracer = self.tracer())]
    async fn fetch_default(&self, key: u8) -> u8 {
        key
    }
}

struct Fetcher {
    tracer: Tracer,
}

impl Fetch for Fetcher {
    fn tracer(&self) -> &Tracer {
        &self.tracer
    }
}

#[async_trait::async_trait]
trait Store {
    async fn load(&self, key: &str) -> Result<String, String>;
}

#[async_trait::async_trait]
impl Store for Fetcher {
    #[traced(kind = Client, attributes("key" = key), output = "value")]
    async fn load(&self, key: &str) -> Result<String, String> {
        tokio::task::yield_now().await;
        if key == "missing" {
            return Err(format!("no {key}"));
        }
        assert_eq!(self.tracer.current_trace().span_name(), Some("load"));
        Ok(key.repeat(2))
    }
}

#[test]
fn async_fn_in_traits_and_async_trait_methods() {
    let fetcher = Fetcher {
        tracer: Tracer::in_memory(10),
    };
    let rt = runtime(2);
    assert_eq!(rt.block_on(fetcher.fetch_default(4)), 4);
    assert_eq!(rt.block_on(fetcher.load("ab")).unwrap(), "abab");
    assert!(rt.block_on(fetcher.load("missing")).is_err());
    let store: &dyn Store = &fetcher;
    rt.block_on(async { tokio::spawn(async {}).await.unwrap() });
    let _ = rt.block_on(store.load("x"));
    let spans = all(&fetcher.tracer);
    assert_eq!(
        span_names(&fetcher.tracer),
        ["fetch_default", "load", "load", "load"]
    );
    let ok = &spans[1];
    assert_eq!(ok.span_kind, SpanKind::Client);
    assert_eq!(ok.attributes.get("key"), Some(&"ab".into()));
    assert_eq!(ok.attributes.get("value"), Some(&"abab".into()));
    assert_eq!(spans[2].span_status, SpanStatus::Error);
    assert_eq!(
        spans[2].attributes.get("exception.message"),
        Some(&"no missing".into())
    );
}

#[test]
fn many_concurrent_traced_tasks_stay_separate() {
    let agent = Arc::new(AsyncAgent {
        tracer: Arc::new(Tracer::in_memory(2000)),
    });
    let rt = runtime(2);
    rt.block_on(async {
        let handles: Vec<_> = (0..200)
            .map(|i| {
                let a = agent.clone();
                tokio::spawn(async move { a.converse(&format!("c-{i}"), 2).await.unwrap() })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    let spans = all(&agent.tracer);
    assert_eq!(spans.len(), 600);
    let roots: std::collections::HashMap<_, _> = spans
        .iter()
        .filter(|s| s.span_name == "converse")
        .map(|s| (s.span_id, s))
        .collect();
    for llm in spans.iter().filter(|s| s.span_name == "llm-invocation") {
        let root = roots[&llm.parent_span_id.unwrap()];
        assert_eq!(llm.trace_id, root.trace_id);
        assert_eq!(
            llm.attributes.get("ai.conversation.id"),
            root.attributes.get("ai.conversation.id")
        );
    }
}
