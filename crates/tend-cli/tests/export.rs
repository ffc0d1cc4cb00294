//! `tend export k8s`: manifests that say what the config says, validated
//! against the Kubernetes schemas (kubernetes-validate, strict, offline,
//! for two Kubernetes versions), and the config each pod runs checked by
//! tend itself.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

const APP: &str = r#"
[supervisor]
shutdown_timeout = "40s"

[api]
listen = "0.0.0.0:7070"
token = "a-token-of-sixteen-chars"

[services.edge]
command = ["./bin/edge", "--port", "8080"]
cwd = "edge"
env = { MODE = "prod" }
user = "65534"
stop = { timeout = "15s" }
limits = { memory = "256MiB", cpu = 0.5 }
readiness = { http = "http://127.0.0.1:8080/ready", period = "5s", timeout = "2s" }
liveness = { tcp = "localhost:8080", period = "10s", failure_threshold = 5 }
startup = { exec = ["./bin/edge", "--check"], period = "1s", failure_threshold = 30 }
depends_on = { backend = "ready" }

[services.migrate]
shell = "./bin/migrate up"
restart = "never"

[services.api]
command = ["./bin/api"]
replicas = 3
limits = { memory = "128MiB", cpu = 0.25 }
ready = { file = "/run/api.ready" }
stop = { signal = "SIGINT", timeout = "20s" }

[services.cache]
container = { image = "docker.io/library/redis:7", volumes = ["/srv/redis:/data"] }
liveness = { exec = ["redis-cli", "ping"] }
limits = { memory = "64MiB", cpu = 0.2 }
restart = "on-failure"
budget = { max_restarts = 4, period = "60s" }

[groups.backend]
strategy = "rest_for_one"
services = ["cache", "api"]
"#;

/// `tend export k8s ARGS` on `p`'s config: exit code, stdout, stderr.
fn export(p: &Project, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["export", "k8s"];
    all.extend_from_slice(args);
    let out = p.tend(&all);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The objects of a YAML stream, as JSON values.
fn objects(yaml: &str) -> Vec<Value> {
    yaml.split("\n---\n")
        .skip(1)
        .map(|doc| yaml_serde::from_str::<Value>(doc).unwrap_or_else(|e| panic!("{e}: {doc}")))
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {objects:#?}"))
}

/// Validates `yaml` with kubernetes-validate (strict: no unknown field)
/// against Kubernetes `version`, unless `TEND_SKIP_SUITES` lists
/// `kubernetes`.
fn validate(p: &Project, yaml: &str, version: &str) {
    let hint = "pip install kubernetes-validate";
    let missing = || suite::tool("python3", &["-m", "kubernetes_validate", "--version"], hint);
    if !suite::runs("kubernetes", missing) {
        return;
    }
    let file = p.path(&format!("manifests-{version}.yaml"));
    std::fs::write(&file, yaml).unwrap();
    let out = Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict", "-k", version])
        .arg(&file)
        .output()
        .expect("python3 runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "invalid for {version}:\n{said}\n{yaml}"
    );
    let passed = said.matches(" passed for resource ").count();
    assert_eq!(passed, objects(yaml).len(), "{said}");
}

#[test]
fn a_pod_per_group_runs_tend_as_pid_1_on_its_part_of_the_config() {
    let p = Project::new(APP);
    let (code, yaml, err) = export(
        &p,
        &["--image", "registry.example/shop:1.4", "--name", "shop"],
    );
    assert_eq!(code, Some(0), "{err}");
    let all = objects(&yaml);
    let kinds: Vec<(&str, &str)> = all
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("ConfigMap", "shop-config"),
            ("Pod", "shop"),
            ("ConfigMap", "backend-config"),
            ("Pod", "backend"),
        ]
    );
    let pod = find(&all, "Pod", "backend");
    let spec = &pod["spec"];
    assert_eq!(spec["restartPolicy"], "Always");
    // Longer than tend's own shutdown_timeout (40 s).
    assert_eq!(spec["terminationGracePeriodSeconds"], 45);
    let tend = &spec["containers"][0];
    assert_eq!(tend["image"], "registry.example/shop:1.4");
    assert_eq!(tend["command"], serde_json::json!(["tend", "up"]));
    // The kubelet probes tend's own endpoints on its TCP listener.
    assert_eq!(
        tend["livenessProbe"]["httpGet"],
        serde_json::json!({"path": "/healthz", "port": 7070})
    );
    assert_eq!(tend["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(tend["ports"][0]["containerPort"], 7070);
    // The group's limits, summed over replicas, plus tend's own share:
    // 64 MiB + 3 × 128 MiB + 64 MiB; 0.2 + 3 × 0.25 + 0.1 CPU.
    assert_eq!(
        tend["resources"]["limits"],
        serde_json::json!({"memory": (512u64 << 20).to_string(), "cpu": "1050m"})
    );
    let config_path = "/etc/tend/tend.backend.toml";
    assert!(tend["env"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!({"name": "TEND_CONFIG", "value": config_path})));
    assert_eq!(tend["volumeMounts"][0]["mountPath"], config_path);
    assert_eq!(tend["volumeMounts"][0]["subPath"], "tend.backend.toml");

    // Each pod's config is a whole tend.toml of its part, which tend accepts.
    let shop = find(&all, "ConfigMap", "shop-config")["data"]["tend.shop.toml"]
        .as_str()
        .unwrap();
    let backend = find(&all, "ConfigMap", "backend-config")["data"]["tend.backend.toml"]
        .as_str()
        .unwrap();
    // `check` also looks for what a start needs (programs, directories,
    // users: `nobody` is on every machine), as the image would hold them.
    for program in ["edge/bin/edge", "bin/api"] {
        let file = p.path(program);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    for (name, text) in [("shop", shop), ("backend", backend)] {
        let file = format!("tend.{name}.toml");
        std::fs::write(p.path(&file), text).unwrap();
        let out = p.ok(&["-c", &file, "check"]);
        assert!(out.contains("ok"), "{out}");
    }
    assert!(backend.contains("[groups.backend]") && backend.contains("[services.cache]"));
    assert!(!backend.contains("[services.edge]"));
    assert!(shop.contains("[services.edge]") && !shop.contains("[groups"));
    // edge depends on the group backend, in another pod: dropped, and said.
    assert!(!shop.contains("backend = \"ready\""), "{shop}");
    assert!(
        yaml.contains("# edge: depends_on backend dropped: it runs in another pod"),
        "{yaml}"
    );
    assert!(
        yaml.contains("# cache: a container service: tend in this pod needs a container runtime"),
        "{yaml}"
    );

    validate(&p, &yaml, "1.29.0");
    validate(&p, &yaml, "1.37.0");
}

#[test]
fn a_workload_per_service_maps_probes_stop_timeouts_limits_and_restarts() {
    let p = Project::new(APP);
    let (code, yaml, err) = export(
        &p,
        &[
            "--per",
            "service",
            "--image",
            "shop:1.4",
            "--namespace",
            "shop",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let all = objects(&yaml);
    assert!(all.iter().all(|o| o["metadata"]["namespace"] == "shop"));

    // Always restarted: a Deployment with its replicas.
    let api = find(&all, "Deployment", "api");
    assert_eq!(api["spec"]["replicas"], 3);
    let pod = &api["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Always");
    assert_eq!(pod["terminationGracePeriodSeconds"], 20);
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "shop:1.4");
    assert_eq!(c["workingDir"], "/etc/tend");
    assert_eq!(
        c["resources"]["limits"],
        serde_json::json!({"memory": (128u64 << 20).to_string(), "cpu": "250m"})
    );
    // Its `ready = { file }` is a readiness probe.
    assert_eq!(
        c["readinessProbe"]["exec"]["command"],
        serde_json::json!(["test", "-e", "/run/api.ready"])
    );
    assert!(
        yaml.contains("# api: stop signal SIGINT not mapped"),
        "{yaml}"
    );

    let edge = &find(&all, "Deployment", "edge")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        edge["command"],
        serde_json::json!(["./bin/edge", "--port", "8080"])
    );
    assert_eq!(edge["workingDir"], "/etc/tend/edge");
    assert_eq!(
        edge["env"],
        serde_json::json!([{"name": "MODE", "value": "prod"}])
    );
    assert_eq!(edge["securityContext"]["runAsUser"], 65534);
    // Probes, their timing in whole seconds; a local host is the pod's.
    assert_eq!(
        edge["readinessProbe"],
        serde_json::json!({"httpGet": {"path": "/ready", "port": 8080}, "initialDelaySeconds": 0,
            "periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 3, "successThreshold": 1})
    );
    assert_eq!(
        edge["livenessProbe"]["tcpSocket"],
        serde_json::json!({"port": 8080})
    );
    assert_eq!(edge["livenessProbe"]["failureThreshold"], 5);
    assert_eq!(
        edge["startupProbe"]["exec"]["command"],
        serde_json::json!(["./bin/edge", "--check"])
    );
    assert!(yaml.contains("# edge: depends_on not mapped"), "{yaml}");

    // `never`: a Job run once; `on-failure`: retried, its budget the limit.
    let migrate = find(&all, "Job", "migrate");
    assert_eq!(migrate["spec"]["backoffLimit"], 0);
    assert_eq!(
        migrate["spec"]["template"]["spec"]["restartPolicy"],
        "Never"
    );
    assert_eq!(
        migrate["spec"]["template"]["spec"]["containers"][0]["command"],
        serde_json::json!(["/bin/sh", "-c", "./bin/migrate up"])
    );
    let cache = find(&all, "Job", "cache");
    assert_eq!(cache["spec"]["backoffLimit"], 4);
    let pod = &cache["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "OnFailure");
    // A container service runs its own image, and its own command.
    assert_eq!(pod["containers"][0]["image"], "docker.io/library/redis:7");
    assert!(pod["containers"][0].get("command").is_none());
    assert!(
        yaml.contains("# cache: container volumes not mapped"),
        "{yaml}"
    );

    validate(&p, &yaml, "1.29.0");
    validate(&p, &yaml, "1.37.0");
}

#[test]
fn what_cannot_be_exported_is_refused_with_the_reason() {
    let p = Project::new(APP);
    let (code, yaml, err) = export(&p, &[]);
    assert_eq!(code, Some(1));
    assert!(yaml.is_empty(), "nothing half-written: {yaml}");
    assert!(
        err.contains("--per group runs tend in each pod: give the image"),
        "{err}"
    );
    let (code, _, err) = export(&p, &["--per", "service"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("service edge is a process: give the image"),
        "{err}"
    );

    p.write_config(
        "[services.tool]\ncontainer = { rootfs = \"roots/tool\" }\ncommand = [\"/tool\"]\n",
    );
    let (code, _, err) = export(&p, &["--per", "service"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("a `rootfs` container"), "{err}");

    p.write_config("[services.web]\ncommand = [\"./web\"]\nrestart = \"sometimes\"\n");
    let (code, _, err) = export(&p, &["--image", "x"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("tend.toml:3:11: unknown value \"sometimes\""),
        "{err}"
    );
}
