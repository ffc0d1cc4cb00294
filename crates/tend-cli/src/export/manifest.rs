//! The part of the Kubernetes API an export writes, as types: Pods,
//! Deployments, Jobs and ConfigMaps with their containers, probes and
//! limits. Field names are the API's (camelCase); an absent option is left
//! out. Written here rather than taken from `k8s-openapi`, whose every type
//! of every API group costs more to build than the whole CLI, for the few
//! dozen fields an export fills.

use std::collections::BTreeMap;

use serde::Serialize;

/// One object of a manifest.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind")]
pub enum Object {
    /// A pod.
    Pod {
        #[serde(rename = "apiVersion")]
        api_version: &'static str,
        metadata: Metadata,
        spec: PodSpec,
    },
    /// Replicas of a pod, kept running.
    Deployment {
        #[serde(rename = "apiVersion")]
        api_version: &'static str,
        metadata: Metadata,
        spec: DeploymentSpec,
    },
    /// A pod run to completion.
    Job {
        #[serde(rename = "apiVersion")]
        api_version: &'static str,
        metadata: Metadata,
        spec: JobSpec,
    },
    /// Files for a pod.
    ConfigMap {
        #[serde(rename = "apiVersion")]
        api_version: &'static str,
        metadata: Metadata,
        data: BTreeMap<String, String>,
    },
}

impl Object {
    pub fn pod(metadata: Metadata, spec: PodSpec) -> Object {
        Object::Pod {
            api_version: "v1",
            metadata,
            spec,
        }
    }

    pub fn deployment(metadata: Metadata, spec: DeploymentSpec) -> Object {
        Object::Deployment {
            api_version: "apps/v1",
            metadata,
            spec,
        }
    }

    pub fn job(metadata: Metadata, spec: JobSpec) -> Object {
        Object::Job {
            api_version: "batch/v1",
            metadata,
            spec,
        }
    }

    pub fn config_map(metadata: Metadata, data: BTreeMap<String, String>) -> Object {
        Object::ConfigMap {
            api_version: "v1",
            metadata,
            data,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Metadata {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    pub replicas: u32,
    pub selector: Selector,
    pub template: PodTemplate,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    pub completions: u32,
    pub parallelism: u32,
    pub backoff_limit: u32,
    pub template: PodTemplate,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    pub match_labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PodTemplate {
    pub metadata: Metadata,
    pub spec: PodSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    pub restart_policy: &'static str,
    pub termination_grace_period_seconds: u64,
    pub containers: Vec<Container>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub name: String,
    pub container_port: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    pub limits: BTreeMap<&'static str, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    pub run_as_user: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    #[serde(flatten)]
    pub action: ProbeAction,
    pub initial_delay_seconds: u64,
    pub period_seconds: u64,
    pub timeout_seconds: u64,
    pub failure_threshold: u32,
    pub success_threshold: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ProbeAction {
    Exec {
        command: Vec<String>,
    },
    HttpGet {
        path: String,
        port: u16,
        #[serde(skip_serializing_if = "Option::is_none")]
        host: Option<String>,
    },
    TcpSocket {
        port: u16,
        #[serde(skip_serializing_if = "Option::is_none")]
        host: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub name: String,
    #[serde(flatten)]
    pub source: VolumeSource,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum VolumeSource {
    ConfigMap { name: String },
    EmptyDir {},
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: String,
    pub mount_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}
