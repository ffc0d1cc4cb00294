//! `docs/openapi.json` checked against the running server: every documented
//! operation is called, and every answer's status, content type and body
//! must be what the document says (bodies validated against its schemas).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{request, request_for, Answer, Project};
use serde_json::{json, Value};

/// The document, and which (path, method, status) the test has seen.
struct Spec {
    doc: Value,
    seen: BTreeSet<(String, String, String)>,
}

impl Spec {
    fn load() -> Spec {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        let text = std::fs::read_to_string(&file).expect("docs/openapi.json");
        let doc: Value = serde_json::from_str(&text).expect("docs/openapi.json is JSON");
        Spec {
            doc,
            seen: BTreeSet::new(),
        }
    }

    /// Every (path, method) the document has.
    fn operations(&self) -> BTreeSet<(String, String)> {
        let mut all = BTreeSet::new();
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                all.insert((path.clone(), method.clone()));
            }
        }
        all
    }

    /// The documented path a concrete path falls under: a template's
    /// literal segments win over its `{parameters}`, as OpenAPI says.
    fn template_of(&self, path: &str) -> String {
        let path = path.split('?').next().unwrap();
        let segments: Vec<&str> = path.split('/').collect();
        let mut best: Option<(usize, &String)> = None;
        for template in self.doc["paths"].as_object().unwrap().keys() {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                continue;
            }
            let fits = parts
                .iter()
                .zip(&segments)
                .all(|(t, s)| t.starts_with('{') || t == s);
            let literals = parts.iter().filter(|t| !t.starts_with('{')).count();
            if fits && best.is_none_or(|(n, _)| literals > n) {
                best = Some((literals, template));
            }
        }
        best.unwrap_or_else(|| panic!("{path} is not in docs/openapi.json"))
            .1
            .clone()
    }

    /// Checks one answer against the document.
    fn check(&mut self, method: &str, path: &str, answer: &Answer) {
        let template = self.template_of(path);
        let method = method.to_lowercase();
        let operation = &self.doc["paths"][&template][&method];
        assert!(
            operation.is_object(),
            "{method} {template} is not documented"
        );
        let status = answer.status.to_string();
        let response = &operation["responses"][&status];
        assert!(
            response.is_object(),
            "{method} {path} answered {status}, which docs/openapi.json does not list: {}",
            answer.body
        );
        let content = response["content"].as_object().unwrap();
        let (media, spec) = content
            .iter()
            .find(|(media, _)| same_media(media, &answer.content_type))
            .unwrap_or_else(|| {
                panic!(
                    "{method} {path} answered {status} as {:?}; documented: {:?}",
                    answer.content_type,
                    content.keys().collect::<Vec<_>>()
                )
            });
        let pointer = format!(
            "#/paths/{}/{method}/responses/{status}/content/{}",
            escape(&template),
            escape(media)
        );
        if spec.get("schema").is_some() && media.starts_with("application/json") {
            let body: Value = serde_json::from_str(&answer.body)
                .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {}", answer.body));
            self.validate(&format!("{pointer}/schema"), &body, path);
        }
        if spec.get("itemSchema").is_some() && media.starts_with("text/event-stream") {
            let data: Vec<&str> = answer
                .body
                .lines()
                .filter_map(|line| line.strip_prefix("data: "))
                .collect();
            assert!(
                !data.is_empty(),
                "{method} {path}: no event: {}",
                answer.body
            );
            for line in data {
                let item: Value = serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!("{method} {path}: an event is not JSON ({e}): {line}")
                });
                self.validate(&format!("{pointer}/itemSchema"), &item, path);
            }
        } else if spec.get("itemSchema").is_some() {
            for line in answer.body.lines() {
                let item: Value = serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!("{method} {path}: a line is not JSON ({e}): {line}")
                });
                self.validate(&format!("{pointer}/itemSchema"), &item, path);
            }
        }
        self.seen.insert((template, method, status));
    }

    /// Validates `value` against the schema at `pointer`, in the document
    /// (so its `$ref`s to `#/components/schemas/…` resolve).
    fn validate(&self, pointer: &str, value: &Value, path: &str) {
        let mut root = self.doc.clone();
        root["$ref"] = json!(pointer);
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("the schema at {pointer}: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{path}: the answer does not fit {pointer}:\n{}\n{value:#}",
            errors.join("\n")
        );
    }
}

/// `application/json` fits `application/json; charset=…` and the reverse.
fn same_media(documented: &str, sent: &str) -> bool {
    let essence = |m: &str| m.split(';').next().unwrap().trim().to_ascii_lowercase();
    essence(documented) == essence(sent)
}

/// A JSON pointer token, as it may stand in a URI fragment.
fn escape(token: &str) -> String {
    token
        .replace('%', "%25")
        .replace('~', "~0")
        .replace('/', "~1")
        .replace('{', "%7B")
        .replace('}', "%7D")
        .replace(' ', "%20")
}

#[test]
fn the_openapi_document_describes_the_running_server() {
    let mut spec = Spec::load();
    let mut p = Project::new(
        r#"
[services.web]
shell = "echo web up; while true; do sleep 1; done"
ready = { log = "web up" }

[services.api]
shell = "while true; do sleep 1; done"
replicas = 2

[services.once]
command = ["true"]
restart = "never"

[groups.back]
strategy = "rest_for_one"
services = ["api"]
"#,
    );
    p.up();
    p.wait_state("web", "running");
    p.wait_state("api.2", "running");
    p.wait_for("web's output in its log", || {
        p.read(".tend/logs/web.log").contains("web up")
    });
    let socket = p.path(".tend/tend.sock");
    let mut expect = |method: &str, path: &str, body: Option<&str>, status: u16| -> Answer {
        let answer = request(&socket, method, path, body);
        assert_eq!(
            answer.status, status,
            "{method} {path}: {} {}",
            answer.content_type, answer.body
        );
        spec.check(method, path, &answer);
        answer
    };

    expect("GET", "/v1/daemon", None, 200);
    expect("GET", "/healthz", None, 200);
    expect("GET", "/readyz", None, 200);
    expect("POST", "/v1/services/web/stop", None, 200);
    expect("GET", "/readyz", None, 503);
    expect("POST", "/v1/services/web/start", None, 200);
    p.wait_state("web", "running");
    let all = expect("GET", "/v1/services", None, 200);
    assert!(all.body.contains("\"api.2\""), "{}", all.body);
    let memory = |answer: &Answer| -> Vec<Value> {
        let all: Value = serde_json::from_str(&answer.body).unwrap();
        let all = all.as_array().unwrap().iter();
        all.map(|s| s["memory_bytes"].clone()).collect()
    };
    let measured = expect("GET", "/v1/services?usage=true", None, 200);
    assert!(
        memory(&measured).iter().any(|m| m.as_u64() > Some(0)),
        "memory measured when asked: {}",
        measured.body
    );
    assert!(memory(&all).iter().all(Value::is_null), "{}", all.body);
    expect("GET", "/v1/services?usage=maybe", None, 400);
    expect("GET", "/v1/services/web", None, 200);
    expect("GET", "/v1/services/web?usage=true", None, 200);
    expect("GET", "/v1/services/api.1", None, 200);
    expect("GET", "/v1/services/api", None, 404);
    expect("GET", "/v1/services/nope", None, 404);
    expect("GET", "/v1/ps", None, 200);
    let logs = expect("GET", "/v1/services/web/logs?lines=5", None, 200);
    assert!(logs.body.contains("web up"), "{}", logs.body);
    expect("GET", "/v1/services/web/logs?lines=many", None, 400);
    expect("GET", "/v1/services/nope/logs", None, 404);
    expect("GET", "/v1/logs?services=web,api&lines=3", None, 200);
    expect("GET", "/v1/logs?lines=-1", None, 400);
    expect("GET", "/v1/logs?services=nope", None, 404);

    expect("POST", "/v1/services/web/restart", None, 200);
    p.wait_state("web", "running");
    expect("POST", "/v1/services/api/stop", None, 200);
    expect("POST", "/v1/services/api.1/kill", None, 409);
    expect(
        "POST",
        "/v1/services/api/signal",
        Some(r#"{"signal":"SIGHUP"}"#),
        409,
    );
    expect("POST", "/v1/services/api/start", None, 200);
    p.wait_state("api.1", "running");
    expect("POST", "/v1/services/api.2/kill", None, 200);
    expect(
        "POST",
        "/v1/services/web/signal",
        Some(r#"{"signal":"SIGCONT"}"#),
        200,
    );
    expect(
        "POST",
        "/v1/services/web/signal",
        Some(r#"{"signal":"SIGWHAT"}"#),
        400,
    );
    expect("POST", "/v1/services/web/signal", Some("{not json"), 400);
    for action in ["start", "stop", "restart", "kill", "signal"] {
        let body = (action == "signal").then_some(r#"{"signal":"SIGHUP"}"#);
        expect("POST", &format!("/v1/services/nope/{action}"), body, 404);
    }

    // The journal, with every kind of entry the run produced so far.
    p.wait_state("api.2", "running");
    let events = expect("GET", "/v1/events", None, 200);
    for kind in ["supervisor_started", "started", "exited", "command"] {
        assert!(
            events.body.contains(&format!("\"kind\":\"{kind}\"")),
            "{kind} in\n{}",
            events.body
        );
    }
    expect("GET", "/v1/events?since=1h&services=web&limit=5", None, 200);
    let chosen = expect("GET", "/v1/events?kinds=exited,command&limit=3", None, 200);
    assert_eq!(chosen.body.lines().count(), 3, "{}", chosen.body);
    assert!(
        chosen
            .body
            .lines()
            .all(|l| l.contains("\"kind\":\"exited\"") || l.contains("\"kind\":\"command\"")),
        "{}",
        chosen.body
    );
    let problems = expect("GET", "/v1/events?problems=true", None, 200);
    assert!(
        problems
            .body
            .lines()
            .all(|l| l.contains("\"problem\":true")),
        "{}",
        problems.body
    );
    expect("GET", "/v1/events?kinds=exited,nope", None, 400);
    expect("GET", "/v1/events?since=yesterday", None, 400);

    // The live picture: a snapshot, then what changes (a restart).
    let watch = {
        let socket = p.path(".tend/tend.sock");
        let restart = std::thread::spawn({
            let socket = socket.clone();
            move || {
                std::thread::sleep(std::time::Duration::from_millis(500));
                request(&socket, "POST", "/v1/services/web/restart", None)
            }
        });
        let answer = request_for(&socket, "/v1/watch?interval=200ms", 3);
        assert_eq!(restart.join().unwrap().status, 200);
        answer
    };
    assert!(
        watch.body.starts_with("data: {\"kind\":\"snapshot\""),
        "{}",
        watch.body
    );
    assert!(
        watch.body.contains("\"kind\":\"changed\""),
        "{}",
        watch.body
    );
    assert!(watch.body.contains("\"kind\":\"entry\""), "{}", watch.body);
    p.wait_state("web", "running");
    expect("GET", "/v1/watch?interval=5ms", None, 400);
    expect("GET", "/v1/watch?interval=soon", None, 400);

    let good = std::fs::read_to_string(p.path("tend.toml")).unwrap();
    p.write_config(&format!(
        "{good}\n[services.web3]\nshell = \"while true; do sleep 1; done\"\n"
    ));
    let plan = expect("POST", "/v1/reload?dry_run=true", None, 200);
    assert!(plan.body.contains("\"added\":[\"web3\"]"), "{}", plan.body);
    assert!(
        !p.status().iter().any(|s| s["name"] == "web3"),
        "a dry run changes nothing"
    );
    expect("POST", "/v1/reload?dry_run=maybe", None, 400);
    p.write_config(&format!("{good}\n[services.web2]\ncomand = [\"x\"]\n"));
    let rejected = expect("POST", "/v1/reload", None, 400);
    assert!(rejected.body.contains("details"), "{}", rejected.body);
    p.write_config(&format!(
        "{good}\n[services.web2]\nshell = \"while true; do sleep 1; done\"\n"
    ));
    expect("POST", "/v1/reload", None, 200);

    expect("POST", "/v1/upgrade", Some(r#"{"binary":"tend"}"#), 400);
    expect("POST", "/v1/upgrade", Some("{not json"), 400);
    expect(
        "POST",
        "/v1/upgrade",
        Some(r#"{"binary":"/bin/false"}"#),
        409,
    );
    // No body: the running binary again.
    expect("POST", "/v1/upgrade", None, 202);
    // While the daemon execs, a connection may be refused or cut: ask
    // again until the new image answers, then check its answer.
    p.wait_for("the upgraded daemon", || {
        let info = request(&socket, "GET", "/v1/daemon", None);
        info.status == 200 && serde_json::from_str::<Value>(&info.body).unwrap()["upgrades"] == 1
    });
    expect("GET", "/v1/daemon", None, 200);

    expect("GET", "/metrics", None, 200);
    expect("POST", "/v1/shutdown", None, 202);
    assert_eq!(p.wait_exit(), 0);

    spec.check("GET", "/v1/watch?interval=200ms", &watch);
    // Every documented operation was called and answered as documented.
    let called: BTreeSet<(String, String)> = spec
        .seen
        .iter()
        .map(|(path, method, _)| (path.clone(), method.clone()))
        .collect();
    let missing: Vec<_> = spec.operations().difference(&called).cloned().collect();
    assert!(missing.is_empty(), "never called: {missing:?}");
}

/// Every kind of journal entry fits the document's `Entry`, not only the
/// kinds a short run produces.
#[test]
fn every_journal_record_fits_the_documented_entry() {
    use tend_wire::{
        Action, BudgetInfo, Entry, Exit, ExitClass, ExitKind, FailReason, GiveUp, IsolateCause,
        ProbeRole, Record, Signal,
    };

    let spec = Spec::load();
    let exit = Exit {
        kind: ExitKind::Killed,
        class: ExitClass::Abnormal,
        code: None,
        signal: Some(Signal::Kill),
        reason: None,
    };
    let service = || "web.1".to_owned();
    let records = vec![
        Record::SupervisorStarted,
        Record::SupervisorStopped { exit: exit.clone() },
        Record::Started {
            service: service(),
            generation: 1,
            pid: Some(42),
            start_ticks: None,
            boot_id: None,
        },
        Record::Ready {
            service: service(),
            generation: 1,
        },
        Record::StartFailed {
            service: service(),
            generation: 1,
            exit: exit.clone(),
        },
        Record::Exited {
            service: service(),
            generation: 1,
            exit: exit.clone(),
            ran_for_ms: 5,
            pid: Some(4242),
        },
        Record::Restarting {
            service: service(),
            delay_ms: 100,
            restarts: 3,
        },
        Record::CrashLoop {
            service: service(),
            delay_ms: 60_000,
            restarts: 6,
        },
        Record::Failed {
            service: service(),
            reason: FailReason::CircuitBreakerOpen,
            exit: Some(exit.clone()),
            budget: Some(BudgetInfo {
                failures: 6,
                limit: 5,
                window_ms: 60_000,
            }),
        },
        Record::Isolated {
            service: service(),
            cause: IsolateCause::CrashPolicy,
            exit: Some(exit.clone()),
        },
        Record::Stopping {
            service: service(),
            generation: 1,
            because: exit,
        },
        Record::ProbeFailed {
            service: service(),
            probe: ProbeRole::Liveness,
            failures: 3,
            reason: "connection refused".into(),
        },
        Record::NotReady {
            service: service(),
            generation: 2,
            reason: "readiness probe failed: connection refused".into(),
        },
        Record::ResourceWarning {
            service: service(),
            resource: "memory".into(),
            used: 81,
            limit: 100,
        },
        Record::ResourceExceeded {
            service: service(),
            resource: "memory".into(),
            used: 101,
            limit: 100,
        },
        Record::WriteFailed {
            file: "log".into(),
            service: Some(service()),
            error: "No space left on device (os error 28)".into(),
        },
        Record::WriteRecovered {
            file: "journal".into(),
            service: None,
            after_ms: 5000,
            dropped: 0,
        },
        Record::JournalCorrupt {
            moved_to: "/srv/app/.tend/journal.db.corrupt-20261206T231500Z".into(),
            error: "file is not a database".into(),
            last_good_row: Some(41),
            last_good_hash: Some("3fa2".repeat(16)),
        },
        Record::JournalCorrupt {
            moved_to: "/srv/app/.tend/journal.db.corrupt-20261206T231500Z".into(),
            error: "file is not a database".into(),
            last_good_row: None,
            last_good_hash: None,
        },
        Record::LeftoverStopped {
            service: service(),
            pids: vec![4242, 4243],
            how: "killed".into(),
        },
        Record::Upgraded {
            from: "0.1.0".into(),
            to: "0.2.0".into(),
            kept: vec![service()],
        },
        Record::Terminated { service: service() },
        Record::Added { service: service() },
        Record::Removed { service: service() },
        Record::GaveUp {
            service: service(),
            reason: GiveUp::IntensityReached,
        },
        Record::AutoShutdown { service: service() },
        Record::command(Action::Signal, Some("SIGHUP"), vec![service()], None),
    ];
    let documented = spec.doc["components"]["schemas"]["Record"]["oneOf"]
        .as_array()
        .unwrap()
        .len();
    let kinds: BTreeSet<_> = records.iter().map(|r| r.kind().to_string()).collect();
    assert_eq!(kinds.len(), documented, "one sample per documented kind");
    let pointer = "#/components/schemas/Entry";
    for (id, record) in records.into_iter().enumerate() {
        let entry = Entry {
            id: i64::try_from(id).unwrap() + 1,
            at: std::time::SystemTime::now(),
            supervisor: "tend/back".into(),
            record,
        };
        let value = serde_json::to_value(&entry).unwrap();
        spec.validate(pointer, &value, "a journal entry");
    }
    // And the schema is strict: a stray field fails it.
    let mut bad = serde_json::to_value(Entry {
        id: 1,
        at: std::time::SystemTime::now(),
        supervisor: "tend".into(),
        record: Record::Added { service: service() },
    })
    .unwrap();
    bad["stray"] = json!(1);
    let mut root = spec.doc.clone();
    root["$ref"] = json!(pointer);
    assert!(!jsonschema::validator_for(&root).unwrap().is_valid(&bad));
}

/// Every word of each vocabulary is in the document's enum of it, and the
/// document has no word the vocabulary lacks.
#[test]
fn the_documented_enums_are_the_vocabularies() {
    use tend_wire::{
        Action, ErrorCode, ExitClass, ExitKind, FailReason, GiveUp, HealthStatus, IsolateCause,
        NodeKind, ProbeRole, RecordKind, State,
    };

    fn words<T: serde::Serialize>(all: &[T]) -> BTreeSet<String> {
        all.iter()
            .map(|w| {
                serde_json::to_value(w)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
    let spec = Spec::load();
    let vocabularies = [
        ("State", words(State::ALL)),
        ("ExitKind", words(ExitKind::ALL)),
        ("ExitClass", words(&ExitClass::ALL)),
        ("FailReason", words(FailReason::ALL)),
        ("IsolateCause", words(IsolateCause::ALL)),
        ("ProbeRole", words(ProbeRole::ALL)),
        ("GiveUp", words(GiveUp::ALL)),
        ("Action", words(Action::ALL)),
        ("RecordKind", words(RecordKind::ALL)),
        ("NodeKind", words(NodeKind::ALL)),
        ("HealthStatus", words(HealthStatus::ALL)),
        ("ErrorCode", words(ErrorCode::ALL)),
    ];
    for (name, rust) in vocabularies {
        let documented: BTreeSet<String> = spec.doc["components"]["schemas"][name]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} is not an enum in docs/openapi.json"))
            .iter()
            .map(|w| w.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            documented, rust,
            "{name}: the document's words and the type's"
        );
    }
    // The record kinds are the titles of the documented records.
    let titles: BTreeSet<String> = spec.doc["components"]["schemas"]["Record"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles, words(RecordKind::ALL));
}
