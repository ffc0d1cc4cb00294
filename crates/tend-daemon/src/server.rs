//! The HTTP/JSON API (axum), on the control socket and optionally on TCP
//! (where a bearer token is demanded). Every error is a 4xx or 5xx with
//! `{ "error": { "code", "message" } }`.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, Query, Request, State as AxumState};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::{DeserializeOwned, IntoDeserializer};
use subtle::ConstantTimeEq;
use tend_journal::{Journal, Query as JournalQuery};
use tend_process::Signal;
use tend_wire::{
    ActOptions, Action, Entry, ErrorBody, ErrorCode, ErrorDetail, EventsQuery, Health,
    HealthStatus, LogsQuery, RecordKind, ReloadQuery, ServicesQuery, ShuttingDown, SignalRequest,
    UpgradeRequest, WatchQuery,
};
use tokio::sync::{broadcast, mpsc};

use crate::control::Control;
use crate::failure::Failure;
use crate::logs;
use crate::metrics::SharedMetrics;
use crate::watch::WatchOptions;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct Api {
    /// The tree.
    pub control: Arc<Control>,
    /// The metrics.
    pub metrics: SharedMetrics,
    /// The journal file, for history.
    pub journal_file: PathBuf,
    /// Whether it serves the TCP listener, where an upgrade may only make
    /// the daemon its own binary again: choosing the program tend runs is
    /// for the control socket's owner, who can run it anyway.
    pub remote: bool,
}

/// The routes, for the control socket: the API, the probes and the
/// dashboard.
pub fn router(api: Api) -> Router {
    api_routes(api.clone())
        .merge(probe_routes(api))
        .merge(crate::dashboard::routes())
}

/// What kubelet (or any load balancer) asks, without a token on TCP:
/// `/healthz` and `/readyz`, which say no more than yes or no and counts.
fn probe_routes(api: Api) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(api)
}

/// The API's routes.
fn api_routes(api: Api) -> Router {
    Router::new()
        .route("/v1/daemon", get(daemon))
        .route("/v1/services", get(services))
        .route("/v1/services/{name}", get(service))
        .route("/v1/services/{name}/logs", get(service_logs))
        .route("/v1/services/{name}/signal", post(signal))
        .route("/v1/services/{name}/{action}", post(act))
        .route("/v1/logs", get(logs_of))
        .route("/v1/events", get(events))
        .route("/v1/watch", get(watch))
        .route("/v1/ps", get(ps))
        .route("/v1/reload", post(reload))
        .route("/v1/shutdown", post(shutdown))
        .route("/v1/upgrade", post(upgrade))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            error(
                ErrorCode::NotFound,
                "no such resource (see docs/openapi.json)",
            )
        })
        .with_state(api)
}

/// The routes for TCP: the API behind a bearer token, and the dashboard's
/// page, which holds no data (everything it shows it asks the API for,
/// with the token).
pub fn router_with_token(api: Api, token: String) -> Router {
    let token: Arc<[u8]> = Arc::from(format!("Bearer {token}").into_bytes());
    let probes = probe_routes(api.clone());
    let api = api_routes(api).layer(middleware::from_fn(move |request: Request, next: Next| {
        let token = token.clone();
        async move {
            let sent = request
                .headers()
                .get(header::AUTHORIZATION)
                .map(HeaderValue::as_bytes)
                .unwrap_or_default();
            // Constant time: how much of a guess was right must not show.
            if bool::from(sent.ct_eq(&token)) {
                next.run(request).await
            } else {
                error(
                    ErrorCode::Unauthorized,
                    "a valid `Authorization: Bearer <token>` header is required",
                )
            }
        }
    }));
    api.merge(probes).merge(crate::dashboard::routes())
}

fn error(code: ErrorCode, message: impl Into<String>) -> Response {
    error_with(code, message.into(), Vec::new())
}

fn error_with(code: ErrorCode, message: String, details: Vec<String>) -> Response {
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = ErrorBody {
        error: ErrorDetail {
            code,
            message,
            details,
        },
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        error_with(self.code, self.message, self.details)
    }
}

/// A query string, or a 400 in the API's error shape (axum's own
/// rejection is plain text).
struct ApiQuery<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(query)) => Ok(ApiQuery(query)),
            Err(rejection) => Err(error(
                ErrorCode::BadRequest,
                format!("bad query: {}", rejection.body_text()),
            )),
        }
    }
}

async fn daemon(AxumState(api): AxumState<Api>) -> Response {
    Json(api.control.info()).into_response()
}

/// Every instance, or (`?services=`) those the names resolve to.
async fn services(
    AxumState(api): AxumState<Api>,
    ApiQuery(query): ApiQuery<ServicesQuery>,
) -> Response {
    if query.services.is_empty() {
        return Json(api.control.status(query.usage)).into_response();
    }
    match api.control.resolve(&query.services.0) {
        Ok(names) => Json(api.control.board().statuses(&names, query.usage)).into_response(),
        Err(failure) => failure.into_response(),
    }
}

async fn service(
    AxumState(api): AxumState<Api>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<ServicesQuery>,
) -> Response {
    let board = api.control.board();
    let layout = board.layout();
    if layout.instance(&name).is_some() {
        if let Some(found) = board
            .statuses(std::slice::from_ref(&name), query.usage)
            .pop()
        {
            return Json(found).into_response();
        }
    }
    let instances: Vec<&str> = layout
        .instances
        .iter()
        .filter(|i| i.service == name)
        .map(|i| i.name.as_str())
        .collect();
    if instances.is_empty() {
        error(
            ErrorCode::UnknownService,
            format!("no service called {name:?}"),
        )
    } else {
        error(
            ErrorCode::UnknownService,
            format!(
                "{name:?} has replicas: ask for one of {}",
                instances.join(", ")
            ),
        )
    }
}

async fn act(
    AxumState(api): AxumState<Api>,
    Path((name, action)): Path<(String, String)>,
    ApiQuery(options): ApiQuery<ActOptions>,
) -> Response {
    let Ok(action) = word::<Action>(&action) else {
        return error(
            ErrorCode::NotFound,
            format!("no action {action:?}: expected start, stop, restart, kill or signal"),
        );
    };
    match api.control.act(&name, action, options).await {
        Ok(acted) => Json(acted).into_response(),
        Err(failure) => failure.into_response(),
    }
}

async fn signal(
    AxumState(api): AxumState<Api>,
    Path(name): Path<String>,
    body: Result<Json<SignalRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => {
            return error(
                ErrorCode::BadRequest,
                format!(
                    "bad body: {} (expected {{\"signal\": \"SIGHUP\"}})",
                    rejection.body_text()
                ),
            )
        }
    };
    let signal = match request.signal.parse::<Signal>() {
        Ok(signal) => signal,
        Err(unknown) => return error(ErrorCode::BadSignal, unknown.to_string()),
    };
    match api.control.signal(&name, signal).await {
        Ok(acted) => Json(acted).into_response(),
        Err(failure) => failure.into_response(),
    }
}

async fn service_logs(
    AxumState(api): AxumState<Api>,
    Path(name): Path<String>,
    ApiQuery(mut query): ApiQuery<LogsQuery>,
) -> Response {
    query.services = tend_wire::List(vec![name]);
    logs_response(api, query).await
}

async fn logs_of(AxumState(api): AxumState<Api>, ApiQuery(query): ApiQuery<LogsQuery>) -> Response {
    logs_response(api, query).await
}

/// The last lines of each instance's log, then (with `follow`) new lines
/// as they come; each line prefixed by its instance when there are several.
async fn logs_response(api: Api, query: LogsQuery) -> Response {
    let instances = match api.control.resolve(&query.services.0) {
        Ok(found) => found,
        Err(failure) => return failure.into_response(),
    };
    let prefix = instances.len() > 1;
    let width = instances.iter().map(String::len).max().unwrap_or(0);
    let sinks = api.control.sinks().clone();
    let (lines, follow) = (query.lines, query.follow);
    // Off the runtime: a follower's start writes what waits for the file
    // (`LogSink::follow_after`), so that the file's last lines and the
    // live ones that follow meet without a gap or a line twice.
    let read = tokio::task::spawn_blocking(move || {
        let mut history = Vec::new();
        let mut followers: Vec<(String, broadcast::Receiver<Arc<[u8]>>)> = Vec::new();
        for name in &instances {
            let tail = || sinks.tail(name, lines);
            let read = match sinks.get(name).filter(|_| follow) {
                Some(sink) => {
                    let (follower, read) = sink.follow_after(tail);
                    followers.push((name.clone(), follower));
                    read
                }
                None => tail(),
            };
            match read {
                Ok(lines) => history.extend(logs::prefixed(name, width, prefix, &lines)),
                Err(e) => return Err(format!("reading the log of {name}: {e}")),
            }
        }
        Ok((history, followers))
    })
    .await;
    let (history, followers) = match read {
        Ok(Ok(read)) => read,
        Ok(Err(reason)) => return error(ErrorCode::Internal, reason),
        Err(e) => return error(ErrorCode::Internal, format!("reading the logs: {e}")),
    };
    let (sender, receiver) = mpsc::channel::<Bytes>(64);
    let closing = closed(api.control.closing());
    tokio::spawn(async move {
        tokio::pin!(closing);
        if !history.is_empty() && sender.send(Bytes::from(history)).await.is_err() {
            return;
        }
        if followers.is_empty() {
            return;
        }
        let (merged, mut all) = mpsc::channel::<Bytes>(256);
        for (name, mut follower) in followers {
            let merged = merged.clone();
            tokio::spawn(async move {
                loop {
                    match follower.recv().await {
                        Ok(lines) => {
                            let bytes = Bytes::from(logs::prefixed(&name, width, prefix, &lines));
                            if merged.send(bytes).await.is_err() {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            let note = format!("[tend: {n} chunks of {name}'s output skipped; the log file has them]\n");
                            if merged.send(Bytes::from(note)).await.is_err() {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            });
        }
        drop(merged);
        loop {
            tokio::select! {
                next = all.recv() => match next {
                    Some(bytes) => if sender.send(bytes).await.is_err() { return },
                    None => return,
                },
                () = &mut closing => return,
            }
        }
    });
    streaming(receiver, "text/plain; charset=utf-8")
}

/// A word of a vocabulary (`restart`, `exited`), as its type reads it.
fn word<T: DeserializeOwned>(text: &str) -> Result<T, serde::de::value::Error> {
    T::deserialize(text.into_deserializer())
}

/// Resolves when the daemon closes.
async fn closed(mut closing: tokio::sync::watch::Receiver<bool>) {
    let _ = closing.wait_for(|c| *c).await;
}

fn streaming(receiver: mpsc::Receiver<Bytes>, content_type: &'static str) -> Response {
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|bytes| (Ok::<_, Infallible>(bytes), receiver))
    });
    let mut response = Body::from_stream(stream).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// As [`streaming`], where an `Err` ends the response unfinished (the
/// chunked body never terminated), so the client reports a failed read
/// instead of taking what came as the whole.
fn streaming_fallible(
    receiver: mpsc::Receiver<Result<Bytes, String>>,
    content_type: &'static str,
) -> Response {
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|next| {
            (
                next.map_err(|message| {
                    tracing::warn!(%message, "a history read failed part-way");
                    std::io::Error::other(message)
                }),
                receiver,
            )
        })
    });
    let mut response = Body::from_stream(stream).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Which entries `GET /v1/events` sends: about these services, of these
/// kinds (none: any), only problems or not.
#[derive(Debug, Clone)]
struct Chosen {
    services: Vec<String>,
    kinds: Vec<RecordKind>,
    problems: bool,
}

impl Chosen {
    /// Whether the kinds or the problems narrow it beyond what the
    /// journal's own query does (by time and service).
    fn narrows(&self) -> bool {
        !self.kinds.is_empty() || self.problems
    }

    fn wants(&self, entry: &Entry) -> bool {
        let record = &entry.record;
        (self.services.is_empty()
            || record
                .service()
                .is_some_and(|s| self.services.iter().any(|w| w == s)))
            && (self.kinds.is_empty() || self.kinds.contains(&record.kind()))
            && (!self.problems || record.is_problem())
    }
}

/// The instance names whose entries `names` ask for: each name as
/// journaled (a service since removed is still in the journal), and what
/// it resolves to now (a service's replicas, a group's services).
fn journaled_names(control: &Control, names: Vec<String>) -> Vec<String> {
    let mut wanted = names.clone();
    for name in names {
        if let Ok(found) = control.resolve(std::slice::from_ref(&name)) {
            for instance in found {
                if !wanted.contains(&instance) {
                    wanted.push(instance);
                }
            }
        }
    }
    wanted
}

/// Journal entries as JSON lines: history, then (with `follow`) live.
async fn events(
    AxumState(api): AxumState<Api>,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Response {
    let since = match query
        .since
        .as_deref()
        .map(humantime::parse_duration)
        .transpose()
    {
        Ok(since) => since.map(|d| {
            SystemTime::now()
                .checked_sub(d)
                .unwrap_or(SystemTime::UNIX_EPOCH)
        }),
        Err(e) => {
            return error(
                ErrorCode::BadRequest,
                format!("bad `since`: {e} (expected a duration such as 10m, 1h, 2d)"),
            )
        }
    };
    // A name neither in the config nor in the journal is a mistake, said
    // as `tend logs` says it (a removed service's history is still there).
    for name in &query.services.0 {
        if api.control.resolve(std::slice::from_ref(name)).is_ok() {
            continue;
        }
        let about = JournalQuery {
            since: None,
            after_id: None,
            services: vec![name.clone()],
            limit: Some(1),
        };
        match read_journal(api.journal_file.clone(), about).await {
            Ok(found) if found.is_empty() => {
                return error(
                    ErrorCode::UnknownService,
                    format!("no service called {name:?}, now or in the journal"),
                )
            }
            Ok(_) => {}
            Err(message) => return error(ErrorCode::Internal, message),
        }
    }
    let chosen = Chosen {
        services: journaled_names(&api.control, query.services.0),
        kinds: query.kinds.0,
        problems: query.problems,
    };
    // Live entries first, so none falls between history and stream.
    let mut live = query.follow.then(|| api.control.journal().subscribe());
    api.control.journal().flush().await;
    let file = api.journal_file.clone();
    let filter = JournalQuery {
        since,
        after_id: None,
        services: chosen.services.clone(),
        // Narrowed further here: the latest of those chosen.
        limit: query.limit.filter(|_| !chosen.narrows()),
    };
    // The latest N at most (bounded by N), read at once; the whole
    // history is streamed page by page instead, so three clients reading
    // 400,000 rows hold a few pages each, not the history.
    let (first, mut last_id) = if query.limit.is_some() {
        let mut history = match read_journal(file.clone(), filter.clone()).await {
            Ok(entries) => entries,
            Err(message) => return error(ErrorCode::Internal, message),
        };
        let last_id = history.last().map_or(0, |e| e.id);
        if chosen.narrows() {
            history.retain(|entry| chosen.wants(entry));
            let past = history
                .len()
                .saturating_sub(query.limit.unwrap_or(usize::MAX));
            history.drain(..past);
        }
        (Some(history), last_id)
    } else {
        (None, 0)
    };
    // The first page read before answering: a journal that cannot be read
    // is a 500 with its reason, not an empty history.
    let first_page = if first.is_none() {
        match read_page(&file, &filter, 0).await {
            Ok(page) => Some(page),
            Err(message) => return error(ErrorCode::Internal, message),
        }
    } else {
        None
    };
    let (sender, receiver) = mpsc::channel::<Result<Bytes, String>>(HISTORY_PAGES_QUEUED);
    let closing = closed(api.control.closing());
    tokio::spawn(async move {
        tokio::pin!(closing);
        match first {
            Some(history) => {
                let text: Vec<u8> = history.iter().flat_map(json_line).collect();
                if !text.is_empty() && sender.send(Ok(Bytes::from(text))).await.is_err() {
                    return;
                }
            }
            None => match stream_pages(&file, &filter, 0, first_page, &chosen, &sender).await {
                Ok(Streamed::To(last)) => last_id = last,
                Ok(Streamed::Gone) => return,
                Err(message) => {
                    let _ = sender.send(Err(message)).await;
                    return;
                }
            },
        }
        let Some(live) = live.as_mut() else { return };
        let wanted = |entry: &Entry| chosen.wants(entry);
        loop {
            let entry = tokio::select! {
                entry = live.recv() => entry,
                () = &mut closing => {
                    // Let the last entries (the shutdown itself) through.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    while let Ok(entry) = live.try_recv() {
                        if entry.id > last_id && wanted(&entry) {
                            let _ = sender.send(Ok(Bytes::from(json_line(&entry)))).await;
                        }
                    }
                    return;
                }
            };
            let entries = match entry {
                Ok(entry) => vec![entry],
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Fell behind the live stream: the gap is in the file.
                    let gap = JournalQuery {
                        since: None,
                        after_id: None,
                        services: chosen.services.clone(),
                        limit: None,
                    };
                    match stream_pages(&file, &gap, last_id, None, &chosen, &sender).await {
                        Ok(Streamed::To(last)) => last_id = last,
                        Ok(Streamed::Gone) => return,
                        Err(message) => {
                            let _ = sender.send(Err(message)).await;
                            return;
                        }
                    }
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            for entry in entries {
                if entry.id <= last_id {
                    continue;
                }
                last_id = entry.id;
                if wanted(&entry)
                    && sender
                        .send(Ok(Bytes::from(json_line(&entry))))
                        .await
                        .is_err()
                {
                    return;
                }
            }
        }
    });
    streaming_fallible(receiver, "application/x-ndjson")
}

/// History reads at once. Each opens its own connection, and SQLite keeps
/// the descriptor of a closed one while another connection of the process
/// holds locks on the file (closing it would drop their POSIX locks): so
/// many readers at once would leave that many descriptors open for good.
static HISTORY_READERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Rows read from the file per page of a streamed history.
const HISTORY_PAGE: usize = 512;
/// Pages (or live entries) queued for a client that reads slowly: with
/// [`HISTORY_PAGE`], what one reader of a long history holds at most.
const HISTORY_PAGES_QUEUED: usize = 8;

/// One page of what `query` asks for after row `after`, read off the
/// async threads.
async fn read_page(
    file: &std::path::Path,
    query: &JournalQuery,
    after: i64,
) -> Result<Vec<Entry>, String> {
    let _turn = HISTORY_READERS
        .acquire()
        .await
        .map_err(|e| format!("reading the journal: {e}"))?;
    let (file, query) = (file.to_path_buf(), query.clone());
    match tokio::task::spawn_blocking(move || {
        Journal::open_read_only(file)?.read_page(&query, after, HISTORY_PAGE)
    })
    .await
    {
        Ok(Ok(page)) => Ok(page),
        Ok(Err(e)) => Err(format!("reading the journal: {e}")),
        Err(e) => Err(format!("reading the journal: {e}")),
    }
}

/// What a streamed history read came to.
enum Streamed {
    /// Read to its end: the last row id read.
    To(i64),
    /// The client went away.
    Gone,
}

/// Sends what `query` asks for after row `after`, page by page, to
/// `sender` (each page written as it is read), beginning with `first`
/// (a page already read, if any).
///
/// # Errors
/// A page that cannot be read: the caller ends the response with it, so
/// that the client sees a failed read, never a short history.
async fn stream_pages(
    file: &std::path::Path,
    query: &JournalQuery,
    mut after: i64,
    first: Option<Vec<Entry>>,
    chosen: &Chosen,
    sender: &mpsc::Sender<Result<Bytes, String>>,
) -> Result<Streamed, String> {
    let mut next = first;
    loop {
        let page = match next.take() {
            Some(page) => page,
            None => read_page(file, query, after).await?,
        };
        let Some(last) = page.last() else {
            return Ok(Streamed::To(after));
        };
        after = last.id;
        let text: Vec<u8> = page
            .iter()
            .filter(|entry| chosen.wants(entry))
            .flat_map(json_line)
            .collect();
        if !text.is_empty() && sender.send(Ok(Bytes::from(text))).await.is_err() {
            return Ok(Streamed::Gone);
        }
        if page.len() < HISTORY_PAGE {
            return Ok(Streamed::To(after));
        }
    }
}

/// Reads the journal file off the async threads.
async fn read_journal(file: PathBuf, query: JournalQuery) -> Result<Vec<Entry>, String> {
    let _turn = HISTORY_READERS
        .acquire()
        .await
        .map_err(|e| format!("reading the journal: {e}"))?;
    match tokio::task::spawn_blocking(move || Journal::open_read_only(file)?.read(&query)).await {
        Ok(Ok(entries)) => Ok(entries),
        Ok(Err(e)) => Err(format!("reading the journal: {e}")),
        Err(e) => Err(format!("reading the journal: {e}")),
    }
}

/// An entry as one line of NDJSON.
fn json_line(entry: &Entry) -> Vec<u8> {
    let mut line = serde_json::to_vec(entry).unwrap_or_default();
    line.push(b'\n');
    line
}

/// The sampling interval's bounds: faster than 200 ms is no picture a
/// person reads, slower than a minute no longer live.
const WATCH_INTERVALS: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(200)..=Duration::from_secs(60);

/// The live picture as server-sent events (see [`tend_wire::Watch`]).
async fn watch(AxumState(api): AxumState<Api>, ApiQuery(query): ApiQuery<WatchQuery>) -> Response {
    let every = match query.interval.as_deref().map(humantime::parse_duration) {
        None => Duration::from_secs(1),
        Some(Ok(every)) if WATCH_INTERVALS.contains(&every) => every,
        Some(Ok(_)) => {
            return error(
                ErrorCode::BadRequest,
                "bad `interval`: expected between 200ms and 60s",
            )
        }
        Some(Err(e)) => {
            return error(
                ErrorCode::BadRequest,
                format!("bad `interval`: {e} (expected a duration such as 1s or 500ms)"),
            )
        }
    };
    let options = WatchOptions {
        every,
        usage: query.usage,
        entries: query.events,
    };
    let mut response = streaming(
        crate::watch::watch(api.control.clone(), options),
        "text/event-stream",
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// 200 while the tree runs, 503 once the daemon or its root begins to
/// stop (a root that gave up is stopping its children before it ends:
/// `up -d` must not take that for a start).
async fn healthz(AxumState(api): AxumState<Api>) -> Response {
    let running = !api.control.root().is_shutting_down() && !api.control.is_closing();
    let (code, status) = if running {
        (StatusCode::OK, HealthStatus::Ok)
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, HealthStatus::Stopping)
    };
    (code, Json(Health { status })).into_response()
}

/// 200 when every instance with a readiness condition is ready, else 503;
/// the instances not ready are named on the control socket only (on TCP
/// this is answered without a token).
async fn readyz(AxumState(api): AxumState<Api>) -> Response {
    let mut readiness = api.control.readiness();
    if api.remote {
        readiness.not_ready_names = None;
    }
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness)).into_response()
}

async fn ps(AxumState(api): AxumState<Api>) -> Response {
    Json(api.control.ps()).into_response()
}

async fn reload(
    AxumState(api): AxumState<Api>,
    ApiQuery(query): ApiQuery<ReloadQuery>,
) -> Response {
    let done = if query.dry_run {
        api.control.reload_plan().await
    } else {
        api.control.reload().await
    };
    match done {
        Ok(report) => Json(report).into_response(),
        Err(failure) => failure.into_response(),
    }
}

async fn shutdown(AxumState(api): AxumState<Api>) -> Response {
    if let Err(failure) = api.control.request_shutdown() {
        return failure.into_response();
    }
    (
        StatusCode::ACCEPTED,
        Json(ShuttingDown {
            shutting_down: true,
        }),
    )
        .into_response()
}

/// The body is optional: none means the binary running now.
async fn upgrade(AxumState(api): AxumState<Api>, body: axum::body::Bytes) -> Response {
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        UpgradeRequest::default()
    } else {
        match serde_json::from_slice::<UpgradeRequest>(&body) {
            Ok(request) => request,
            Err(e) => {
                return error(
                    ErrorCode::BadRequest,
                    format!(
                        "bad body: {e} (expected {{\"binary\": \"/usr/bin/tend\"}} or nothing)"
                    ),
                )
            }
        }
    };
    if api.remote && request.binary.is_some() {
        return error(
            ErrorCode::Forbidden,
            "over TCP an upgrade can only re-execute the running binary; name another on the control socket",
        );
    }
    match api
        .control
        .request_upgrade(request.binary.map(std::path::PathBuf::from))
        .await
    {
        Ok(plan) => (StatusCode::ACCEPTED, Json(plan)).into_response(),
        Err(failure) => failure.into_response(),
    }
}

async fn metrics(AxumState(api): AxumState<Api>) -> Response {
    let status = api.control.status(true);
    let text = api.metrics.render(api.control.root(), &status);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
