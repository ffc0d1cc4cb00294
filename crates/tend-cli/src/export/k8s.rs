//! From a `tend.toml` to Kubernetes objects, in one of two shapes:
//!
//! - **a pod per group** (`--per group`): each group, and the services in no
//!   group, become one Pod whose only container is tend as PID 1, running
//!   that part of the config (a ConfigMap beside it); tend's `/healthz` and
//!   `/readyz` are its probes, its `shutdown_timeout` its grace period.
//!   Everything tend does inside a pod (dependencies, readiness, restarts,
//!   budgets, logs, journal) stays as it is.
//! - **a workload per service** (`--per service`): each service becomes a
//!   Deployment (restart `always`) or a Job (`on-failure`: retried; `never`:
//!   run once) with its replicas, and its probes, stop timeout and limits
//!   become the container's. Kubernetes then supervises: what has no
//!   Kubernetes equivalent is named in a comment above the object.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use tend_config::{Config, Service};
use tend_spec::{
    ContainerSource, ProbeCheck, ProbeSpec, ProbeTiming, ProcessSpec, Restart, Signal,
};

use super::manifest::{
    Container, ContainerPort, DeploymentSpec, EnvVar, JobSpec, Metadata, Object, PodSpec,
    PodTemplate, Probe, ProbeAction, Resources, SecurityContext, Selector, Volume, VolumeMount,
    VolumeSource,
};

/// Which objects an export makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Per {
    /// One Pod per group (and one for the services in no group), tend as
    /// PID 1 of each.
    Group,
    /// One Deployment (or Job) per service: Kubernetes supervises.
    Service,
}

impl Per {
    /// What holds for every object of this shape, said once above them.
    #[must_use]
    pub fn notes(self) -> &'static [&'static str] {
        match self {
            Per::Group => &[
                "One Pod per group (and one for the services in no group), tend as PID 1 of each:",
                "tend supervises inside (restarts, backoff, budgets, dependencies, readiness).",
            ],
            Per::Service => &[
                "One Deployment per service (a Job for on-failure and never): Kubernetes supervises,",
                "with its own back-off (10 s doubling to 5 min); tend's backoff and intensity do not apply",
                "(a budget's max_restarts is a Job's backoffLimit).",
            ],
        }
    }
}

/// What the export needs besides the config.
#[derive(Debug, Clone)]
pub struct Options {
    pub per: Per,
    /// The image with tend and the services' programs (docs/containers.md).
    pub image: Option<String>,
    pub namespace: Option<String>,
    /// Where the config file sits in the image: its relative paths mean
    /// the same there.
    pub workdir: PathBuf,
    /// The application's name: the label `part-of`, and the name of the pod
    /// of the services in no group.
    pub name: String,
}

/// One object, and what of the config it could not carry.
#[derive(Debug)]
pub struct Document {
    pub notes: Vec<String>,
    pub object: Object,
}

/// Where tend keeps its state in a pod.
const STATE_DIR: &str = "/var/lib/tend";

/// The manifests for `config`, whose text is `text`.
///
/// # Errors
/// What cannot be exported: no image for a service that needs one, a
/// `rootfs` container, names that collide once made Kubernetes names.
pub fn export(config: &Config, text: &str, options: &Options) -> anyhow::Result<Vec<Document>> {
    match options.per {
        Per::Group => per_group(config, text, options),
        Per::Service => config
            .services
            .iter()
            .map(|service| workload(service, config, options))
            .collect(),
    }
}

/// A pod (and its ConfigMap) for each group and for the services in none.
fn per_group(config: &Config, text: &str, options: &Options) -> anyhow::Result<Vec<Document>> {
    let image = options.image.clone().context(
        "--per group runs tend in each pod: give the image with tend and your programs (--image; docs/containers.md has a recipe)",
    )?;
    let original: toml::Table = text.parse().context("reading the config again")?;
    let mut parts: Vec<(String, Option<&str>, Vec<&Service>)> = Vec::new();
    let ungrouped: Vec<&Service> = config
        .services
        .iter()
        .filter(|s| s.group.is_none())
        .collect();
    if !ungrouped.is_empty() {
        parts.push((options.name.clone(), None, ungrouped));
    }
    for group in &config.groups {
        parts.push((
            group.name.clone(),
            Some(&group.name),
            config.members_of(group).collect(),
        ));
    }
    let mut names = BTreeMap::new();
    let mut documents = Vec::new();
    for (part, group, services) in parts {
        let name = dns_name(&part)?;
        if let Some(other) = names.insert(name.clone(), part.clone()) {
            bail!("{other:?} and {part:?} would both be the pod {name:?}: rename one (or pass --name)");
        }
        let (subset, mut notes) = subset(&original, group, &services);
        for service in services.iter().filter(|s| s.process.container.is_some()) {
            notes.push(format!(
                "{}: a container service: tend in this pod needs a container runtime (and its privileges) in the image; --per service runs its image as a pod of its own",
                service.name
            ));
        }
        let file = format!("tend.{name}.toml");
        let labels = labels(&name, options);
        documents.push(Document {
            notes: Vec::new(),
            object: Object::config_map(
                metadata(&format!("{name}-config"), &labels, options),
                BTreeMap::from([(file.clone(), subset)]),
            ),
        });
        let pod = tend_pod(config, &name, &file, &image, &services, options);
        documents.push(Document {
            notes,
            object: Object::pod(metadata(&name, &labels, options), pod),
        });
    }
    Ok(documents)
}

/// The config a part's pod runs: the root's settings, that part's
/// services (and group), as the file has them; what refers outside the
/// part is dropped and noted.
fn subset(
    original: &toml::Table,
    group: Option<&str>,
    services: &[&Service],
) -> (String, Vec<String>) {
    let mut notes = Vec::new();
    let mut table = toml::Table::new();
    for key in ["supervisor", "api"] {
        if let Some(value) = original.get(key) {
            table.insert(key.to_owned(), value.clone());
        }
    }
    let all = original.get("services").and_then(toml::Value::as_table);
    let mut kept = toml::Table::new();
    for service in services {
        let Some(mut entry) = all.and_then(|a| a.get(&service.name)).cloned() else {
            continue;
        };
        if let Some(deps) = entry
            .get_mut("depends_on")
            .and_then(toml::Value::as_table_mut)
        {
            let outside: Vec<String> = deps
                .keys()
                .filter(|d| !services.iter().any(|s| &s.name == *d))
                .cloned()
                .collect();
            for dep in outside {
                deps.remove(&dep);
                notes.push(format!(
                    "{}: depends_on {dep} dropped: it runs in another pod, and Kubernetes does not order pods (its readiness gates traffic instead)",
                    service.name
                ));
            }
        }
        kept.insert(service.name.clone(), entry);
    }
    table.insert("services".to_owned(), toml::Value::Table(kept));
    if let Some(group) = group {
        if let Some(definition) = original
            .get("groups")
            .and_then(toml::Value::as_table)
            .and_then(|g| g.get(group))
        {
            let groups = toml::Table::from_iter([(group.to_owned(), definition.clone())]);
            table.insert("groups".to_owned(), toml::Value::Table(groups));
        }
    }
    let text = format!(
        "# Generated by `tend export k8s` from the services of {}.\n{}",
        group.map_or_else(|| "no group".to_owned(), |g| format!("group {g}")),
        toml::to_string(&table).unwrap_or_default()
    );
    (text, notes)
}

/// tend as PID 1 of a pod, on its part of the config.
fn tend_pod(
    config: &Config,
    name: &str,
    file: &str,
    image: &str,
    services: &[&Service],
    options: &Options,
) -> PodSpec {
    let workdir = options.workdir.display().to_string();
    let config_path = format!("{}/{file}", workdir.trim_end_matches('/'));
    // The kubelet probes the pod's address: tend's TCP listener if it has
    // one beyond loopback, else `tend health` through the control socket.
    let (ports, live, ready) = match config.api.listen.filter(|a| !a.ip().is_loopback()) {
        Some(addr) => (
            vec![ContainerPort {
                name: "api".into(),
                container_port: addr.port(),
            }],
            ProbeAction::HttpGet {
                path: "/healthz".into(),
                port: addr.port(),
                host: None,
            },
            ProbeAction::HttpGet {
                path: "/readyz".into(),
                port: addr.port(),
                host: None,
            },
        ),
        None => (
            Vec::new(),
            ProbeAction::Exec {
                command: vec!["tend".into(), "health".into()],
            },
            ProbeAction::Exec {
                command: vec!["tend".into(), "health".into(), "--ready".into()],
            },
        ),
    };
    let kubelet = |action: ProbeAction, period: u64| Probe {
        action,
        initial_delay_seconds: 0,
        period_seconds: period,
        timeout_seconds: 5,
        failure_threshold: 3,
        success_threshold: 1,
    };
    let container = Container {
        name: "tend".into(),
        image: image.to_owned(),
        command: Some(vec!["tend".into(), "up".into()]),
        env: vec![
            EnvVar {
                name: "TEND_CONFIG".into(),
                value: config_path.clone(),
            },
            EnvVar {
                name: "TEND_STATE_DIR".into(),
                value: STATE_DIR.into(),
            },
        ],
        ports,
        resources: summed_limits(services),
        readiness_probe: Some(kubelet(ready, 5)),
        liveness_probe: Some(kubelet(live, 10)),
        volume_mounts: vec![
            VolumeMount {
                name: "config".into(),
                mount_path: config_path,
                sub_path: Some(file.to_owned()),
                read_only: true,
            },
            VolumeMount {
                name: "state".into(),
                mount_path: STATE_DIR.into(),
                sub_path: None,
                read_only: false,
            },
        ],
        ..Container::default()
    };
    PodSpec {
        // tend restarts its services; the kubelet restarts tend if it gives
        // up (exit 1) or ends.
        restart_policy: "Always",
        // Longer than tend's whole shutdown, so the kubelet's SIGKILL never
        // cuts it short.
        termination_grace_period_seconds: seconds(config.supervisor.shutdown_timeout) + 5,
        containers: vec![container],
        volumes: vec![
            Volume {
                name: "config".into(),
                source: VolumeSource::ConfigMap {
                    name: format!("{name}-config"),
                },
            },
            Volume {
                name: "state".into(),
                source: VolumeSource::EmptyDir {},
            },
        ],
    }
}

/// A pod of services is limited to what they are, together, when each of
/// them is limited (tend itself gets 64 MiB and 0.1 CPU more); otherwise the
/// pod is not limited in that resource.
fn summed_limits(services: &[&Service]) -> Option<Resources> {
    let mut limits = BTreeMap::new();
    let each = |f: fn(&ProcessSpec) -> Option<f64>| -> Option<f64> {
        services
            .iter()
            .map(|s| f(&s.process).map(|v| v * f64::from(s.replicas)))
            .sum()
    };
    #[allow(clippy::cast_precision_loss)]
    if let Some(memory) = each(|p| p.limits.memory.map(|m| m as f64)) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let bytes = memory as u64 + (64 << 20);
        limits.insert("memory", bytes.to_string());
    }
    if let Some(cpu) = each(|p| p.limits.cpu) {
        limits.insert("cpu", millicores(cpu + 0.1));
    }
    (!limits.is_empty()).then_some(Resources { limits })
}

/// A Deployment or Job running one service.
fn workload(service: &Service, config: &Config, options: &Options) -> anyhow::Result<Document> {
    let name = dns_name(&service.name)?;
    let mut notes = Vec::new();
    let container = service_container(service, config, options, &mut notes)?;
    let labels = labels(&name, options);
    let pod = |restart_policy| PodTemplate {
        metadata: Metadata {
            labels: labels.clone(),
            ..Metadata::default()
        },
        spec: PodSpec {
            restart_policy,
            termination_grace_period_seconds: seconds(service.process.stop.timeout),
            containers: vec![container.clone()],
            volumes: Vec::new(),
        },
    };
    let meta = metadata(&name, &labels, options);
    let object = match service.restart {
        Restart::Permanent => Object::deployment(
            meta,
            DeploymentSpec {
                replicas: service.replicas,
                selector: Selector {
                    match_labels: labels.clone(),
                },
                template: pod("Always"),
            },
        ),
        Restart::Transient => Object::job(
            meta,
            JobSpec {
                completions: service.replicas,
                parallelism: service.replicas,
                backoff_limit: service.budget.map_or(6, |b| b.max_restarts),
                template: pod("OnFailure"),
            },
        ),
        Restart::Temporary => Object::job(
            meta,
            JobSpec {
                completions: service.replicas,
                parallelism: service.replicas,
                backoff_limit: 0,
                template: pod("Never"),
            },
        ),
    };
    if !service.depends_on.is_empty() {
        notes.push(format!(
            "{}: depends_on not mapped: Kubernetes does not order workloads; a readiness probe on each keeps traffic from what is not ready",
            service.name
        ));
    }
    if !service.hooks.is_empty() {
        notes.push(format!("{}: hooks not mapped", service.name));
    }
    if service.on_crash != tend_spec::CrashPolicy::Restart {
        notes.push(format!(
            "{}: on_crash not mapped: Kubernetes restarts by its restart policy only",
            service.name
        ));
    }
    Ok(Document { notes, object })
}

/// The container of one service: its image (a container's own, or the
/// one given), command, directory, environment, user, limits and probes.
fn service_container(
    service: &Service,
    config: &Config,
    options: &Options,
    notes: &mut Vec<String>,
) -> anyhow::Result<Container> {
    let process = &service.process;
    let name = &service.name;
    let argv = if process.shell {
        Some(vec![
            "/bin/sh".into(),
            "-c".into(),
            process.command[0].clone(),
        ])
    } else {
        Some(process.command.clone()).filter(|c| c.iter().any(|s| !s.is_empty()))
    };
    let (image, working_dir) = match &process.container {
        Some(container) => {
            let image = match &container.source {
                ContainerSource::Image(image) => image.clone(),
                ContainerSource::Rootfs(dir) => bail!(
                    "service {name}: a `rootfs` container ({}) has no image to run on Kubernetes: build one from it (podman import, or a Containerfile)",
                    dir.display()
                ),
            };
            for (what, given) in [
                ("network", container.network.is_some()),
                ("volumes", !container.volumes.is_empty()),
                ("publish", !container.publish.is_empty()),
                ("args", !container.args.is_empty()),
            ] {
                if given {
                    notes.push(format!(
                        "{name}: container {what} not mapped: use Kubernetes volumes, Services and the pod's spec"
                    ));
                }
            }
            (image, process.cwd.as_ref().map(|c| c.display().to_string()))
        }
        None => {
            let image = options.image.clone().with_context(|| {
                format!(
                    "service {name} is a process: give the image that holds its program (--image; docs/containers.md has a recipe)"
                )
            })?;
            // Its directory is the config's, or one given relative to it:
            // the same place under the config's directory in the image.
            let base = config.file.parent().unwrap_or(Path::new("/"));
            let cwd = process.cwd.as_deref().unwrap_or(base);
            let inside = match cwd.strip_prefix(base) {
                Ok(relative) if relative.as_os_str().is_empty() => options.workdir.clone(),
                Ok(relative) => options.workdir.join(relative),
                Err(_) => cwd.to_path_buf(),
            };
            (image, Some(inside.display().to_string()))
        }
    };
    let env = process
        .env
        .set
        .iter()
        .map(|(name, value)| EnvVar {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();
    let security_context = match (&process.user, &process.group) {
        (None, _) => None,
        (Some(user), group) => match (user.parse::<u32>(), group.as_deref().map(str::parse::<u32>))
        {
            (Ok(uid), None) => Some(SecurityContext {
                run_as_user: uid,
                run_as_group: None,
            }),
            (Ok(uid), Some(Ok(gid))) => Some(SecurityContext {
                run_as_user: uid,
                run_as_group: Some(gid),
            }),
            _ => {
                notes.push(format!(
                    "{name}: user {user:?} not mapped: Kubernetes takes numeric ids (runAsUser)"
                ));
                None
            }
        },
    };
    let mut limits = BTreeMap::new();
    if let Some(memory) = process.limits.memory {
        limits.insert("memory", memory.to_string());
    }
    if let Some(cpu) = process.limits.cpu {
        limits.insert("cpu", millicores(cpu));
    }
    if process.limits.pids.is_some() {
        notes.push(format!(
            "{name}: limits.pids not mapped: a pod's pid limit is the kubelet's (podPidsLimit)"
        ));
    }
    if process.stop.signal != Signal::Term {
        notes.push(format!(
            "{name}: stop signal {} not mapped: the kubelet sends SIGTERM (or the image's STOPSIGNAL)",
            process.stop.signal
        ));
    }
    if process.watchdog.is_some() || process.ready.notify {
        notes.push(format!(
            "{name}: sd_notify (ready.notify, watchdog) not mapped: a probe instead"
        ));
    }
    if process.ready.log.is_some() {
        notes.push(format!(
            "{name}: ready.log not mapped: a readiness probe instead"
        ));
    }
    if process.on_unhealthy == tend_spec::OnUnhealthy::Isolate {
        notes.push(format!(
            "{name}: on_unhealthy = isolate not mapped: a failed liveness probe restarts the container"
        ));
    }
    // `ready`'s polled signals become a readiness probe when there is no
    // readiness probe of its own.
    let ready_signal = match (&process.ready.probe, &process.ready.file) {
        (Some(check), _) => Some(ProbeCheck::clone(check)),
        (None, Some(file)) => Some(ProbeCheck::Exec(vec![
            "test".into(),
            "-e".into(),
            file.display().to_string(),
        ])),
        (None, None) => None,
    };
    let readiness = process.readiness.as_deref().map(probe).or_else(|| {
        ready_signal.map(|check| {
            probe(&ProbeSpec {
                check,
                timing: ProbeTiming {
                    period: Duration::from_secs(1),
                    ..ProbeTiming::default()
                },
            })
        })
    });
    Ok(Container {
        name: dns_name(name)?,
        image,
        command: argv,
        working_dir,
        env,
        ports: Vec::new(),
        resources: (!limits.is_empty()).then_some(Resources { limits }),
        startup_probe: process.startup.as_deref().map(probe),
        readiness_probe: readiness,
        liveness_probe: process.liveness.as_deref().map(probe),
        security_context,
        volume_mounts: Vec::new(),
    })
}

/// A probe of tend's, as the kubelet runs it: from the pod's address, so
/// a local host is left out.
fn probe(spec: &ProbeSpec) -> Probe {
    let action = match &spec.check {
        ProbeCheck::Exec(argv) => ProbeAction::Exec {
            command: argv.clone(),
        },
        ProbeCheck::Http(target) => {
            let (host, port) = split_authority(&target.authority);
            ProbeAction::HttpGet {
                path: target.path.clone(),
                port,
                host,
            }
        }
        ProbeCheck::Tcp(address) => {
            let (host, port) = split_authority(address);
            ProbeAction::TcpSocket { port, host }
        }
    };
    let t = &spec.timing;
    Probe {
        action,
        initial_delay_seconds: t.initial_delay.as_secs(),
        period_seconds: seconds(t.period).max(1),
        timeout_seconds: seconds(t.timeout).max(1),
        failure_threshold: t.failure_threshold,
        success_threshold: t.success_threshold,
    }
}

/// `host:port` as a probe's host (none if local: the pod's own address
/// is probed) and port.
fn split_authority(authority: &str) -> (Option<String>, u16) {
    let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "80"));
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let local = matches!(host, "localhost" | "127.0.0.1" | "::1" | "0.0.0.0" | "");
    (
        (!local).then(|| host.to_owned()),
        port.parse().unwrap_or(80),
    )
}

fn labels(name: &str, options: &Options) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), name.to_owned()),
        ("app.kubernetes.io/part-of".to_owned(), options.name.clone()),
        ("app.kubernetes.io/managed-by".to_owned(), "tend".to_owned()),
    ])
}

fn metadata(name: &str, labels: &BTreeMap<String, String>, options: &Options) -> Metadata {
    Metadata {
        name: name.to_owned(),
        namespace: options.namespace.clone(),
        labels: labels.clone(),
    }
}

/// `name` as a Kubernetes object name (RFC 1123 label: lower case letters,
/// digits and `-`, at most 63, alphanumeric at both ends).
///
/// # Errors
/// If nothing of it is left.
pub fn dns_name(name: &str) -> anyhow::Result<String> {
    let mapped: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .collect();
    let trimmed: String = mapped.trim_matches('-').chars().take(63).collect();
    let trimmed = trimmed.trim_end_matches('-').to_owned();
    if trimmed.is_empty() {
        bail!("{name:?} makes no Kubernetes name (letters, digits and '-')");
    }
    Ok(trimmed)
}

/// A duration in whole seconds, rounded up.
fn seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// CPU cores as Kubernetes millicores, e.g. `"500m"`.
fn millicores(cores: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let milli = (cores * 1000.0).round().max(1.0) as u64;
    format!("{milli}m")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_kubernetes_names() {
        assert_eq!(dns_name("Web_API.v2").unwrap(), "web-api-v2");
        assert_eq!(dns_name("-x-").unwrap(), "x");
        assert_eq!(dns_name(&"a".repeat(80)).unwrap().len(), 63);
        assert!(dns_name("__").is_err());
    }

    #[test]
    fn local_probe_hosts_are_the_pods_own_address() {
        assert_eq!(split_authority("127.0.0.1:8080"), (None, 8080));
        assert_eq!(split_authority("[::1]:9000"), (None, 9000));
        assert_eq!(
            split_authority("db.internal:5432"),
            (Some("db.internal".to_owned()), 5432)
        );
        assert_eq!(millicores(0.5), "500m");
        assert_eq!(millicores(2.0), "2000m");
        assert_eq!(seconds(Duration::from_millis(2500)), 3);
    }
}
