//! `tend top`: the live view, over the same API as every other command.
//!
//! Three feeds go into one loop: the watch stream (`GET /v1/watch`: a
//! snapshot, then only what changed), the selected instance's log stream,
//! and the keyboard (read on a thread of its own, crossterm being
//! blocking). The screen is redrawn only when something changed, and at
//! most every [`FRAME`]: an idle tree of a thousand services costs one
//! CPU sample pass per interval and nothing else.

mod draw;
mod model;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use tend_client::Client;
use tend_wire::{
    ActOptions, Acted, Entry, EventsQuery, List, LogsQuery, RecordKind, Watch, WatchQuery,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use model::{Action, Mode, Model};

/// The shortest time between two frames.
const FRAME: Duration = Duration::from_millis(250);

/// How long the selection must rest before its log stream is opened (so
/// scrolling through a thousand rows opens none on the way).
const SETTLE: Duration = Duration::from_millis(300);

/// Everything the loop is told.
enum Feed {
    Watch(Watch),
    Disconnected(String),
    History(Vec<Entry>),
    Key(KeyEvent),
    Resized,
    Log(String, String),
    Done(String),
}

/// Runs the view until `q`.
pub async fn run(client: Client, every: Duration) -> anyhow::Result<ExitCode> {
    // Before the screen changes: a clear error if tend is not running.
    client.daemon().await?;
    let (feed, mut fed) = mpsc::channel::<Feed>(1024);
    tokio::spawn(watch(client.clone(), every, feed.clone()));
    tokio::spawn(history(client.clone(), feed.clone()));
    keyboard(feed.clone());
    let mut terminal = ratatui::try_init().context("opening the terminal")?;
    let outcome = view(&client, every, &feed, &mut fed, &mut terminal).await;
    ratatui::restore();
    outcome
}

async fn view(
    client: &Client,
    every: Duration,
    feed: &mpsc::Sender<Feed>,
    fed: &mut mpsc::Receiver<Feed>,
    terminal: &mut ratatui::DefaultTerminal,
) -> anyhow::Result<ExitCode> {
    let mut model = Model::default();
    let mut scroll = 0;
    let mut dirty = true;
    let mut last_frame = Instant::now() - FRAME;
    let mut sample = tokio::time::interval(every);
    let mut logs: Option<(String, JoinHandle<()>)> = None;
    let mut selection_moved = Instant::now();
    loop {
        // Draw what changed, no sooner than a frame after the last.
        let next_frame = last_frame + FRAME;
        // The log pane follows the selected instance once it rests there.
        let wanted = model.selected_instance().map(|s| s.name.clone());
        let following = logs.as_ref().map(|(name, _)| name.clone());
        let switch_logs = (wanted != following).then_some(selection_moved + SETTLE);
        tokio::select! {
            got = fed.recv() => {
                let Some(got) = got else { return Ok(ExitCode::SUCCESS) };
                let before = model.target();
                match got {
                    Feed::Watch(message) => {
                        // A new stream (tend restarted or upgraded): the
                        // log stream ended with the old one; open it again.
                        if matches!(message, Watch::Snapshot { .. }) {
                            if let Some((_, task)) = logs.take() {
                                task.abort();
                            }
                        }
                        model.apply(message, Instant::now().into_std());
                    }
                    Feed::Disconnected(why) => {
                        model.connected = false;
                        model.message = Some(format!("disconnected: {why}; reconnecting"));
                    }
                    Feed::History(entries) => model.backfill(&entries, Instant::now().into_std()),
                    Feed::Resized => {}
                    Feed::Log(name, chunk) => {
                        if model.logs_of.as_deref() == Some(name.as_str()) {
                            model.log_chunk(&chunk);
                        }
                    }
                    Feed::Done(message) => model.message = Some(message),
                    Feed::Key(key) => {
                        if quits(&model, &key) {
                            return Ok(ExitCode::SUCCESS);
                        }
                        if let Some(action) = press(&mut model, key) {
                            tokio::spawn(act(client.clone(), action.0, action.1, feed.clone()));
                        }
                    }
                }
                if model.target() != before {
                    selection_moved = Instant::now();
                }
                dirty = true;
            }
            _ = sample.tick() => {
                model.sample(Instant::now().into_std());
                dirty = true;
            }
            () = tokio::time::sleep_until(next_frame), if dirty => {}
            () = tokio::time::sleep_until(switch_logs.unwrap_or(next_frame)), if switch_logs.is_some() => {
                if let Some((_, task)) = logs.take() {
                    task.abort();
                }
                model.logs.clear();
                model.logs_of.clone_from(&wanted);
                if let Some(name) = wanted {
                    let task = tokio::spawn(follow_logs(client.clone(), name.clone(), feed.clone()));
                    logs = Some((name, task));
                }
                dirty = true;
            }
        }
        if dirty && last_frame.elapsed() >= FRAME {
            terminal.draw(|frame| draw::draw(frame, &mut model, &mut scroll))?;
            last_frame = Instant::now();
            dirty = false;
        }
    }
}

/// Whether `key` ends the view (q, or Ctrl-C, outside a prompt).
fn quits(model: &Model, key: &KeyEvent) -> bool {
    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
    ctrl_c || (model.mode == Mode::Normal && key.code == KeyCode::Char('q'))
}

/// What a key does to the model; an action to send, once confirmed.
fn press(model: &mut Model, key: KeyEvent) -> Option<(Action, String)> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    match model.mode.clone() {
        Mode::Normal => {
            let target = model.target();
            let ask = |action: Action| target.clone().map(|t| Mode::Confirm(action, t));
            match key.code {
                KeyCode::Down | KeyCode::Char('j') => model.select(1),
                KeyCode::Up | KeyCode::Char('k') => model.select(-1),
                KeyCode::PageDown => model.select(20),
                KeyCode::PageUp => model.select(-20),
                KeyCode::Home | KeyCode::Char('g') => model.select(isize::MIN / 2),
                KeyCode::End | KeyCode::Char('G') => model.select(isize::MAX / 2),
                KeyCode::Char('/') => model.mode = Mode::Filter,
                KeyCode::Esc => {
                    model.filter.clear();
                    model.layout();
                }
                // Starting harms nothing: no question asked.
                KeyCode::Char('S') => return target.map(|t| (Action::Start, t)),
                KeyCode::Char('r') => model.mode = ask(Action::Restart)?,
                KeyCode::Char('s') => model.mode = ask(Action::Stop)?,
                KeyCode::Char('K') => model.mode = ask(Action::Kill)?,
                KeyCode::Char('x') => model.mode = Mode::Signal(String::new()),
                _ => {}
            }
            None
        }
        Mode::Filter => {
            match key.code {
                KeyCode::Enter => model.mode = Mode::Normal,
                KeyCode::Esc => {
                    model.filter.clear();
                    model.mode = Mode::Normal;
                }
                KeyCode::Backspace => {
                    model.filter.pop();
                }
                KeyCode::Char(c) => model.filter.push(c),
                _ => {}
            }
            model.layout();
            None
        }
        Mode::Signal(mut text) => {
            match key.code {
                KeyCode::Esc => model.mode = Mode::Normal,
                KeyCode::Enter => {
                    let signal = if text.is_empty() {
                        "TERM".to_owned()
                    } else {
                        text
                    };
                    model.mode = match model.target() {
                        Some(t) => Mode::Confirm(Action::Signal(signal), t),
                        None => Mode::Normal,
                    };
                }
                KeyCode::Backspace => {
                    text.pop();
                    model.mode = Mode::Signal(text);
                }
                KeyCode::Char(c) if c.is_ascii_alphanumeric() => {
                    text.push(c.to_ascii_uppercase());
                    model.mode = Mode::Signal(text);
                }
                _ => {}
            }
            None
        }
        Mode::Confirm(action, target) => {
            model.mode = Mode::Normal;
            match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => Some((action, target)),
                _ => {
                    model.message = Some(format!("{} {target}: cancelled", action.verb()));
                    None
                }
            }
        }
    }
}

/// Sends an action and reports how it went.
async fn act(client: Client, action: Action, target: String, feed: mpsc::Sender<Feed>) {
    let verb = action.verb();
    let done: Result<Acted, tend_client::Error> = match &action {
        Action::Signal(signal) => client.signal(&target, signal).await,
        // Answered once the effect holds: the message says it is done.
        _ => client.act(&target, verb, ActOptions::default()).await,
    };
    let message = match (done, &action) {
        (Ok(acted), Action::Signal(signal)) => {
            format!("{signal} sent to {}", acted.services.join(", "))
        }
        (Ok(acted), _) => format!("{verb}: {}", acted.services.join(", ")),
        (Err(e), _) => format!("{verb} {target} failed: {e}"),
    };
    let _ = feed.send(Feed::Done(message)).await;
}

/// Feeds the watch stream's messages, reconnecting when it ends (the
/// daemon restarted or was upgraded): each new stream opens with a
/// snapshot.
async fn watch(client: Client, every: Duration, feed: mpsc::Sender<Feed>) {
    let query = WatchQuery {
        interval: Some(format!("{}ms", every.as_millis().clamp(200, 60_000))),
        ..WatchQuery::default()
    };
    loop {
        let why = match client.watch(&query).await {
            Ok(mut messages) => loop {
                match messages.next().await {
                    Some(Ok(message)) => {
                        if feed.try_send(Feed::Watch(message)).is_err() {
                            return;
                        }
                    }
                    Some(Err(e)) => break e.to_string(),
                    None => break "the stream ended".to_owned(),
                }
            },
            Err(e) => e.to_string(),
        };
        if feed.send(Feed::Disconnected(why)).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Feeds the restarts of the last few minutes, from the journal, for the
/// sparklines to start with.
async fn history(client: Client, feed: mpsc::Sender<Feed>) {
    let since = (model::BUCKET * model::BUCKETS as u32).as_secs();
    let query = EventsQuery {
        since: Some(format!("{since}s")),
        kinds: List(vec![RecordKind::Restarting]),
        ..EventsQuery::default()
    };
    let Ok(mut messages) = client.events(&query).await else {
        return;
    };
    let mut entries = Vec::new();
    while let Some(Ok(entry)) = messages.next().await {
        entries.push(entry);
    }
    let _ = feed.send(Feed::History(entries)).await;
}

/// Feeds an instance's last lines, then its new ones.
async fn follow_logs(client: Client, name: String, feed: mpsc::Sender<Feed>) {
    let query = LogsQuery {
        services: List(vec![name.clone()]),
        lines: 200,
        follow: true,
    };
    let Ok(mut chunks) = client.logs(&query).await else {
        return;
    };
    while let Some(Ok(chunk)) = chunks.next().await {
        let text = String::from_utf8_lossy(&chunk).into_owned();
        if feed.try_send(Feed::Log(name.clone(), text)).is_err() {
            return;
        }
    }
}

/// Reads keys on a thread of its own and feeds them.
fn keyboard(feed: mpsc::Sender<Feed>) {
    std::thread::spawn(move || loop {
        let fed = match event::read() {
            Ok(Event::Key(key)) => feed.blocking_send(Feed::Key(key)),
            Ok(Event::Resize(..)) => feed.blocking_send(Feed::Resized),
            Ok(_) => Ok(()),
            Err(_) => return,
        };
        if fed.is_err() {
            return;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ask_before_acting_and_prompts_take_text() {
        let mut model = Model::default();
        model.apply(
            Watch::Snapshot {
                daemon: tend_wire::DaemonInfo {
                    pid: 1,
                    version: "0".into(),
                    config: "c".into(),
                    state_dir: "s".into(),
                    uptime_s: 0,
                    upgrades: 0,
                    keeper: None,
                },
                services: Vec::new(),
            },
            std::time::Instant::now(),
        );
        let key = |c: char| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        // Nothing to act on: nothing asked.
        assert_eq!(press(&mut model, key('r')), None);
        assert_eq!(model.mode, Mode::Normal);
        press(&mut model, key('/'));
        press(&mut model, key('w'));
        assert_eq!(
            (model.mode.clone(), model.filter.as_str()),
            (Mode::Filter, "w")
        );
        press(
            &mut model,
            KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE),
        );
        assert_eq!(model.mode, Mode::Normal);
    }
}
