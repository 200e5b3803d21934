//! The DynamoDB store: [`Tracer::dynamodb`](crate::Tracer::dynamodb).

mod item;

use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, PutRequest, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, WriteRequest,
};
use aws_sdk_dynamodb::Client;

use super::store::{ReadBack, Store, Stored};
use crate::batch::{ExportError, Exporter, Retries};
use crate::query::{Page, Query, TraceHead};
use crate::BatchConfig;
use crate::{Error, StoreProblem, Trace, TraceFilter, Tracer};
use item::{Item, Layout};

/// The most items one `BatchWriteItem` request may carry.
const BATCH_WRITE_MAX: usize = 25;

/// How to reach a DynamoDB table; [`Tracer::dynamodb`](crate::Tracer::dynamodb) opens it.
///
/// The items are the reference toolkit's (its `DynamoDbTracer`): partition key
/// `pk = TRACE#{trace_id}`, sort key `sk = SPAN#{identifier or _}#{start µs, 17 hex
/// digits}#{span_id}`, the span's fields as strings, the merged and resource attributes as
/// DynamoDB maps (numbers as numbers, nested maps as maps), `expire_at` for the table's TTL,
/// and `conversation_id = {ai.conversation.id}#{ai.subcontext.id or _}` for the
/// conversation GSI. The reference's `DynamoDbTracer` reads tracekit's items, and tracekit
/// reads the reference's. Span events, which the reference has not, are an extra `events`
/// list it ignores.
///
/// Where DynamoDB differs from the SQLite store:
///
/// * maps have no order in DynamoDB: attributes come back sorted by key;
/// * numbers hold 38 digits between 1e-130 and 1e126: non-finite floats are stored as the
///   strings `"NaN"`, `"Infinity"`, `"-Infinity"`, and floats outside that range as their
///   text, and read back as strings; every `i64`, `u64` and other float is exact, but
///   DynamoDB normalises numbers, so an integral float (`2.0`) reads back as the integer `2`
///   (equal to it as a [`Value`](crate::Value));
/// * timestamps are kept to the microsecond (as the reference does).
///
/// # Writing
///
/// Spans are queued on the traced thread (no I/O there) and written by the store's own
/// thread in `BatchWriteItem` requests of up to 25 items, four in flight at a time. Throttling, server errors and
/// `UnprocessedItems` are retried with exponential backoff and full jitter. A retried span
/// stays one item: its key is made from the span alone (trace, identifier, start time and
/// span id), and a put of an existing key replaces the item with the same content.
///
/// # Reading
///
/// `get_traces` queries by trace id (then applies the rest of the filter, which the
/// reference ignores), or by `ai.conversation.id` through the GSI, following pagination. The
/// GSI key joins the conversation with its subcontext, so a filter with a conversation reads
/// the spans of `ai.subcontext.id` when the filter gives one (a string), and otherwise the
/// spans outside any subcontext (the reference's `{conversation}#_` partition). A filter
/// with neither key is an [`Error::Store`] naming the keys to give, unless table scans are
/// allowed ([`allow_scan`](Self::allow_scan)).
///
/// # Connection
///
/// The standard AWS configuration applies: `AWS_REGION`, `AWS_PROFILE`, `AWS_ACCESS_KEY_ID`
/// and the rest of the credential chain, `AWS_ENDPOINT_URL`; [`endpoint`](Self::endpoint),
/// [`region`](Self::region) and [`static_credentials`](Self::static_credentials) override
/// them.
///
/// ```no_run
/// use tracekit::{DynamoDbConfig, Tracer};
/// let tracer = Tracer::dynamodb(
///     DynamoDbConfig::new("traces")
///         .endpoint("http://127.0.0.1:8000") // a local server; else AWS
///         .region("us-east-1")
///         .identifier("WeatherAgent")
///         .create_table(true),
/// )?;
/// # Ok::<(), tracekit::Error>(())
/// ```
#[derive(Clone)]
#[must_use = "a configuration does nothing until it is given to `Tracer::dynamodb`"]
pub struct DynamoDbConfig {
    table: String,
    gsi_name: String,
    identifier: Option<String>,
    ttl: Option<Duration>,
    endpoint: Option<String>,
    region: Option<String>,
    credentials: Option<(String, String)>,
    create_table: bool,
    allow_scan: bool,
    batch: BatchConfig,
    request_timeout: Duration,
    spool: Option<super::Spool>,
}

/// Shows every setting but the secret access key.
impl std::fmt::Debug for DynamoDbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoDbConfig")
            .field("table", &self.table)
            .field("gsi_name", &self.gsi_name)
            .field("identifier", &self.identifier)
            .field("ttl", &self.ttl)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(id, _)| (id, "<secret>")),
            )
            .field("create_table", &self.create_table)
            .field("allow_scan", &self.allow_scan)
            .field("batch", &self.batch)
            .field("request_timeout", &self.request_timeout)
            .field("spool", &self.spool)
            .finish()
    }
}

impl DynamoDbConfig {
    /// The table `table`, with the reference's defaults: GSI `by_conversation_id`, no
    /// identifier, TTL 30 days; a queue of 65 536 spans that drops when full.
    pub fn new(table: impl Into<String>) -> Self {
        DynamoDbConfig {
            table: table.into(),
            gsi_name: "by_conversation_id".into(),
            identifier: None,
            ttl: Some(Duration::from_secs(30 * 24 * 3600)),
            endpoint: None,
            region: None,
            credentials: None,
            create_table: false,
            allow_scan: false,
            batch: BatchConfig::with(65_536, 500, Duration::from_millis(100)),
            request_timeout: Duration::from_secs(10),
            spool: None,
        }
    }

    /// The conversation GSI's name.
    pub fn gsi_name(mut self, name: impl Into<String>) -> Self {
        self.gsi_name = name.into();
        self
    }

    /// Tags every item's sort key with this identifier and reads back only those items.
    pub fn identifier(mut self, identifier: impl Into<String>) -> Self {
        self.identifier = Some(identifier.into());
        self
    }

    /// Items expire this long after their span started (`expire_at`); `None` writes no TTL.
    pub fn ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }

    /// The endpoint URL, e.g. a local DynamoDB-compatible server (`http://127.0.0.1:8000`).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// The AWS region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Fixed credentials instead of the credential chain (for a local server, any will do).
    pub fn static_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.credentials = Some((access_key_id.into(), secret_access_key.into()));
        self
    }

    /// Creates the table if it is missing: on-demand billing, the GSI, TTL on `expire_at`.
    pub fn create_table(mut self, create: bool) -> Self {
        self.create_table = create;
        self
    }

    /// Lets `get_traces` scan the whole table for a filter with neither a trace id nor a
    /// conversation id (slow and billed per item read; off by default).
    pub fn allow_scan(mut self, allow: bool) -> Self {
        self.allow_scan = allow;
        self
    }

    /// The longest one request may take, retries not included.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }
}

// The writer sends at most 25 items per request, DynamoDB's limit, whatever the batch size.
crate::batch::batch_settings!(DynamoDbConfig);
super::spool_setting!(DynamoDbConfig);

impl Tracer {
    /// Stores finished spans in a DynamoDB table in the reference toolkit's item layout
    /// (feature `dynamodb`). See [`DynamoDbConfig`].
    ///
    /// Checks the table first (creating it if [`create_table`](DynamoDbConfig::create_table)
    /// is set): a missing table, or an endpoint that cannot be reached, is an
    /// [`Error::Store`](crate::Error::Store) here rather than failures later.
    #[cfg_attr(docsrs, doc(cfg(feature = "dynamodb")))]
    pub fn dynamodb(config: DynamoDbConfig) -> Result<Tracer, Error> {
        Ok(open(config)?.into_tracer())
    }
}

/// What reads need: the client, on the store's runtime.
#[derive(Clone)]
struct Reader {
    runtime: std::sync::Arc<Runtime>,
    client: Client,
    table: String,
    gsi_name: String,
    identifier: Option<String>,
    allow_scan: bool,
}

/// A tokio runtime of the store's own: its one worker thread drives the SDK's I/O, so the
/// store works the same whether or not the user's code runs on tokio.
struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    fn new() -> Result<Runtime, Error> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tracekit-dynamodb-io")
            .enable_all()
            .build()
            .map(|rt| Runtime(Some(rt)))
            .map_err(|e| Error::Sink {
                sink: "dynamodb",
                operation: "start its runtime",
                message: e.to_string(),
            })
    }

    /// Runs `future` on the runtime and waits for it from this (non-async) thread; works
    /// inside another runtime too, since this thread only waits on a channel. A future that
    /// panics (inside the SDK) is an error, not a panic here.
    fn run<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, StoreProblem> {
        let (tx, rx) = mpsc::sync_channel(1);
        let Some(runtime) = &self.0 else {
            return Err(StoreProblem::Backend("the store has shut down".into()));
        };
        runtime.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv().map_err(|_| {
            StoreProblem::Backend("a request panicked inside the AWS SDK; see stderr".into())
        })
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime; this does not.
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

fn store_error(table: &str, problem: StoreProblem) -> Error {
    Error::Store {
        location: format!("DynamoDB table `{table}`"),
        problem,
    }
}

/// The error's code and message, for messages and retry decisions.
fn describe<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: &SdkError<E, HttpResponse>,
) -> String {
    match e {
        SdkError::ServiceError(s) => format!(
            "{}: {}",
            s.err().code().unwrap_or("error"),
            s.err().message().unwrap_or("(no message)")
        ),
        // The source chain says what failed (connection refused, timeout, ...).
        other => {
            let mut message = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                message.push_str(": ");
                message.push_str(&s.to_string());
                source = s.source();
            }
            message
        }
    }
}

/// Checks the table and starts the writer: the sink behind [`Tracer::dynamodb`].
fn open(config: DynamoDbConfig) -> Result<Store<Reader>, Error> {
    let runtime = std::sync::Arc::new(Runtime::new()?);
    let table = config.table.clone();
    let client = runtime
        .run(client(config.clone()))
        .map_err(|problem| store_error(&table, problem))?;
    let check = {
        let (client, config) = (client.clone(), config.clone());
        runtime.run(async move { ensure_table(&client, &config).await })
    };
    check
        .and_then(|checked| checked)
        .map_err(|problem| store_error(&table, problem))?;
    let reader = Reader {
        runtime: runtime.clone(),
        client: client.clone(),
        table: config.table.clone(),
        gsi_name: config.gsi_name.clone(),
        identifier: config.identifier.clone(),
        allow_scan: config.allow_scan,
    };
    let writer = DynamoWriter {
        runtime,
        client,
        table: config.table.clone(),
        identifier: config.identifier.clone(),
        ttl_seconds: config.ttl.map(|t| t.as_secs() as i64),
    };
    Ok(Store {
        queue: super::start_queue(Reader::NAME, &config.batch, config.spool.as_ref(), writer)?,
        behind: Stored(reader),
    })
}

async fn client(config: DynamoDbConfig) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        // Retries are the store's own (see `DynamoWriter::export_with`), in one place.
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(config.request_timeout)
                .build(),
        );
    if let Some(region) = config.region {
        loader = loader.region(Region::new(region));
    }
    if let Some(endpoint) = config.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some((key, secret)) = config.credentials {
        loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            key, secret, None, None, "tracekit",
        ));
    }
    Client::new(&loader.load().await)
}

/// Checks that the table exists, or creates it (with its GSI and TTL) when asked.
async fn ensure_table(client: &Client, config: &DynamoDbConfig) -> Result<(), StoreProblem> {
    let described = client
        .describe_table()
        .table_name(&config.table)
        .send()
        .await;
    match described {
        Ok(_) => return Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            if !config.create_table {
                return Err(StoreProblem::Backend(
                    "the table does not exist; create it (see DynamoDbConfig for its keys and GSI) \
                     or set DynamoDbConfig::create_table(true)"
                        .into(),
                ));
            }
        }
        Err(e) => {
            return Err(StoreProblem::Backend(format!(
                "cannot reach it: {}",
                describe(&e)
            )))
        }
    }
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("name and type are set")
    };
    let string = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("name and type are set")
    };
    let gsi = GlobalSecondaryIndex::builder()
        .index_name(&config.gsi_name)
        .key_schema(key("conversation_id", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| StoreProblem::Backend(e.to_string()))?;
    let created = client
        .create_table()
        .table_name(&config.table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(string("pk"))
        .attribute_definitions(string("sk"))
        .attribute_definitions(string("conversation_id"))
        .global_secondary_indexes(gsi)
        .send()
        .await;
    if let Err(e) = created {
        // Another process may have created it in the meantime.
        if !e
            .as_service_error()
            .is_some_and(|s| s.is_resource_in_use_exception())
        {
            return Err(StoreProblem::Backend(format!(
                "cannot create it: {}",
                describe(&e)
            )));
        }
    }
    // Wait until it is ACTIVE (a minute at most).
    for _ in 0..600 {
        let status = client
            .describe_table()
            .table_name(&config.table)
            .send()
            .await
            .ok()
            .and_then(|d| d.table.and_then(|t| t.table_status));
        if status == Some(TableStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ttl = client
        .update_time_to_live()
        .table_name(&config.table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expire_at")
                .build()
                .expect("name and flag are set"),
        )
        .send()
        .await;
    if let Err(e) = ttl {
        // Some local servers do not implement TTL; the items still carry `expire_at`.
        eprintln!(
            "tracekit: could not enable TTL on DynamoDB table `{}` ({}); items keep `expire_at` for when it is",
            config.table,
            describe(&e)
        );
    }
    Ok(())
}

impl ReadBack for Reader {
    const NAME: &'static str = "dynamodb";

    fn candidates(&self, filter: &TraceFilter, each: &mut dyn FnMut(Trace)) -> Result<(), Error> {
        let reader = self.clone();
        let filter = filter.clone();
        let items = self
            .runtime
            .run(async move { reader.items(&filter).await })
            .and_then(|items| items)
            .map_err(|problem| store_error(&self.table, problem))?;
        for item in &items {
            each(item::decode(item).map_err(|p| store_error(&self.table, p))?);
        }
        Ok(())
    }

    /// A conversation's traces come from the conversation index; listing every trace reads
    /// the whole table, which only a store with `allow_scan` does (otherwise a
    /// `StoreProblem::UnsupportedFilter` that says so).
    fn list(&self, query: &Query) -> Option<Result<Page<TraceHead>, Error>> {
        let filter = match &query.conversation {
            Some(id) => TraceFilter::new().attribute("ai.conversation.id", id.clone()),
            None => TraceFilter::new(),
        };
        let mut spans = Vec::new();
        Some(
            self.candidates(&filter, &mut |t| spans.push(t))
                .map(|()| crate::query::scan(&spans, query)),
        )
    }
}

impl Reader {
    /// The items that may match `filter`: a query by trace, a query of the conversation
    /// GSI, or (if allowed) a scan; every page.
    async fn items(&self, filter: &TraceFilter) -> Result<Vec<Item>, StoreProblem> {
        let prefix = item::sk_prefix(self.identifier.as_deref());
        let conversation = filter.attributes.get("ai.conversation.id");
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            // Both keys are a partition key and the sort-key prefix.
            let key = if let Some(trace_id) = filter.trace_id {
                Some((None, "pk", item::pk(trace_id)))
            } else {
                conversation.map(|conversation| {
                    let sub = filter.attributes.get("ai.subcontext.id");
                    (
                        Some(&self.gsi_name),
                        "conversation_id",
                        item::conversation_key(conversation, sub),
                    )
                })
            };
            let page = if let Some((index, name, value)) = key {
                self.client
                    .query()
                    .table_name(&self.table)
                    .set_index_name(index.cloned())
                    .key_condition_expression("#n0 = :v0 AND begins_with(#n1, :v1)")
                    .expression_attribute_names("#n0", name)
                    .expression_attribute_names("#n1", "sk")
                    .expression_attribute_values(":v0", Av::S(value))
                    .expression_attribute_values(":v1", Av::S(prefix.clone()))
                    .scan_index_forward(true)
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map(|o| (o.items.unwrap_or_default(), o.last_evaluated_key))
                    .map_err(|e| describe(&e))
            } else if self.allow_scan {
                self.client
                    .scan()
                    .table_name(&self.table)
                    .filter_expression("begins_with(#n1, :v1)")
                    .expression_attribute_names("#n1", "sk")
                    .expression_attribute_values(":v1", Av::S(prefix.clone()))
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map(|o| (o.items.unwrap_or_default(), o.last_evaluated_key))
                    .map_err(|e| describe(&e))
            } else {
                return Err(StoreProblem::UnsupportedFilter(
                    "DynamoDB reads spans by key: give the filter a trace id \
                     (TraceFilter::trace_id) or an `ai.conversation.id` attribute (with \
                     `ai.subcontext.id` for a subcontext), or allow table scans with \
                     DynamoDbConfig::allow_scan(true)"
                        .into(),
                ));
            };
            let (items, next) = page.map_err(StoreProblem::Backend)?;
            out.extend(items);
            match next {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(out),
            }
        }
    }
}

/// The writer thread's side: `BatchWriteItem` requests of 25, retried.
struct DynamoWriter {
    runtime: std::sync::Arc<Runtime>,
    client: Client,
    table: String,
    identifier: Option<String>,
    ttl_seconds: Option<i64>,
}

/// `BatchWriteItem` requests one writer keeps in flight.
const IN_FLIGHT: usize = 4;

/// Throttling and server errors are retried per request, within the retry budget
/// (`export_with`); `export` is one try of each request.
impl Exporter for DynamoWriter {
    fn export(&mut self, batch: &[Trace]) -> Result<(), ExportError> {
        self.export_with(batch, &Retries::none())
    }

    fn export_with(&mut self, batch: &[Trace], retries: &Retries<'_>) -> Result<(), ExportError> {
        let layout = Layout {
            identifier: self.identifier.as_deref(),
            ttl_seconds: self.ttl_seconds,
        };
        let requests: Vec<Vec<WriteRequest>> = batch
            .chunks(BATCH_WRITE_MAX)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|t| {
                        WriteRequest::builder()
                            .put_request(
                                PutRequest::builder()
                                    .set_item(Some(item::encode(t, &layout)))
                                    .build()
                                    .expect("the item is set"),
                            )
                            .build()
                    })
                    .collect()
            })
            .collect();
        let (client, table, retry_for) =
            (self.client.clone(), self.table.clone(), retries.budget());
        let failed = self.runtime.run(async move {
            // A few requests in flight at once: each waits mostly on the network.
            let mut in_flight = tokio::task::JoinSet::new();
            let mut failed = 0usize;
            let mut first_error = None;
            let mut out_of_time = false;
            let mut settle = |done: Result<Result<(), BatchFailure>, tokio::task::JoinError>| {
                let (n, e, may_pass) = match done {
                    Ok(Ok(())) => return,
                    Ok(Err(failure)) => failure,
                    Err(e) => (
                        BATCH_WRITE_MAX,
                        format!("a request task failed: {e}"),
                        false,
                    ),
                };
                failed += n;
                out_of_time |= may_pass;
                first_error.get_or_insert(e);
            };
            for request in requests {
                if in_flight.len() == IN_FLIGHT {
                    if let Some(done) = in_flight.join_next().await {
                        settle(done);
                    }
                }
                let (client, table) = (client.clone(), table.clone());
                in_flight
                    .spawn(async move { write_batch(&client, &table, request, retry_for).await });
            }
            while let Some(done) = in_flight.join_next().await {
                settle(done);
            }
            first_error.map(|e| (failed, e, out_of_time))
        });
        match failed {
            Ok(None) => Ok(()),
            Ok(Some((n, e, out_of_time))) => {
                if out_of_time {
                    retries.note_gave_up();
                }
                Err(ExportError::Failed(format!("{n} spans not written: {e}")))
            }
            Err(problem) => Err(ExportError::Failed(problem.to_string())),
        }
    }
}

/// Spans of a request that were not written, why, and whether it may pass later (time ran
/// out on a failure worth retrying).
type BatchFailure = (usize, String, bool);

/// Sends one `BatchWriteItem`, resending `UnprocessedItems` and retrying throttling and
/// server errors with exponential backoff and full jitter for up to `retry_for`.
async fn write_batch(
    client: &Client,
    table: &str,
    mut request: Vec<WriteRequest>,
    retry_for: Duration,
) -> Result<(), BatchFailure> {
    let started = std::time::Instant::now();
    let mut backoff = Duration::from_millis(25);
    let mut last_error = String::new();
    let mut attempt = 0;
    loop {
        attempt += 1;
        if attempt > 1 {
            if started.elapsed() >= retry_for {
                break;
            }
            // Full jitter: a random wait up to the current backoff, so writers that were
            // throttled together do not retry together.
            let wait = backoff.mul_f64(fastrand::f64());
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
        let sent = client
            .batch_write_item()
            .request_items(table, request.clone())
            .send()
            .await;
        match sent {
            Ok(output) => {
                let unprocessed = output
                    .unprocessed_items
                    .and_then(|mut m| m.remove(table))
                    .unwrap_or_default();
                if unprocessed.is_empty() {
                    return Ok(());
                }
                last_error = format!("{} items left unprocessed", unprocessed.len());
                request = unprocessed;
            }
            Err(e) if retryable(&e) => last_error = describe(&e),
            Err(e) => return Err((request.len(), describe(&e), false)),
        }
    }
    Err((
        request.len(),
        format!(
            "gave up after {} attempts in {:.1} s: {last_error}",
            attempt - 1,
            started.elapsed().as_secs_f64()
        ),
        true,
    ))
}

fn retryable<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    match e {
        SdkError::ServiceError(s) => {
            matches!(
                s.err().code(),
                Some(
                    "ProvisionedThroughputExceededException"
                        | "ThrottlingException"
                        | "RequestLimitExceeded"
                        | "InternalServerError"
                        | "ServiceUnavailable"
                        | "LimitExceededException"
                )
            ) || s.raw().status().is_server_error()
        }
        // Timeouts, connection failures, unreadable responses: worth another try.
        _ => true,
    }
}
