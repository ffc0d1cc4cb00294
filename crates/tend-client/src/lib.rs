//! # tend-client: the tend daemon's API, typed
//!
//! A client of a running [tend](https://github.com/tend-rs/tend) daemon
//! over its control socket (HTTP/1.1 on a unix stream). Every request
//! and every answer is a [`tend_wire`] type, the same the daemon reads
//! and writes: no JSON is built or indexed by hand, paths and query
//! strings are encoded by [`percent_encoding`] and `serde_urlencoded`,
//! and names (a service, an instance `web.2`, a group) are resolved by
//! the daemon alone. `tend` and `tend top` use it.
//!
//! ```no_run
//! use tend_client::Client;
//! use tend_wire::{ActOptions, Action, ServicesQuery};
//!
//! # async fn demo() -> Result<(), tend_client::Error> {
//! // Refuses a daemon that runs another config file than ./tend.toml.
//! let client = Client::new(".tend/tend.sock").expecting_config("tend.toml");
//! let web = ServicesQuery { services: vec!["web".to_owned()].into(), ..Default::default() };
//! for instance in client.services(&web).await? {
//!     println!("{} {}", instance.name, instance.state);
//! }
//! // Returns once web is started again (and ready, where it has a
//! // readiness condition); `no_block` returns once the command is queued.
//! client.act("web", Action::Restart, ActOptions::default()).await?;
//! # Ok(())
//! # }
//! ```

// Layers, from the bottom up: a module uses only those before it in this
// line (checked by .ci/layers).
// layers: error socket target stream
mod error;
pub mod socket;
mod stream;
mod target;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tend_wire::{
    ActOptions, Acted, Action, DaemonInfo, Entry, ErrorBody, EventsQuery, Health, LogsQuery,
    Readiness, ReloadQuery, ReloadReport, ServiceStatus, ServicesQuery, ShuttingDown,
    SignalRequest, TreeNode, UpgradePlan, UpgradeRequest, Watch, WatchQuery,
};

pub use error::Error;
pub use stream::{Chunks, Messages};

use stream::Framing;
use target::target;

/// The API of one running daemon, by its control socket (at any path
/// length: see [`socket`]). Cheap to clone; each request opens its own
/// connection (a daemon being upgraded keeps new ones in the socket's
/// backlog).
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
    expected: Option<Arc<Expected>>,
}

/// The config a client's daemon must run, and whether it was seen to.
#[derive(Debug)]
struct Expected {
    config: PathBuf,
    checked: AtomicBool,
}

impl Client {
    /// A client of the daemon listening on `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Client {
        Client {
            socket: socket.into(),
            expected: None,
        }
    }

    /// The same client, which first checks (once, before its first
    /// request) that the daemon answering runs the config file `config`:
    /// the same file once both paths are canonical. Any other daemon is
    /// refused with [`Error::OtherConfig`] and is sent nothing else.
    #[must_use]
    pub fn expecting_config(self, config: impl Into<PathBuf>) -> Client {
        Client {
            expected: Some(Arc::new(Expected {
                config: config.into(),
                checked: AtomicBool::new(false),
            })),
            ..self
        }
    }

    /// The socket.
    #[must_use]
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Whether a daemon answers on the socket (whichever config it runs).
    pub async fn is_up(&self) -> bool {
        socket::connect(&self.socket).await.is_ok()
    }

    /// The pid of the process serving the socket, as the kernel names it
    /// in this process's pid namespace (`SO_PEERCRED`): whom to watch end
    /// after a shutdown, not a pid the daemon wrote about itself. `None`
    /// when nothing answers.
    pub async fn server_pid(&self) -> Option<u32> {
        let stream = socket::connect(&self.socket).await.ok()?;
        let pid = stream.peer_cred().ok()?.pid()?;
        u32::try_from(pid).ok()
    }

    /// `GET /v1/daemon`: which daemon answers (pid, version, config).
    ///
    /// # Errors
    /// [`Error::NotRunning`] when nothing answers; any other [`Error`].
    pub async fn daemon(&self) -> Result<DaemonInfo, Error> {
        self.get(&["v1", "daemon"], None::<&()>).await
    }

    /// `GET /v1/services`: every instance, or those `query.services`
    /// resolve to (a name the daemon does not know is an
    /// [`Error::Api`] with [`ErrorCode::UnknownService`](tend_wire::ErrorCode::UnknownService)).
    ///
    /// # Errors
    /// See [`Client::daemon`].
    pub async fn services(&self, query: &ServicesQuery) -> Result<Vec<ServiceStatus>, Error> {
        self.get(&["v1", "services"], Some(query)).await
    }

    /// `GET /v1/ps`: the whole tree with OS pids and resource use.
    ///
    /// # Errors
    /// See [`Client::daemon`].
    pub async fn ps(&self) -> Result<TreeNode, Error> {
        self.get(&["v1", "ps"], None::<&()>).await
    }

    /// `POST /v1/services/{name}/{action}`: start, stop, restart or kill
    /// a service, instance or group; answered once the effect holds,
    /// unless `options` says not to wait.
    ///
    /// # Errors
    /// See [`Client::daemon`]; a wait past `options`' timeout is an
    /// [`Error::Api`] with [`ErrorCode::Timeout`](tend_wire::ErrorCode::Timeout)
    /// naming the state reached.
    pub async fn act(
        &self,
        name: &str,
        action: Action,
        options: ActOptions,
    ) -> Result<Acted, Error> {
        let word = action.to_string();
        self.call(
            Method::POST,
            &["v1", "services", name, &word],
            Some(&options),
            None::<&()>,
        )
        .await
    }

    /// `POST /v1/services/{name}/signal`: sends `signal` (a name such as
    /// `SIGHUP` or `HUP`, or a number) to each running incarnation, through
    /// its pidfd.
    ///
    /// # Errors
    /// See [`Client::daemon`].
    pub async fn signal(&self, name: &str, signal: &str) -> Result<Acted, Error> {
        let request = SignalRequest {
            signal: signal.to_owned(),
        };
        self.call(
            Method::POST,
            &["v1", "services", name, "signal"],
            None::<&()>,
            Some(&request),
        )
        .await
    }

    /// `POST /v1/reload`: reads the config again and applies what changed
    /// (or, with `dry_run`, only says what would change).
    ///
    /// # Errors
    /// See [`Client::daemon`]; an invalid config is an [`Error::Api`]
    /// listing each problem.
    pub async fn reload(&self, query: ReloadQuery) -> Result<ReloadReport, Error> {
        self.call(Method::POST, &["v1", "reload"], Some(&query), None::<&()>)
            .await
    }

    /// `POST /v1/shutdown`: stop every service, then the daemon. Answered
    /// at once; the socket goes away once all is down.
    ///
    /// # Errors
    /// See [`Client::daemon`].
    pub async fn shutdown(&self) -> Result<ShuttingDown, Error> {
        self.call(Method::POST, &["v1", "shutdown"], None::<&()>, None::<&()>)
            .await
    }

    /// `POST /v1/upgrade`: the daemon re-executes itself as `request`'s
    /// binary, keeping every service running.
    ///
    /// # Errors
    /// See [`Client::daemon`].
    pub async fn upgrade(&self, request: &UpgradeRequest) -> Result<UpgradePlan, Error> {
        self.call(Method::POST, &["v1", "upgrade"], None::<&()>, Some(request))
            .await
    }

    /// `GET /healthz`: whether the tree runs (a 503 while stopping is an
    /// answer, not an error).
    ///
    /// # Errors
    /// See [`Client::daemon`].
    pub async fn health(&self) -> Result<Health, Error> {
        self.probe(&["healthz"]).await
    }

    /// `GET /readyz`: whether every instance with a readiness condition
    /// is ready (a 503 is an answer, not an error).
    ///
    /// # Errors
    /// See [`Client::daemon`].
    pub async fn readiness(&self) -> Result<Readiness, Error> {
        self.probe(&["readyz"]).await
    }

    /// `GET /v1/logs`: the last lines of each instance's output, then
    /// (with `follow`) new lines as they are written, as the daemon sends
    /// them (prefixed by the instance when there are several).
    ///
    /// # Errors
    /// See [`Client::daemon`]; errors are those of the request, the
    /// stream's own come from [`Chunks::next`].
    pub async fn logs(&self, query: &LogsQuery) -> Result<Chunks, Error> {
        let response = self
            .exchange(Method::GET, &target(&["v1", "logs"], Some(query))?, None)
            .await?;
        Ok(Chunks::new(answer(response).await?.into_body()))
    }

    /// `GET /v1/events`: journal entries, past then (with `follow`) live.
    ///
    /// # Errors
    /// See [`Client::logs`].
    pub async fn events(&self, query: &EventsQuery) -> Result<Messages<Entry>, Error> {
        let response = self
            .exchange(Method::GET, &target(&["v1", "events"], Some(query))?, None)
            .await?;
        let chunks = Chunks::new(answer(response).await?.into_body());
        Ok(Messages::new(chunks, Framing::JsonLines))
    }

    /// `GET /v1/watch`: the live picture, a snapshot then only what
    /// changed.
    ///
    /// # Errors
    /// See [`Client::logs`].
    pub async fn watch(&self, query: &WatchQuery) -> Result<Messages<Watch>, Error> {
        let response = self
            .exchange(Method::GET, &target(&["v1", "watch"], Some(query))?, None)
            .await?;
        let chunks = Chunks::new(answer(response).await?.into_body());
        Ok(Messages::new(chunks, Framing::ServerSent))
    }

    async fn get<Q: Serialize, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: Option<&Q>,
    ) -> Result<T, Error> {
        self.call(Method::GET, segments, query, None::<&()>).await
    }

    /// One request with an optional query and JSON body, its JSON answer.
    async fn call<Q: Serialize, B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: Option<&Q>,
        body: Option<&B>,
    ) -> Result<T, Error> {
        let body = body.map(serde_json::to_vec).transpose()?;
        let response = self
            .exchange(method, &target(segments, query)?, body)
            .await?;
        read(answer(response).await?).await
    }

    /// A probe, whose 503 is an answer of the same shape.
    async fn probe<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T, Error> {
        let response = self
            .exchange(Method::GET, &target::<()>(segments, None)?, None)
            .await?;
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            return read(response).await;
        }
        read(answer(response).await?).await
    }

    /// One request, one response, whatever its status; to the daemon of
    /// the expected config only, if one is.
    async fn exchange(
        &self,
        method: Method,
        target: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Response<Incoming>, Error> {
        if let Some(expected) = &self.expected {
            if !expected.checked.load(Ordering::Acquire) {
                self.check(expected).await?;
                expected.checked.store(true, Ordering::Release);
            }
        }
        self.send(method, target, body).await
    }

    /// Whether the daemon answering runs `expected`'s config.
    async fn check(&self, expected: &Expected) -> Result<(), Error> {
        let response = self
            .send(Method::GET, &target::<()>(&["v1", "daemon"], None)?, None)
            .await?;
        let info: DaemonInfo = read(answer(response).await?).await?;
        let runs = canonical(Path::new(&info.config));
        let asked = canonical(&expected.config);
        if runs == asked {
            return Ok(());
        }
        Err(Error::OtherConfig {
            socket: self.socket.clone(),
            runs,
            asked,
        })
    }

    /// One request, one response, whatever its status.
    async fn send(
        &self,
        method: Method,
        target: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Response<Incoming>, Error> {
        let stream = socket::connect(&self.socket)
            .await
            .map_err(|source| Error::NotRunning {
                socket: self.socket.clone(),
                source,
            })?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(target)
            .header(hyper::header::HOST, "tend");
        if body.is_some() {
            request = request.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| Error::Unexpected {
                status: 0,
                body: format!("building the request: {e}"),
            })?;
        Ok(sender.send_request(request).await?)
    }
}

/// `path` with every link resolved, or (a file that is gone) made
/// absolute only.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// The response if it is a success; else its error.
async fn answer(response: Response<Incoming>) -> Result<Response<Incoming>, Error> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await?.to_bytes();
    Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => Error::Api(body.error),
        Err(_) => Error::Unexpected {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        },
    })
}

/// A response's body as `T`.
async fn read<T: DeserializeOwned>(response: Response<Incoming>) -> Result<T, Error> {
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An action's word in a path is its `Display`, which must be the
    /// word the daemon reads (its serde name).
    #[test]
    fn action_words_are_the_api_words() {
        for action in Action::ALL {
            let wire = serde_json::to_string(action).unwrap();
            assert_eq!(wire, format!("\"{action}\""));
        }
    }

    #[tokio::test]
    async fn no_daemon_is_said_plainly() {
        let dir = std::env::temp_dir().join(format!("tend-client-{}", std::process::id()));
        let client = Client::new(dir.join("tend.sock"));
        let error = client.daemon().await.unwrap_err();
        assert!(matches!(error, Error::NotRunning { .. }));
        assert!(
            error
                .to_string()
                .starts_with("tend is not running here (no answer on "),
            "{error}"
        );
        assert!(!client.is_up().await);
    }
}
