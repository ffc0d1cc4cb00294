//! The JSON Schema of `tend.toml`, for editors (taplo, Even Better TOML):
//! completion, hover docs and checks while typing.
//!
//! Written out rather than derived: the config is read by hand (to report
//! every error at once), so there is no serde type to derive it from. A test
//! keeps its property names equal to the keys the reader accepts.

use serde_json::{json, Value};

/// `container = { … }`.
fn container() -> Value {
    json!({ "type": "object", "additionalProperties": false,
                "description": "Run the service in a container, through podman or docker: `command` (or `shell`) runs inside it (with an image, none runs the image's own), and env, cwd (absolute, inside), user, limits, stop, logs, readiness and probes apply as to a process; exec probes run inside. `tend check` says if no runtime works here.",
                "oneOf": [ { "required": ["image"] }, { "required": ["rootfs"] } ],
                "properties": {
                    "image": { "type": "string", "minLength": 1, "description": "The image, e.g. docker.io/library/redis:7 (pulled by the runtime if missing)." },
                    "rootfs": { "type": "string", "minLength": 1, "description": "A directory used as the root filesystem as it is (podman only), relative to this file." },
                    "runtime": { "enum": ["podman", "docker"], "description": "The runtime (default: podman if it works here, else docker)." },
                    "network": { "type": "string", "description": "Its network, e.g. host or none (default: the runtime's)." },
                    "volumes": { "type": "array", "items": { "type": "string" }, "description": "Mounts, e.g. /srv/data:/data." },
                    "publish": { "type": "array", "items": { "type": "string" }, "description": "Published ports, e.g. 8080:80." },
                    "args": { "type": "array", "items": { "type": "string" }, "description": "More options for the runtime's `run`, passed as they are." },
                    "on_isolate": { "enum": ["running", "stopped"], "default": "running",
                        "description": "What an unhealthy container isolated for debugging (`on_unhealthy = \"isolate\"`) becomes: left running, or stopped; kept either way until the service starts again." }
                } })
}

fn duration(description: &str, default: Option<&str>) -> Value {
    let mut schema = json!({
        "type": "string",
        "pattern": r"^\s*([0-9]+\s*(ns|us|µs|ms|s|sec|m|min|h|hr|d|days?)\s*)+$|^0$",
        "description": format!("{description} A duration such as \"250ms\", \"10s\", \"5m\"."),
    });
    if let Some(default) = default {
        schema["default"] = json!(default);
    }
    schema
}

fn size(description: &str) -> Value {
    json!({
        "description": format!("{description} Bytes, or a string with a unit: \"512MB\", \"1GiB\"."),
        "oneOf": [
            { "type": "integer", "minimum": 0 },
            { "type": "string", "pattern": r"^\s*[0-9._]+\s*([kKmMgGtT]i?[bB]?|[bB])\s*$" }
        ]
    })
}

fn intensity(description: &str) -> Value {
    json!({
        "type": "object",
        "description": description,
        "additionalProperties": false,
        "properties": {
            "max_restarts": { "type": "integer", "minimum": 0, "default": 100,
                "description": "Restarts allowed within `period`." },
            "period": duration("The sliding window.", Some("60s")),
        }
    })
}

fn strategy(description: &str) -> Value {
    json!({
        "description": description,
        "enum": ["one_for_one", "one_for_all", "rest_for_one"],
        "default": "one_for_one",
    })
}

/// A probe table: one check and Kubernetes' timing.
fn probe(description: &str) -> Value {
    json!({ "type": "object", "additionalProperties": false, "description": description,
        "properties": {
            "exec": argv("Passes when this command exits 0 (no shell; the service's user, cwd and env)."),
            "http": { "type": "string", "pattern": "^http://", "description": "Passes when a GET of this URL answers 2xx or 3xx." },
            "tcp": { "type": "string", "description": "Passes when host:port accepts a connection." },
            "period": duration("Between checks.", Some("10s")),
            "timeout": duration("A check taking longer failed.", Some("1s")),
            "initial_delay": duration("Before the first check.", Some("0s")),
            "failure_threshold": { "type": "integer", "minimum": 1, "default": 3, "description": "Failures in a row that make the probe fail." },
            "success_threshold": { "type": "integer", "minimum": 1, "default": 1, "description": "Successes in a row that make it pass again." },
        },
        "oneOf": [{ "required": ["exec"] }, { "required": ["http"] }, { "required": ["tcp"] }]
    })
}

fn argv(description: &str) -> Value {
    json!({
        "type": "array", "items": { "type": "string" }, "minItems": 1,
        "description": description,
    })
}

/// The schema, as a JSON value (draft 2020-12).
#[must_use]
pub fn schema() -> Value {
    let hook_properties: serde_json::Map<String, Value> = crate::model::HookEvent::ALL
        .iter()
        .map(|(_, name)| {
            (
                (*name).to_owned(),
                argv(&format!(
                    "Run on `{name}`, with the event as JSON on stdin."
                )),
            )
        })
        .collect();
    // Added apart: one more object inside would pass json!'s recursion limit.
    let start_limit = json!({
        "description": "Failed starts (no spawn, an end before ready, or an abnormal end within `settle`) after which the service is `failed (start limit)` until started again, or \"none\" to retry forever.",
        "oneOf": [
            { "const": "none" },
            { "type": "object", "additionalProperties": false, "properties": {
                "burst": { "type": "integer", "minimum": 1, "default": 5, "description": "Failed starts within `interval` that end it." },
                "interval": duration("The sliding window.", Some("60s")),
                "settle": duration("An abnormal end this soon after the start is a failed start.", Some("1s")),
            }}
        ]
    });
    let mut service = json!({
        "type": "object",
        "description": "A supervised program.",
        "additionalProperties": false,
        "properties": {
            "command": argv("The program and its arguments, run without a shell."),
            "shell": { "type": "string", "description": "A command line run with `sh -c` (instead of `command`)." },
            "env": { "type": "object", "additionalProperties": { "type": "string" },
                "description": "Environment variables set for it." },
            "clear_env": { "type": "boolean",
                "description": "Pass only `inherit_env` of tend's environment (true) or all of it (false). Default: all for a service running as tend's own user, only `inherit_env` for one with another `user`." },
            "cwd": { "type": "string", "description": "Working directory, relative to the config file's directory." },
            "user": { "type": "string", "description": "Run as this user (name or id; tend must run as root)." },
            "umask": { "type": "integer", "minimum": 0, "maximum": 511, "description": "File mode creation mask." },
            "restart": { "enum": ["always", "on-failure", "never", "permanent", "transient", "temporary"],
                "default": "always", "description": "When it is restarted: after every exit, after a failure only, never." },
            "backoff": {
                "description": "The delay before a restart, or \"none\" to restart at once.",
                "oneOf": [
                    { "const": "none" },
                    { "type": "object", "additionalProperties": false, "properties": {
                        "initial": duration("The first delay.", Some("100ms")),
                        "max": duration("The longest delay.", Some("30s")),
                        "multiplier": { "type": "number", "minimum": 1, "default": 2, "description": "Growth per failure." },
                        "jitter": { "type": "number", "minimum": 0, "maximum": 1, "default": 0.1, "description": "Random spread, a fraction." },
                        "reset_after": duration("Back to `initial` after running this long; \"0\" never.", Some("60s")),
                        "clean_exit_delay": duration("The delay before a restart after a clean exit (code 0): not a failure, so no growing backoff.", Some("100ms")),
                    }}
                ]
            },
            "budget": { "type": "object", "additionalProperties": false, "required": ["max_restarts"],
                "description": "The service's own restart budget.",
                "properties": {
                    "max_restarts": { "type": "integer", "minimum": 0, "description": "Restarts allowed within `period`." },
                    "period": duration("The sliding window.", Some("60s")),
                    "on_exhausted": { "enum": ["escalate", "stop", "isolate", "crash-loop-backoff"], "default": "escalate",
                        "description": "When it runs out: the supervisor gives up, the service stays failed, is isolated, or waits `delay` then tries again." },
                    "delay": duration("The wait of `crash-loop-backoff`.", Some("60s")),
                }
            },
            "stop": { "type": "object", "additionalProperties": false, "description": "How it is stopped.",
                "properties": {
                    "signal": { "type": "string", "default": "SIGTERM", "description": "Sent to its process group." },
                    "timeout": duration("Then SIGKILL after this long.", Some("10s")),
                }
            },
            "success_codes": { "type": "array", "items": { "type": "integer", "minimum": 0, "maximum": 255 },
                "default": [0], "description": "Exit codes that count as a normal exit." },
            "replicas": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 1,
                "description": "Instances, named NAME.1 … NAME.N when more than one." },
            "logs": { "type": "object", "additionalProperties": false, "description": "Its log file in the state directory.",
                "properties": {
                    "max_size": size("Rotate past this size (default 10MB; 0 never)."),
                    "keep": { "type": "integer", "minimum": 0, "default": 5, "description": "Rotated files kept." },
                    "timestamps": { "type": "boolean", "default": false, "description": "Prefix each line with the time." },
                }
            },
            "limits": { "type": "object", "additionalProperties": false, "description": "Resource limits.",
                "properties": {
                    "memory": size("Memory (cgroup)."),
                    "cpu": { "type": "number", "exclusiveMinimum": 0, "description": "CPU in cores (cgroup), e.g. 0.5." },
                    "pids": { "type": "integer", "minimum": 1, "description": "Processes and threads (cgroup)." },
                    "nofile": { "type": "integer", "minimum": 1, "maximum": 2_147_483_584_u64, "description": "Open files (RLIMIT_NOFILE); at most this machine's fs.nr_open." },
                }
            },
            "on_crash": { "enum": ["restart", "shutdown", "isolate"], "default": "restart",
                "description": "What an abnormal exit leads to: the restart type decides, the service stays failed, or it is isolated." },
            "hooks": { "type": "object", "additionalProperties": false, "properties": hook_properties,
                "description": "Commands run on this service's events." },
            "ready": { "type": "object", "additionalProperties": false,
                "description": "How it says it is ready (default: once it runs), by one signal. Services that depend on it being ready start only then.",
                "properties": {
                    "notify": { "type": "boolean", "default": false,
                        "description": "Ready on READY=1 over sd_notify: it gets NOTIFY_SOCKET (STATUS=, RELOADING=1, STOPPING=1, WATCHDOG=1, EXTEND_TIMEOUT_USEC= are understood too)." },
                    "log": { "type": "string", "description": "Ready once a line of its output matches this regular expression." },
                    "file": { "type": "string", "description": "Ready once this file exists (relative to cwd)." },
                    "exec": argv("Ready once this command exits 0 (tried every 250 ms)."),
                    "http": { "type": "string", "pattern": "^http://", "description": "Ready once a GET of this URL answers 2xx or 3xx (tried every 250 ms)." },
                    "tcp": { "type": "string", "description": "Ready once host:port accepts a connection (tried every 250 ms)." },
                    "timeout": duration("Not ready by then is a start failure.", Some("60s")),
                }
            },
            "watchdog": duration("It must send WATCHDOG=1 (sd_notify) at least this often, or it is stopped as hung; it gets WATCHDOG_USEC.", None),
            "startup": probe("Checked from the start until it passes; until then readiness and liveness are not checked, and its failure stops the service."),
            "readiness": probe("Checked all along: the service is ready while it passes and not ready while it fails (it keeps running)."),
            "liveness": probe("Checked all along: its failure stops the service (handled by its restart policy) or isolates it (`on_unhealthy`)."),
            "on_unhealthy": { "enum": ["restart", "isolate"], "default": "restart",
                "description": "What a failed liveness probe or a missed watchdog does: stop it for its restart policy, or isolate it, still running, for debugging (not ready, its isolate hook run, `tend restart` brings it back)." },
            "depends_on": { "type": "object", "additionalProperties": { "enum": ["started", "ready", "completed"] },
                "description": "Siblings (services of the same group, or at the top level services and groups outside any group) and what each must reach before this one starts: started (spawned), ready, or completed (exited normally). Stopped in reverse order." },
            "binds_to": { "type": "boolean", "default": false,
                "description": "Stop this service when a dependency stops or is given up on (systemd's BindsTo)." },
            "container": container(),
            "wasm": { "type": "object", "additionalProperties": false, "required": ["module"],
                "description": "Run a WebAssembly module on a WASI runtime instead of a process. Understood, but not available in this build: `tend check` says so.",
                "properties": { "module": { "type": "string", "minLength": 1, "description": "The module's path, e.g. app.wasm." } } },
            "remote": { "type": "object", "additionalProperties": false, "required": ["node"],
                "description": "Run the service on another node. Understood, but not available in this build: `tend check` says so.",
                "properties": { "node": { "type": "string", "description": "The node's host:port." } } },
        }
    });
    service["properties"]["start_limit"] = start_limit;
    service["properties"]["inherit_env"] = json!({
        "type": "array", "items": { "type": "string" },
        "default": tend_spec::EnvSpec::PASS,
        "description": "The variables of tend's environment passed when it is not passed whole; given alone, it implies `clear_env = true`."
    });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/tend-rs/tend/tend.schema.json",
        "title": "tend.toml",
        "description": "A tend configuration: services, groups and the root supervisor.",
        "type": "object",
        "additionalProperties": false,
        "required": ["services"],
        "properties": {
            "supervisor": {
                "type": "object", "additionalProperties": false, "description": "The root supervisor.",
                "properties": {
                    "strategy": strategy("How a crash affects the root's other children."),
                    "intensity": intensity("Restarts allowed across the root before it gives up."),
                    "shutdown_timeout": duration("How long a whole shutdown may take.", Some("30s")),
                }
            },
            "services": { "type": "object", "minProperties": 1, "additionalProperties": service,
                "propertyNames": { "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]*$" },
                "description": "The supervised programs, by name." },
            "groups": { "type": "object",
                "propertyNames": { "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]*$" },
                "description": "Child supervisors over lists of services.",
                "additionalProperties": {
                    "type": "object", "additionalProperties": false, "required": ["services"],
                    "properties": {
                        "strategy": strategy("How a crash affects the group's other services."),
                        "intensity": intensity("Restarts allowed in the group before it gives up."),
                        "services": { "type": "array", "items": { "type": "string" }, "minItems": 1,
                            "description": "Its services, in start order." },
                    }
                }
            },
            "api": {
                "type": "object", "additionalProperties": false, "description": "The HTTP API on TCP, beside the control socket.",
                "properties": {
                    "listen": { "type": "string", "description": "An address such as \"127.0.0.1:7070\"." },
                    "token": { "type": "string", "minLength": 16, "description": "Bearer token TCP clients must send (required off loopback; on loopback, without one, tend generates one into api.token in its state directory)." },
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::keys;

    fn names(object: &Value) -> Vec<String> {
        let mut names: Vec<String> = object["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    fn sorted(keys: &[&str]) -> Vec<String> {
        let mut keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        keys.sort();
        keys
    }

    #[test]
    fn the_schema_names_exactly_the_keys_the_reader_accepts() {
        let schema = schema();
        let top = &schema;
        let service = &top["properties"]["services"]["additionalProperties"];
        let group = &top["properties"]["groups"]["additionalProperties"];
        let supervisor = &top["properties"]["supervisor"];
        let pairs: [(&Value, &[&str]); 19] = [
            (top, keys::TOP),
            (supervisor, keys::SUPERVISOR),
            (&supervisor["properties"]["intensity"], keys::INTENSITY),
            (service, keys::SERVICE),
            (&service["properties"]["backoff"]["oneOf"][1], keys::BACKOFF),
            (&service["properties"]["budget"], keys::BUDGET),
            (
                &service["properties"]["start_limit"]["oneOf"][1],
                keys::START_LIMIT,
            ),
            (&service["properties"]["stop"], keys::STOP),
            (&service["properties"]["logs"], keys::LOGS),
            (&service["properties"]["limits"], keys::LIMITS),
            (&service["properties"]["ready"], keys::READY),
            (&service["properties"]["startup"], keys::PROBE),
            (&service["properties"]["readiness"], keys::PROBE),
            (&service["properties"]["liveness"], keys::PROBE),
            (&service["properties"]["container"], keys::CONTAINER),
            (&service["properties"]["wasm"], keys::WASM),
            (&service["properties"]["remote"], keys::REMOTE),
            (group, keys::GROUP),
            (&top["properties"]["api"], keys::API),
        ];
        for (object, keys) in pairs {
            assert_eq!(names(object), sorted(keys));
        }
    }
}
