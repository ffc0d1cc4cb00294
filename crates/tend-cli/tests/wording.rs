//! One fact, one wording: the same exit reads the same on the `tend up`
//! console, in `tend status`, in `tend events` and on the dashboard (the
//! text the server sends in the streams it reads, `/v1/watch` and
//! `/v1/events`, and in each status it draws).

mod common;

use common::{request, request_for, Project};
use serde_json::Value;

const CONFIG: &str = r#"
[services.web]
shell = "while true; do sleep 1; done"

[services.job]
shell = "sleep 1; exit 3"
restart = "never"
"#;

/// The text after the first occurrence of `marker` on the one line of
/// `text` that contains both `marker` and `also`.
fn line_of<'a>(text: &'a str, marker: &str, also: &str) -> &'a str {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(marker) && l.contains(also))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one line with {marker:?} and {also:?} in:\n{text}"
    );
    let line = lines[0];
    &line[line.find(marker).unwrap() + marker.len()..]
}

/// The `text` of the one streamed entry that says `service` exited.
fn sent_exit(entries: &[Value], service: &str) -> String {
    let texts: Vec<&str> = entries
        .iter()
        .filter(|e| e["kind"] == "exited" && e["service"] == service)
        .map(|e| e["text"].as_str().expect("each entry carries its text"))
        .collect();
    assert_eq!(texts.len(), 1, "{service}: {entries:?}");
    texts[0].to_owned()
}

#[test]
fn the_same_exit_reads_the_same_on_every_screen() {
    let mut p = Project::new(CONFIG);
    p.up();
    p.wait_state("web", "running");
    let socket = p.path(".tend/tend.sock");

    // The dashboard's live stream, open while web is stopped and job ends.
    let watch = {
        let stop = std::thread::spawn({
            let socket = socket.clone();
            move || {
                std::thread::sleep(std::time::Duration::from_millis(500));
                request(&socket, "POST", "/v1/services/web/stop", None)
            }
        });
        let answer = request_for(&socket, "/v1/watch?interval=200ms", 3);
        assert_eq!(stop.join().unwrap().status, 200);
        answer
    };
    p.wait_state("web", "shutdown");
    p.wait_state("job", "failed");
    let streamed: Vec<Value> = watch
        .body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|m| m["kind"] == "entry")
        .map(|m| m["entry"].clone())
        .collect();
    let history: Vec<Value> = request(&socket, "GET", "/v1/events?kinds=exited", None)
        .body
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    let status = p.ok(&["status"]);
    let statuses = p.status();
    let events = p.ok(&["events"]);
    assert_eq!(p.down(), 0);
    let console = p.read("up.err");

    for (service, exit) in [
        ("web", "shutdown (SIGTERM)"),
        ("job", "error (exit code 3)"),
    ] {
        // The exit, as `tend status` and the dashboard's table say it.
        let row = line_of(&status, &format!("{service} "), "");
        assert!(row.contains(exit), "tend status: {row}");
        let drawn = statuses.iter().find(|s| s["name"] == service).unwrap();
        assert_eq!(
            drawn["text"]["last_exit"], exit,
            "the dashboard's table: {drawn}"
        );
        // The whole line, as the console, `tend events` and the
        // dashboard's two streams say it.
        let on_console = line_of(&console, "tend | ", &format!("{service} (pid "));
        let in_events = line_of(&events, "  ", &format!("{service} (pid "));
        let on_dashboard = sent_exit(&streamed, service);
        let in_history = sent_exit(&history, service);
        eprintln!(
            "{service}:\n  console:     {on_console}\n  tend events: {in_events}\n  \
             dashboard:   {on_dashboard} (its table: {})\n  history:     {in_history}\n  \
             tend status: {service} {row}",
            drawn["text"]["last_exit"]
        );
        assert!(on_console.ends_with(&format!(": {exit}")), "{on_console}");
        assert_eq!(on_console, in_events);
        assert_eq!(on_console, on_dashboard);
        assert_eq!(on_console, in_history);
    }
}
