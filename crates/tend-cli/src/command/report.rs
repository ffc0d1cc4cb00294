//! `tend report`: a run's history as one self-contained HTML page (inline
//! CSS and SVG, no script, nothing fetched), read straight from the
//! journal file, so it works with tend stopped or crashed, and can be
//! mailed or attached to an incident.
//!
//! The page: totals; restarts over time; a timeline per service (when it
//! ran, how each run ended, where it was given up on); exit kinds per
//! service; the give-ups and failures with their reasons.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use tend_wire::{Entry, ExitClass, ExitKind, Record};

use crate::cli::Target;
use crate::out::say;

/// Writes the page for the journal of `target`'s state directory.
pub fn write(target: &Target, output: &Path, since: &str) -> anyhow::Result<ExitCode> {
    let journal = target.open_journal("no journal at")?;
    let ago = humantime::parse_duration(since).context("reading --since")?;
    let to = SystemTime::now();
    let from = to.checked_sub(ago).unwrap_or(SystemTime::UNIX_EPOCH);
    let entries = journal.read(&tend_journal::Query {
        since: Some(from),
        after_id: None,
        services: Vec::new(),
        limit: None,
    })?;
    let title = format!("tend report: {}", target.config().display());
    let page = render(&title, &entries, from, to);
    write_new(output, page.as_bytes()).with_context(|| format!("writing {}", output.display()))?;
    say!(
        "{}: {} events from {} to {}",
        output.display(),
        entries.len(),
        humantime::format_rfc3339_seconds(from),
        humantime::format_rfc3339_seconds(to)
    )?;
    Ok(ExitCode::SUCCESS)
}

/// One service's history in the period.
#[derive(Debug, Default)]
struct Lane {
    /// Runs: start and end (none: still running at the period's end).
    runs: Vec<(SystemTime, Option<SystemTime>)>,
    /// Ends: when, the exit's class and the entry's line.
    exits: Vec<(SystemTime, ExitClass, String)>,
    /// Give-ups and failures: when, and the entry's line.
    gave_up: Vec<(SystemTime, String)>,
    restarts: usize,
    /// Exits by kind.
    kinds: BTreeMap<ExitKind, usize>,
}

/// The lanes, in the order their services first appear (config order,
/// mostly: `worker.2` before `worker.10`).
#[derive(Debug, Default)]
struct Lanes {
    lanes: Vec<(String, Lane)>,
    index: BTreeMap<String, usize>,
}

impl Lanes {
    fn of(&mut self, service: &str) -> &mut Lane {
        let at = *self.index.entry(service.to_owned()).or_insert_with(|| {
            self.lanes.push((service.to_owned(), Lane::default()));
            self.lanes.len() - 1
        });
        &mut self.lanes[at].1
    }

    fn values(&self) -> impl Iterator<Item = &Lane> {
        self.lanes.iter().map(|(_, lane)| lane)
    }

    fn iter(&self) -> impl Iterator<Item = (&String, &Lane)> {
        self.lanes.iter().map(|(name, lane)| (name, lane))
    }

    fn len(&self) -> usize {
        self.lanes.len()
    }
}

/// Restart buckets of the "restarts over time" plot.
const BUCKETS: usize = 60;

/// The page.
pub fn render(title: &str, entries: &[Entry], from: SystemTime, to: SystemTime) -> String {
    // The axis starts at the first entry of the period, not before it.
    let from = entries.first().map_or(from, |e| e.at.max(from));
    let mut lanes = Lanes::default();
    let mut give_ups: Vec<(SystemTime, String, String)> = Vec::new();
    let mut restarts_at: Vec<SystemTime> = Vec::new();
    let mut upgrades = 0;
    for entry in entries {
        let line = || entry.line().to_string();
        match &entry.record {
            // A supervisor's start (no process) is told by its children.
            Record::Started {
                service,
                pid: Some(_),
                ..
            } => {
                lanes.of(service).runs.push((entry.at, None));
            }
            Record::Exited { service, exit, .. } | Record::StartFailed { service, exit, .. } => {
                let lane = lanes.of(service);
                if let Some(run) = lane.runs.iter_mut().rev().find(|r| r.1.is_none()) {
                    run.1 = Some(entry.at);
                }
                lane.exits.push((entry.at, exit.class, line()));
                *lane.kinds.entry(exit.kind).or_default() += 1;
            }
            Record::Restarting { service, .. } => {
                lanes.of(service).restarts += 1;
                restarts_at.push(entry.at);
            }
            Record::Failed { service, .. } => {
                lanes.of(service).gave_up.push((entry.at, line()));
                give_ups.push((entry.at, service.clone(), line()));
            }
            Record::GaveUp { .. } => {
                give_ups.push((entry.at, entry.supervisor.clone(), line()));
            }
            Record::Upgraded { .. } => upgrades += 1,
            _ => {}
        }
    }
    let span = to.duration_since(from).unwrap_or(Duration::from_secs(1));
    let x = |at: SystemTime, width: f64| -> f64 {
        let into = at.duration_since(from).unwrap_or_default().as_secs_f64();
        (into / span.as_secs_f64()).clamp(0.0, 1.0) * width
    };

    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>{STYLE}</style></head><body><h1>{t}</h1>",
        t = escape(title)
    );
    let starts: usize = lanes.values().map(|l| l.runs.len()).sum();
    let exits: usize = lanes.values().map(|l| l.exits.len()).sum();
    let abnormal: usize = lanes
        .values()
        .flat_map(|l| &l.exits)
        .filter(|e| e.1 == ExitClass::Abnormal)
        .count();
    let _ = write!(
        html,
        "<p class=\"period\">{} to {} ({})</p><div class=\"totals\">\
         <div><b>{}</b>services</div><div><b>{starts}</b>starts</div>\
         <div><b>{exits}</b>exits</div><div class=\"bad\"><b>{abnormal}</b>abnormal</div>\
         <div><b>{}</b>restarts</div><div class=\"bad\"><b>{}</b>give-ups</div>\
         <div><b>{upgrades}</b>upgrades</div></div>",
        humantime::format_rfc3339_seconds(from),
        humantime::format_rfc3339_seconds(to),
        humantime::format_duration(Duration::from_secs(span.as_secs())),
        lanes.len(),
        restarts_at.len(),
        give_ups.len(),
    );

    // Restarts over time.
    let mut buckets = [0usize; BUCKETS];
    for at in &restarts_at {
        let i = (x(*at, BUCKETS as f64) as usize).min(BUCKETS - 1);
        buckets[i] += 1;
    }
    let peak = buckets.iter().copied().max().unwrap_or(0).max(1);
    html.push_str("<h2>Restarts over time</h2><svg class=\"bars\" viewBox=\"0 0 600 80\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"restarts over time\">");
    for (i, n) in buckets.iter().enumerate() {
        if *n > 0 {
            let h = (*n as f64 / peak as f64) * 76.0;
            let _ = write!(
                html,
                "<rect x=\"{}\" y=\"{:.1}\" width=\"9\" height=\"{h:.1}\"><title>{n} restarts</title></rect>",
                i * 10,
                80.0 - h
            );
        }
    }
    let _ = write!(
        html,
        "</svg><p class=\"axis\"><span>{}</span><span>peak {peak} per {}</span><span>{}</span></p>",
        humantime::format_rfc3339_seconds(from),
        humantime::format_duration(Duration::from_secs(span.as_secs() / BUCKETS as u64)),
        humantime::format_rfc3339_seconds(to)
    );

    // One lane per service.
    html.push_str("<h2>Timeline per service</h2><p class=\"legend\"><i class=\"run\"></i>running <i class=\"normal\"></i>ended normally <i class=\"abnormal\"></i>ended abnormally <i class=\"shutdown\"></i>stopped <i class=\"gaveup\"></i>given up</p><div class=\"lanes\">");
    const WIDTH: f64 = 1000.0;
    for (name, lane) in lanes.iter() {
        let _ = write!(
            html,
            "<div class=\"lane\"><span class=\"name\">{}</span><svg viewBox=\"0 0 1000 16\" preserveAspectRatio=\"none\">",
            escape(name)
        );
        for (start, end) in &lane.runs {
            let x0 = x(*start, WIDTH);
            let x1 = x(end.unwrap_or(to), WIDTH);
            let _ = write!(
                html,
                "<rect class=\"run\" x=\"{x0:.1}\" y=\"3\" width=\"{:.1}\" height=\"10\"/>",
                (x1 - x0).max(1.0)
            );
        }
        for (at, class, what) in &lane.exits {
            let _ = write!(
                html,
                "<rect class=\"{}\" x=\"{:.1}\" y=\"0\" width=\"2\" height=\"16\"><title>{}: {}</title></rect>",
                class,
                x(*at, WIDTH),
                humantime::format_rfc3339_seconds(*at),
                escape(what)
            );
        }
        for (at, why) in &lane.gave_up {
            let _ = write!(
                html,
                "<rect class=\"gaveup\" x=\"{:.1}\" y=\"0\" width=\"6\" height=\"16\"><title>{}: {}</title></rect>",
                x(*at, WIDTH),
                humantime::format_rfc3339_seconds(*at),
                escape(why)
            );
        }
        let _ = write!(
            html,
            "</svg><span class=\"count\">{}, {}</span></div>",
            counted(lane.runs.len(), "run"),
            counted(lane.restarts, "restart")
        );
    }
    html.push_str("</div>");

    // Exit kinds per service.
    let kinds: Vec<ExitKind> = {
        let mut all: Vec<ExitKind> = lanes
            .values()
            .flat_map(|l| l.kinds.keys().copied())
            .collect();
        all.sort();
        all.dedup();
        all
    };
    html.push_str(
        "<h2>How runs ended</h2><table><thead><tr><th>service</th><th>starts</th><th>restarts</th>",
    );
    for kind in &kinds {
        let _ = write!(html, "<th>{}</th>", escape(&kind.to_string()));
    }
    html.push_str("<th>last end</th></tr></thead><tbody>");
    for (name, lane) in lanes.iter() {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td>",
            escape(name),
            lane.runs.len(),
            lane.restarts
        );
        for kind in &kinds {
            let _ = write!(
                html,
                "<td>{}</td>",
                lane.kinds.get(kind).copied().unwrap_or(0)
            );
        }
        let last = lane.exits.last().map_or("-".to_owned(), |e| e.2.clone());
        let _ = write!(html, "<td>{}</td></tr>", escape(&last));
    }
    html.push_str("</tbody></table>");

    // Give-ups.
    html.push_str("<h2>Give-ups and failures</h2>");
    if give_ups.is_empty() {
        html.push_str("<p>None.</p>");
    } else {
        html.push_str(
            "<table><thead><tr><th>when</th><th>who</th><th>what</th></tr></thead><tbody>",
        );
        for (at, who, what) in &give_ups {
            let _ = write!(
                html,
                "<tr class=\"bad\"><td>{}</td><td>{}</td><td>{}</td></tr>",
                humantime::format_rfc3339_seconds(*at),
                escape(who),
                escape(what)
            );
        }
        html.push_str("</tbody></table>");
    }
    let _ = writeln!(
        html,
        "<footer>written by tend {} from {} journal entries</footer></body></html>",
        env!("CARGO_PKG_VERSION"),
        entries.len()
    );
    html
}

/// `1 run`, `2 runs`.
fn counted(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Text for HTML: the five characters that mean markup, escaped (the only
/// escaping the page needs; no crate for five replacements).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem auto;max-width:72rem;padding:0 1rem;color:#1d2330}\
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}.period{color:#667}\
.totals{display:flex;flex-wrap:wrap;gap:.75rem}.totals div{border:1px solid #dde;border-radius:6px;padding:.5rem .9rem;min-width:6rem}\
.totals b{display:block;font-size:1.4rem}.bad b,tr.bad td{color:#b42318}\
svg.bars{width:100%;height:80px;background:#f6f7f9}svg.bars rect{fill:#d97706}\
.axis{display:flex;justify-content:space-between;color:#667;font-size:12px;margin:.2rem 0}\
.lane{display:grid;grid-template-columns:12rem 1fr 10rem;align-items:center;gap:.5rem;border-bottom:1px solid #eef}\
.lane svg{width:100%;height:16px;background:#f6f7f9}.lane .name{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-family:monospace}\
.count{color:#667;font-size:12px}rect.run{fill:#86efac}rect.normal{fill:#2563eb}rect.abnormal{fill:#dc2626}rect.shutdown{fill:#6b7280}rect.gaveup{fill:#7f1d1d}\
.legend i{display:inline-block;width:.8rem;height:.8rem;margin:0 .2rem 0 .8rem;vertical-align:middle}\
.legend i.run{background:#86efac}.legend i.normal{background:#2563eb}.legend i.abnormal{background:#dc2626}.legend i.shutdown{background:#6b7280}.legend i.gaveup{background:#7f1d1d}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25rem .6rem;border-bottom:1px solid #eef}th{background:#f6f7f9}\
footer{margin-top:2rem;color:#889;font-size:12px}\
@media (max-width:40rem){.lane{grid-template-columns:7rem 1fr}.lane .count{display:none}}";

/// Writes `bytes` to `path` through no symbolic link, into a regular file
/// only: a report run by root in a shared directory must not overwrite
/// what someone pointed `tend-report.html` at.
fn write_new(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let parent = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "names no file"))?;
    let dir = tend_process::files::open_dir(parent)?;
    let mut file = tend_process::files::open_regular(
        std::os::fd::AsFd::as_fd(&dir),
        name,
        tend_process::files::Access::Truncate,
        path,
    )?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tend_wire::{Exit, FailReason};

    fn entry(id: i64, secs: u64, record: Record) -> Entry {
        Entry {
            id,
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            supervisor: "tend".into(),
            record,
        }
    }

    fn crash() -> Exit {
        Exit {
            kind: ExitKind::Error,
            class: ExitClass::Abnormal,
            code: Some(1),
            signal: None,
            reason: None,
        }
    }

    #[test]
    fn the_page_holds_each_service_lane_exit_kinds_and_give_ups() {
        let entries = vec![
            entry(
                1,
                10,
                Record::Started {
                    service: "web<1>".into(),
                    generation: 1,
                    pid: Some(5),
                    start_ticks: None,
                    boot_id: None,
                },
            ),
            entry(
                2,
                20,
                Record::Exited {
                    service: "web<1>".into(),
                    generation: 1,
                    exit: crash(),
                    ran_for_ms: 10_000,
                    pid: Some(5),
                },
            ),
            entry(
                3,
                20,
                Record::Restarting {
                    service: "web<1>".into(),
                    delay_ms: 0,
                    restarts: 1,
                },
            ),
            entry(
                4,
                21,
                Record::Started {
                    service: "web<1>".into(),
                    generation: 2,
                    pid: Some(6),
                    start_ticks: None,
                    boot_id: None,
                },
            ),
            entry(
                5,
                30,
                Record::Failed {
                    service: "db".into(),
                    reason: FailReason::Crashed,
                    exit: None,
                    budget: None,
                },
            ),
        ];
        let from = SystemTime::UNIX_EPOCH;
        let page = render("t", &entries, from, from + Duration::from_secs(100));
        assert!(page.starts_with("<!doctype html>") && page.ends_with("</html>\n"));
        assert!(page.contains("web&lt;1&gt;"), "names are escaped");
        assert!(!page.contains("web<1>"));
        assert!(page.contains("2 runs, 1 restart<"), "{page}");
        assert!(page.contains("<th>error</th>"));
        assert!(page.contains("failed: crashed"));
        assert!(!page.contains("<script"), "no script");
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "nothing fetched"
        );
        // The axis runs from the first entry (10 s) to the end (100 s): the
        // crash at 20 s is drawn at a ninth of the width.
        assert!(page.contains("class=\"abnormal\" x=\"111.1\""), "{page}");
    }
}
