//! `analysis::{summary, critical_path}` and `render::{tree, timeline, to_json, to_jaeger_json}`
//! on hand-built traces with known times; renderer output pinned in tests/golden/render/.
//! After an intended change: `TRACEKIT_BLESS=1 cargo test --test analysis`, then review the
//! diff.

use std::time::Duration;

use serde_json::json;
use tracekit::analysis::{critical_path, summary};
use tracekit::genai::{COST_TABLE, COST_USD, UNPRICED};
use tracekit::render::{timeline, timeline_colored, to_jaeger_json, to_json, tree};
use tracekit::sinks::ColorChoice;
use tracekit::{Attributes, Scope, SpanId, SpanKind, SpanStatus, Timestamp, Trace, TraceId, Value};

const T0: i64 = 1_795_300_816_000_000_000;

fn at(ms: f64) -> Timestamp {
    Timestamp::from_unix_nanos(T0 + (ms * 1e6) as i64)
}

fn span(
    trace: u128,
    id: u64,
    parent: Option<u64>,
    name: &str,
    start: f64,
    end: Option<f64>,
) -> Trace {
    let mut resource = Attributes::new();
    resource.insert("service.name", "agent");
    Trace {
        span_name: name.to_owned().into(),
        span_kind: SpanKind::Internal,
        trace_id: TraceId::from_int(trace).unwrap(),
        span_id: SpanId::from_int(id).unwrap(),
        parent_span_id: parent.and_then(SpanId::from_int),
        started_at: at(start),
        ended_at: end.map(at),
        attributes: Attributes::new(),
        span_status: SpanStatus::Unset,
        resource_attributes: resource,
        scope: Scope::default(),
        events: Vec::new(),
        snapshot_at: end.is_none().then(|| at(start + 5.0)),
    }
}

fn with(mut t: Trace, pairs: &[(&str, Value)]) -> Trace {
    for (k, v) in pairs {
        t.attributes.insert(k.to_string(), v.clone());
    }
    t
}

fn llm(t: Trace, model: &str, input: u64, output: u64, cost: Option<f64>) -> Trace {
    let mut pairs = vec![
        ("gen_ai.operation.name", Value::from("chat")),
        ("gen_ai.request.model", Value::from(model)),
        ("gen_ai.usage.input_tokens", Value::from(input)),
        ("gen_ai.usage.output_tokens", Value::from(output)),
    ];
    match cost {
        Some(usd) => {
            pairs.push((COST_USD, Value::from(usd)));
            pairs.push((COST_TABLE, Value::from("t (d)")));
        }
        None => pairs.push((UNPRICED, Value::from(true))),
    }
    with(t, &pairs)
}

fn tool(t: Trace) -> Trace {
    with(t, &[("gen_ai.operation.name", Value::from("execute_tool"))])
}

/// A turn of 100 ms: an LLM call (0-40), two tools in parallel (40-70 and 40-90, the second
/// failing), a last LLM call (90-98, a model without a price).
fn turn() -> Vec<Trace> {
    let mut failing = tool(span(1, 4, Some(1), "execute_tool search", 40.0, Some(90.0)));
    failing.span_status = SpanStatus::Error;
    vec![
        span(1, 1, None, "invoke_agent planner", 0.0, Some(100.0)),
        llm(
            span(1, 2, Some(1), "chat claude-sonnet-4", 0.0, Some(40.0)),
            "claude-sonnet-4",
            1_200,
            300,
            Some(0.0081),
        ),
        tool(span(
            1,
            3,
            Some(1),
            "execute_tool weather",
            40.0,
            Some(70.0),
        )),
        failing,
        llm(
            span(1, 5, Some(1), "chat llama-3", 90.0, Some(98.0)),
            "llama-3",
            500,
            20,
            None,
        ),
    ]
}

fn golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/render")
        .join(name);
    if std::env::var_os("TRACEKIT_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (TRACEKIT_BLESS=1 writes it)", path.display()));
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

#[test]
fn summary_counts_tokens_cost_and_time() {
    let s = summary(&turn());
    assert_eq!(
        (s.traces, s.spans, s.llm_calls, s.tool_calls, s.errors),
        (1, 5, 2, 2, 1)
    );
    assert_eq!(
        (s.tokens.input, s.tokens.output, s.tokens.total()),
        (1_700, 320, 2_020)
    );
    assert!((s.cost_usd - 0.0081).abs() < 1e-12);
    assert_eq!(s.unpriced_calls, 1, "never counted as free");
    assert_eq!(s.models["claude-sonnet-4"].calls, 1);
    assert_eq!(s.models["llama-3"].unpriced_calls, 1);
    assert_eq!(s.wall_time, Duration::from_millis(100));
    assert_eq!(s.llm_time, Duration::from_millis(48));
    assert_eq!(
        s.tool_time,
        Duration::from_millis(50),
        "parallel tools counted once"
    );
    assert_eq!(s.own_time, Duration::from_millis(2));
}

#[test]
fn summary_reads_the_reference_usage_and_many_traces() {
    let mut spans = turn();
    spans.push(with(
        span(2, 9, None, "llm-invocation", 200.0, Some(210.0)),
        &[
            ("ai.trace.type", Value::from("llm-invocation")),
            (
                "ai.llm.response.usage",
                Value::from(json!({"inputTokens": 7, "outputTokens": 3, "totalTokens": 10})),
            ),
        ],
    ));
    let s = summary(&spans);
    assert_eq!(
        (s.traces, s.llm_calls, s.tokens.input, s.tokens.output),
        (2, 3, 1_707, 323)
    );
    assert_eq!(
        s.wall_time,
        Duration::from_millis(110),
        "each trace's own span of time"
    );
}

#[test]
fn critical_path_follows_the_last_to_finish() {
    let path = critical_path(&turn());
    let names: Vec<(&str, u128)> = path
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.self_time.as_millis()))
        .collect();
    // The failing tool (40-90) finished after the other (40-70): it is on the path.
    assert_eq!(
        names,
        [
            ("invoke_agent planner", 2),
            ("chat claude-sonnet-4", 40),
            ("execute_tool search", 50),
            ("chat llama-3", 8)
        ]
    );
    assert_eq!(path.total, Duration::from_millis(100));
    assert_eq!(path.steps[1].depth, 1);
}

#[test]
fn critical_path_ties_orphans_unended_and_skew() {
    // Two children ending together: the later start wins, then the lower id.
    let spans = vec![
        span(1, 1, None, "root", 0.0, Some(10.0)),
        span(1, 3, Some(1), "b", 2.0, Some(10.0)),
        span(1, 2, Some(1), "a", 2.0, Some(10.0)),
    ];
    let names: Vec<String> = critical_path(&spans)
        .steps
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["root", "a"]);

    // An orphan (its parent is elsewhere), an unended snapshot, and a child that "ends"
    // after its parent (another process's clock): no panic, times clamped.
    let spans = vec![
        span(1, 1, None, "root", 0.0, Some(10.0)),
        span(1, 2, Some(1), "skewed", 5.0, Some(30.0)),
        span(1, 7, Some(99), "orphan", 40.0, Some(50.0)),
        span(1, 8, Some(7), "open", 42.0, None),
    ];
    let path = critical_path(&spans);
    let steps: Vec<(&str, u128)> = path
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.self_time.as_millis()))
        .collect();
    assert_eq!(
        steps,
        [("root", 5), ("skewed", 5), ("orphan", 5), ("open", 5)]
    );
    assert_eq!(critical_path(&[]).steps.len(), 0);

    // A parent loop in corrupt data: still rendered and walked.
    let looped = vec![
        span(1, 1, Some(2), "x", 0.0, Some(1.0)),
        span(1, 2, Some(1), "y", 0.0, Some(1.0)),
    ];
    assert_eq!(critical_path(&looped).steps.len(), 2);
    assert_eq!(tree(&looped).lines().count(), 2);
}

#[test]
fn deep_and_wide_traces_do_not_overflow_or_crawl() {
    let mut deep: Vec<Trace> = (1..=10_000u64)
        .map(|i| {
            span(
                1,
                i,
                (i > 1).then(|| i - 1),
                "d",
                i as f64 * 0.001,
                Some(100.0 - i as f64 * 0.001),
            )
        })
        .collect();
    deep.reverse();
    assert_eq!(critical_path(&deep).steps.len(), 10_000);
    assert_eq!(tree(&deep).lines().count(), 10_000);
    let wide: Vec<Trace> = std::iter::once(span(1, 1, None, "root", 0.0, Some(1_000.0)))
        .chain((2..=100_000u64).map(|i| span(1, i, Some(1), "w", 1.0, Some(2.0))))
        .collect();
    assert_eq!(tree(&wide).lines().count(), 100_000);
    assert_eq!(summary(&wide).spans, 100_000);
}

#[test]
fn tree_golden() {
    let mut spans = turn();
    spans.push(span(
        1,
        6,
        Some(1),
        "ünïcode 名前 \u{1b}[31mred",
        98.0,
        Some(99.0),
    ));
    spans.push(span(1, 7, Some(42), "orphan", 99.0, None));
    golden("tree.txt", &tree(&spans));
}

#[test]
fn timeline_goldens_wide_and_narrow() {
    let mut spans = turn();
    spans.push(span(
        1,
        6,
        Some(1),
        "ünïcode 名前 and a name far too long for a narrow label",
        98.0,
        Some(99.0),
    ));
    golden("timeline-100.txt", &timeline(&spans, 100));
    golden("timeline-40.txt", &timeline(&spans, 40));
    golden("timeline-10.txt", &timeline(&spans, 10));
    let colored = timeline_colored(&spans, 100, ColorChoice::Always);
    assert!(colored.contains("\x1b[31m="), "the failing tool in red");
    assert_eq!(
        timeline_colored(&spans, 100, ColorChoice::Never),
        timeline(&spans, 100)
    );
    assert_eq!(timeline(&[], 80), "");
}

#[test]
fn json_exports() {
    let spans = turn();
    let json = to_json(&spans);
    assert_eq!(json["traces"].as_array().unwrap().len(), 1);
    let first = &json["traces"][0]["spans"][1];
    assert_eq!(first["name"], "chat claude-sonnet-4");
    assert_eq!(first["parent_span_id"], "0000000000000001");
    assert_eq!(first["duration_ms"], 40.0);
    assert_eq!(first["attributes"]["gen_ai.usage.input_tokens"], 1_200);

    let jaeger = to_jaeger_json(&spans);
    let trace = &jaeger["data"][0];
    assert_eq!(trace["traceID"], "00000000000000000000000000000001");
    assert_eq!(trace["processes"]["p1"]["serviceName"], "agent");
    let spans_json = trace["spans"].as_array().unwrap();
    assert_eq!(spans_json.len(), 5);
    let tool = spans_json
        .iter()
        .find(|s| s["operationName"] == "execute_tool search")
        .unwrap();
    assert_eq!(
        tool["references"],
        json!([{"refType": "CHILD_OF", "traceID": "00000000000000000000000000000001", "spanID": "0000000000000001"}])
    );
    assert_eq!(tool["startTime"], (T0 / 1_000 + 40_000));
    assert_eq!(tool["duration"], 50_000);
    assert_eq!(tool["processID"], "p1");
    let tags = tool["tags"].as_array().unwrap();
    assert!(tags.contains(&json!({"key": "error", "type": "bool", "value": true})));
    assert!(tags.contains(
        &json!({"key": "gen_ai.operation.name", "type": "string", "value": "execute_tool"})
    ));
    let llm = spans_json
        .iter()
        .find(|s| s["operationName"] == "chat claude-sonnet-4")
        .unwrap();
    assert!(llm["tags"]
        .as_array()
        .unwrap()
        .contains(&json!({"key": "gen_ai.usage.input_tokens", "type": "int64", "value": 1200})));
    assert_eq!(spans_json[0]["references"], json!([]));
}

mod arbitrary {
    use super::*;
    use proptest::prelude::*;

    /// Spans with arbitrary parent links (missing, looping, across traces), arbitrary times
    /// (ends before starts, unended), statuses and token attributes.
    fn spans() -> impl Strategy<Value = Vec<Trace>> {
        proptest::collection::vec(
            (
                1u128..3,
                1u64..40,
                proptest::option::of(1u64..45),
                -50.0f64..500.0,
                proptest::option::of(-50.0f64..500.0),
                0u8..3,
                any::<bool>(),
                ".{0,12}",
            ),
            0..40,
        )
        .prop_map(|rows| {
            rows.into_iter()
                .map(|(trace, id, parent, start, end, status, is_llm, name)| {
                    let mut t = span(trace, id, parent, &name, start, end);
                    t.span_status =
                        [SpanStatus::Unset, SpanStatus::Ok, SpanStatus::Error][status as usize];
                    if is_llm {
                        t = llm(
                            t,
                            &name,
                            id * 10,
                            id,
                            (id % 2 == 0).then_some(id as f64 / 1e4),
                        );
                    }
                    t
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn analysis_and_renderers_never_panic(spans in spans(), width in 0usize..200) {
            let s = summary(&spans);
            prop_assert_eq!(s.spans, spans.len());
            prop_assert!(s.llm_time + s.tool_time + s.own_time == s.wall_time);
            let path = critical_path(&spans);
            prop_assert!(path.steps.len() <= spans.len());
            prop_assert_eq!(tree(&spans).lines().count(), spans.len());
            prop_assert_eq!(timeline(&spans, width).lines().count(), spans.len());
            let _ = to_json(&spans);
            let _ = to_jaeger_json(&spans);
        }
    }
}

/// `diff`: statuses, attributes (ids ignored, an inherited change reported once), removed and
/// added spans, tolerances on totals alone, and trees too wide or deep for a table.
#[test]
fn diff_reports_what_changed_and_only_that() {
    use tracekit::analysis::{diff, diff_with, Change, DiffOptions, Tolerances};
    let before = turn();
    assert!(diff(&before, &before).is_same());
    // Other ids and conversation ids, same run: the same.
    let mut renamed: Vec<Trace> = turn()
        .into_iter()
        .map(|mut s| {
            s.trace_id = TraceId::from_int(99).unwrap();
            s.attributes.insert("ai.conversation.id", "conv-other");
            s
        })
        .collect();
    assert!(diff(&before, &renamed).is_same());
    // The failing tool now succeeds; the root's user changed (inherited by all: reported once).
    renamed[3].span_status = SpanStatus::Ok;
    for s in &mut renamed {
        s.attributes.insert("user", "u-2");
    }
    let report = diff(&before, &renamed);
    assert_eq!(
        report
            .changes
            .iter()
            .map(|c| (c.path.as_str(), &c.change))
            .collect::<Vec<_>>(),
        [
            (
                "invoke_agent planner",
                &Change::Attribute {
                    key: "user".into(),
                    from: None,
                    to: Some("u-2".into())
                }
            ),
            (
                "invoke_agent planner > execute_tool search",
                &Change::Status {
                    from: SpanStatus::Error,
                    to: SpanStatus::Ok
                }
            ),
        ],
        "{report}"
    );
    assert!(!report.is_same() && report.tool_calls.is_none());
    // Ignored keys do not count.
    let quiet = diff_with(&before, &renamed, &DiffOptions::new().ignore("user"));
    assert_eq!(quiet.changes.len(), 1);
    // A removed tool: named, and the tool calls differ.
    let fewer: Vec<Trace> = turn()
        .into_iter()
        .filter(|s| s.span_name != "execute_tool weather")
        .collect();
    let report = diff(&before, &fewer);
    assert_eq!(report.changes.len(), 1);
    assert_eq!(
        report.changes[0].path,
        "invoke_agent planner > execute_tool weather"
    );
    assert_eq!(report.changes[0].change, Change::Removed);
    assert!(report.tool_calls.is_some());
    // Same shape, more tokens: the same, unless a tolerance says otherwise.
    let mut hungrier = turn();
    hungrier[1] = llm(
        span(1, 2, Some(1), "chat claude-sonnet-4", 0.0, Some(40.0)),
        "claude-sonnet-4",
        2_400,
        600,
        Some(0.0162),
    );
    let report = diff(&before, &hungrier);
    assert!(report.is_same(), "{report}");
    assert!(report.beyond(&Tolerances::default()).is_empty());
    let limits = Tolerances {
        max_tokens_increase: Some(0.5),
        max_cost_increase: Some(1.5),
        ..Tolerances::default()
    };
    let beyond = report.beyond(&limits);
    assert_eq!(beyond.len(), 1, "{beyond:?}");
    assert!(
        beyond[0].starts_with("tokens grew +74.3 % (from 2020 to 3520)"),
        "{beyond:?}"
    );
    // 10 000 siblings with one inserted in the middle, and 10 000 levels: aligned, no overflow.
    let wide = |extra: bool| -> Vec<Trace> {
        let mut v = vec![span(1, 1, None, "root", 0.0, Some(1_000.0))];
        for i in 0..10_000u64 {
            v.push(span(
                1,
                i + 2,
                Some(1),
                &format!("step-{}", i % 7),
                i as f64 * 0.01,
                Some(i as f64 * 0.01 + 0.005),
            ));
            if extra && i == 5_000 {
                v.push(span(
                    1,
                    20_000,
                    Some(1),
                    "inserted",
                    i as f64 * 0.01 + 0.001,
                    Some(i as f64 * 0.01 + 0.002),
                ));
            }
        }
        v
    };
    let report = diff(&wide(false), &wide(true));
    assert_eq!(
        report.changes.len(),
        1,
        "{:?}",
        &report.changes[..report.changes.len().min(3)]
    );
    assert_eq!(report.changes[0].path, "root > inserted");
    let deep: Vec<Trace> = (1..=10_000u64)
        .map(|i| {
            span(
                1,
                i,
                (i > 1).then(|| i - 1),
                "d",
                i as f64 * 0.001,
                Some(100.0),
            )
        })
        .collect();
    assert!(diff(&deep, &deep).is_same());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// For random trees: a tree diffs clean against itself, additions and removals are
    /// bounded by the trees, and a diff without changes means the same spans.
    #[test]
    fn diff_counts_added_and_removed_spans(
        a in proptest::collection::vec((0..4usize, 0..5u64), 1..40),
        b in proptest::collection::vec((0..4usize, 0..5u64), 1..40),
    ) {
        use tracekit::analysis::{diff, Change};
        // Each span: a name out of four, a parent among the earlier spans (or the root).
        let build = |shape: &[(usize, u64)]| -> Vec<Trace> {
            let mut v = vec![span(1, 1, None, "root", 0.0, Some(1_000.0))];
            for (i, (name, parent)) in shape.iter().enumerate() {
                let id = i as u64 + 2;
                let parent = 1 + parent % (id - 1);
                v.push(span(1, id, Some(parent), ["a", "b", "c", "d"][*name], i as f64, Some(i as f64 + 0.5)));
            }
            v
        };
        let (x, y) = (build(&a), build(&b));
        proptest::prop_assert!(diff(&x, &x).is_same());
        let report = diff(&x, &y);
        let added = report.changes.iter().filter(|c| c.change == Change::Added).count();
        let removed = report.changes.iter().filter(|c| c.change == Change::Removed).count();
        // An added or removed span stands for its whole subtree.
        proptest::prop_assert!(added < y.len() && removed < x.len());
        // No change reported: the trees hold the same names.
        if report.changes.is_empty() {
            let names = |t: &[Trace]| {
                let mut n: Vec<String> = t.iter().map(|s| s.span_name.to_string()).collect();
                n.sort();
                n
            };
            proptest::prop_assert_eq!(names(&x), names(&y));
        }
    }
}
