//! Probes, as Kubernetes defines them: what to check ([`ProbeCheck`]), how
//! often and how strictly ([`ProbeTiming`]), and what a failed liveness
//! check does ([`OnUnhealthy`]).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How often and how strictly a probe runs (Kubernetes' fields, with its
/// defaults): after `initial_delay`, one check every `period`; a check that
/// takes longer than `timeout` failed; `failure_threshold` failures in a row
/// make the probe fail, `success_threshold` successes in a row make it pass.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_spec::ProbeTiming;
///
/// // Every field has Kubernetes' default: give only what differs.
/// let timing: ProbeTiming =
///     serde_json::from_str(r#"{ "period": "5s", "failure_threshold": 5 }"#).unwrap();
/// assert_eq!(timing.period, Duration::from_secs(5));
/// assert_eq!(timing.timeout, Duration::from_secs(1));
/// assert_eq!(timing.failure_threshold, 5);
/// assert_eq!(timing.success_threshold, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeTiming {
    /// Between two checks (default 10 s).
    #[serde(default = "default_period", with = "humantime_serde")]
    pub period: Duration,
    /// How long one check may take (default 1 s).
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Before the first check (default 0).
    #[serde(default, with = "humantime_serde")]
    pub initial_delay: Duration,
    /// Failures in a row that make the probe fail (default 3, at least 1).
    #[serde(default = "default_failures")]
    pub failure_threshold: u32,
    /// Successes in a row that make it pass again (default 1, at least 1).
    #[serde(default = "default_successes")]
    pub success_threshold: u32,
}

fn default_period() -> Duration {
    Duration::from_secs(10)
}

fn default_timeout() -> Duration {
    Duration::from_secs(1)
}

fn default_failures() -> u32 {
    3
}

fn default_successes() -> u32 {
    1
}

impl Default for ProbeTiming {
    fn default() -> Self {
        ProbeTiming {
            period: default_period(),
            timeout: default_timeout(),
            initial_delay: Duration::ZERO,
            failure_threshold: default_failures(),
            success_threshold: default_successes(),
        }
    }
}

/// What a process probe checks.
///
/// # Examples
///
/// ```
/// use tend_spec::ProbeCheck;
///
/// let check: ProbeCheck =
///     serde_json::from_str(r#"{ "http": "http://127.0.0.1:8080/healthz" }"#).unwrap();
/// let ProbeCheck::Http(target) = &check else { unreachable!() };
/// assert_eq!(target.authority, "127.0.0.1:8080");
/// assert_eq!(check.to_string(), "http http://127.0.0.1:8080/healthz");
///
/// let check: ProbeCheck = serde_json::from_str(r#"{ "exec": ["pg_isready"] }"#).unwrap();
/// assert_eq!(check, ProbeCheck::Exec(vec!["pg_isready".into()]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeCheck {
    /// Runs this command (no shell) in the service's directory and
    /// environment: exit code 0 passes.
    Exec(Vec<String>),
    /// `GET`s this `http://` URL: a 2xx or 3xx status passes.
    Http(HttpTarget),
    /// Connects to this `host:port`: an accepted connection passes.
    Tcp(String),
}

impl fmt::Display for ProbeCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeCheck::Exec(command) => write!(f, "exec {}", command.join(" ")),
            ProbeCheck::Http(target) => write!(f, "http {target}"),
            ProbeCheck::Tcp(address) => write!(f, "tcp {address}"),
        }
    }
}

/// A process probe: a check and its timing.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tend_spec::{ProbeCheck, ProbeSpec};
///
/// let probe: ProbeSpec = serde_json::from_str(
///     r#"{ "check": { "tcp": "127.0.0.1:5432" }, "timing": { "period": "2s" } }"#,
/// )
/// .unwrap();
/// assert_eq!(probe.check, ProbeCheck::Tcp("127.0.0.1:5432".into()));
/// assert_eq!(probe.timing.period, Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeSpec {
    /// What to check.
    pub check: ProbeCheck,
    /// How often and how strictly.
    #[serde(default)]
    pub timing: ProbeTiming,
}

/// What a failed liveness probe does.
///
/// # Examples
///
/// ```
/// use tend_spec::OnUnhealthy;
///
/// let keep: OnUnhealthy = serde_json::from_str("\"isolate\"").unwrap();
/// assert_eq!(keep, OnUnhealthy::Isolate);
/// assert_eq!(OnUnhealthy::default(), OnUnhealthy::Restart);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnUnhealthy {
    /// Stop it; its restart type and crash policy decide what follows
    /// (Kubernetes' behaviour).
    #[default]
    Restart,
    /// Keep it running for debugging, marked isolated and not ready; its
    /// isolate hook runs; an operator's restart brings it back.
    Isolate,
}

/// An `http://host[:port][/path]` URL, split once when read so that a probe
/// never parses. Only plain HTTP: a probe of a TLS endpoint would need a
/// TLS stack in the library for one status line.
///
/// # Examples
///
/// ```
/// use tend_spec::HttpTarget;
///
/// let target: HttpTarget = serde_json::from_str("\"http://localhost:8080/ready\"").unwrap();
/// assert_eq!((target.host.as_str(), target.path.as_str()), ("localhost", "/ready"));
/// assert_eq!(target.to_string(), "http://localhost:8080/ready");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HttpTarget {
    /// `host:port` to connect to.
    pub authority: String,
    /// The host, for the `Host` header.
    pub host: String,
    /// The path and query, starting with `/`.
    pub path: String,
}

impl HttpTarget {
    /// Splits `url`.
    ///
    /// # Errors
    /// What is wrong with it, for an error message.
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_spec::HttpTarget;
    ///
    /// let t = HttpTarget::parse("http://127.0.0.1:8080/healthz?deep=1").unwrap();
    /// assert_eq!((t.authority.as_str(), t.path.as_str()), ("127.0.0.1:8080", "/healthz?deep=1"));
    /// assert_eq!(HttpTarget::parse("http://localhost").unwrap().authority, "localhost:80");
    /// assert!(HttpTarget::parse("https://example.com").is_err());
    /// ```
    pub fn parse(url: &str) -> Result<HttpTarget, String> {
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(if url.starts_with("https://") {
                "https probes are not supported; probe the plain-HTTP port or use a tcp probe"
                    .to_owned()
            } else {
                "an http probe needs a URL starting with http://".to_owned()
            });
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) if rest[at..].starts_with('/') => (&rest[..at], rest[at..].to_owned()),
            Some(at) => (&rest[..at], format!("/{}", &rest[at..])),
            None => (rest, "/".to_owned()),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err("an http probe needs a host, without user information".to_owned());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => {
                let port: u16 = port
                    .parse()
                    .map_err(|_| format!("{port:?} is not a port number"))?;
                (host, port)
            }
            _ => (authority, 80),
        };
        if host.is_empty() {
            return Err("an http probe needs a host".to_owned());
        }
        Ok(HttpTarget {
            authority: format!("{host}:{port}"),
            host: host.to_owned(),
            path,
        })
    }
}

impl fmt::Display for HttpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.path)
    }
}

impl TryFrom<String> for HttpTarget {
    type Error = String;
    fn try_from(url: String) -> Result<Self, String> {
        HttpTarget::parse(&url)
    }
}

impl From<HttpTarget> for String {
    fn from(target: HttpTarget) -> String {
        target.to_string()
    }
}
