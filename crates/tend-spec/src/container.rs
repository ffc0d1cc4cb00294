//! What a container child is: where its filesystem comes from, which
//! runtime runs it, and what is kept when it is isolated. The rest (command,
//! environment, stop, limits, logs, readiness, probes) is its
//! [`ProcessSpec`](crate::ProcessSpec)'s, read inside the container.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A container to run a [`ProcessSpec`](crate::ProcessSpec)'s command in.
///
/// # Examples
///
/// ```
/// use tend_spec::{ContainerSpec, ContainerSource, KeepContainer, Runtime};
///
/// let spec: ContainerSpec = serde_json::from_str(r#"{
///     "source": { "image": "docker.io/library/redis:7" },
///     "runtime": "podman",
///     "network": "host",
///     "on_isolate": "stopped"
/// }"#).unwrap();
/// assert_eq!(spec.source, ContainerSource::Image("docker.io/library/redis:7".into()));
/// assert_eq!(spec.runtime, Some(Runtime::Podman));
/// assert_eq!(spec.on_isolate, KeepContainer::Stopped);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    /// Its filesystem: an image, or a directory.
    pub source: ContainerSource,
    /// The runtime (default: podman if it works here, else docker).
    #[serde(default)]
    pub runtime: Option<Runtime>,
    /// Its network (`--network`), e.g. `"host"` or `"none"` (default: the
    /// runtime's).
    #[serde(default)]
    pub network: Option<String>,
    /// Mounts (`--volume`), e.g. `"/srv/data:/data"`.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// Published ports (`--publish`), e.g. `"8080:80"`.
    #[serde(default)]
    pub publish: Vec<String>,
    /// More options for the runtime's `run`, passed as they are.
    #[serde(default)]
    pub args: Vec<String>,
    /// What an isolated incarnation's container becomes.
    #[serde(default)]
    pub on_isolate: KeepContainer,
    /// What keeps its name apart from other supervisors' containers of the
    /// same child id: the name is `tend-SCOPE-ID` (default `tend-ID`). The
    /// `tend` program sets it from its config file's path.
    #[serde(default)]
    pub scope: Option<String>,
}

impl ContainerSpec {
    /// A container of `source`, everything else default.
    #[must_use]
    pub fn new(source: ContainerSource) -> Self {
        ContainerSpec {
            source,
            runtime: None,
            network: None,
            volumes: Vec::new(),
            publish: Vec::new(),
            args: Vec::new(),
            on_isolate: KeepContainer::default(),
            scope: None,
        }
    }
}

/// Where a container's filesystem comes from.
///
/// # Examples
///
/// ```
/// use tend_spec::ContainerSource;
///
/// let source: ContainerSource = serde_json::from_str(r#"{ "rootfs": "/srv/roots/app" }"#).unwrap();
/// assert_eq!(source, ContainerSource::Rootfs("/srv/roots/app".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerSource {
    /// An image, pulled by the runtime if it is not here.
    Image(String),
    /// A directory used as the root filesystem as it is (podman's
    /// `--rootfs`).
    Rootfs(PathBuf),
}

/// A container runtime.
///
/// # Examples
///
/// ```
/// use tend_spec::Runtime;
///
/// let runtime: Runtime = serde_json::from_str("\"docker\"").unwrap();
/// assert_eq!(runtime.program(), "docker");
/// assert_eq!(Runtime::ALL[0], Runtime::Podman);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Runtime {
    /// Podman: daemonless, each container watched by its `conmon`.
    Podman,
    /// Docker: containers run by the Docker daemon.
    Docker,
}

impl Runtime {
    /// Every runtime, in the order one is looked for.
    pub const ALL: [Runtime; 2] = [Runtime::Podman, Runtime::Docker];

    /// Its program's name.
    #[must_use]
    pub fn program(self) -> &'static str {
        match self {
            Runtime::Podman => "podman",
            Runtime::Docker => "docker",
        }
    }
}

impl std::fmt::Display for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.program())
    }
}

/// What a container whose incarnation is isolated becomes, for debugging.
/// Either way it is kept (not removed) until the service starts again or is
/// stopped.
///
/// # Examples
///
/// ```
/// use tend_spec::KeepContainer;
///
/// let keep: KeepContainer = serde_json::from_str("\"stopped\"").unwrap();
/// assert_eq!(keep, KeepContainer::Stopped);
/// assert_eq!(KeepContainer::default(), KeepContainer::Running);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepContainer {
    /// Left running as it was: `exec` into it.
    #[default]
    Running,
    /// Stopped (its stop signal, then the timeout): its filesystem and
    /// logs stay to inspect, `commit` or `start` again.
    Stopped,
}
