//! `GET /v1/watch`: the live picture as server-sent events, for `tend top`
//! and the dashboard. A first snapshot, then only what changed, read off
//! the status board at a fixed interval (sooner, 100 ms after the board
//! changed) and the journal's entries as they are written.
//!
//! Cheap with a thousand services: one status pass per interval, and an
//! idle service sends nothing (its uptime is left to the client to count).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use tend_wire::{ServiceStatus, Watch};
use tokio::sync::{broadcast, mpsc};
use tokio::time::{Instant, MissedTickBehavior};

use crate::control::Control;

/// What a watcher asked for.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// How often the picture is sampled.
    pub every: Duration,
    /// Whether memory and CPU are measured.
    pub usage: bool,
    /// Whether journal entries are sent.
    pub entries: bool,
}

/// How soon after the board changed the picture is sampled again: a
/// burst of changes (a group restarting) is sent as one.
const AFTER_CHANGE: Duration = Duration::from_millis(100);

/// A comment line that keeps proxies and clients from timing out.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Streams the picture until the client goes or the daemon closes.
pub fn watch(control: Arc<Control>, options: WatchOptions) -> mpsc::Receiver<Bytes> {
    let (sender, receiver) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        // Subscribed first, so no entry falls before the snapshot.
        let mut live = options.entries.then(|| control.journal().subscribe());
        let closing = control.closing();
        let closed = async move {
            let mut closing = closing;
            let _ = closing.wait_for(|c| *c).await;
        };
        tokio::pin!(closed);
        let mut board = control.board().changes();
        let services = control.status(options.usage);
        let daemon = control.info();
        let mut known = known_of(&services);
        let mut order: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
        if sender
            .send(event(&Watch::Snapshot { daemon, services }))
            .await
            .is_err()
        {
            return;
        }
        let mut tick = tokio::time::interval(options.every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tick.tick().await;
        let mut soon: Option<Instant> = None;
        let mut last_sent = Instant::now();
        loop {
            let sample = tokio::select! {
                _ = tick.tick() => true,
                () = sleep_until(soon) => true,
                entry = next_entry(&mut live) => {
                    if let Some(entry) = entry {
                        last_sent = Instant::now();
                        if sender.send(event(&Watch::Entry { entry })).await.is_err() {
                            return;
                        }
                    }
                    false
                }
                // The picture changed: sampled soon, once for a burst.
                changed = board.changed(), if soon.is_none() => {
                    if !changed {
                        return;
                    }
                    soon = Some(Instant::now() + AFTER_CHANGE);
                    false
                }
                () = &mut closed => return,
                // The client went: stop sampling for it now, not at the
                // next send (an idle tree sends nothing for a while).
                () = sender.closed() => return,
            };
            if !sample {
                continue;
            }
            soon = None;
            let now = control.status(options.usage);
            if let Some(changed) = changes(&mut known, &mut order, now) {
                last_sent = Instant::now();
                if sender.send(event(&changed)).await.is_err() {
                    return;
                }
            } else if last_sent.elapsed() >= KEEPALIVE {
                last_sent = Instant::now();
                if sender
                    .send(Bytes::from_static(b": keepalive\n\n"))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    receiver
}

/// The next journal entry; never, when entries were not asked for. A
/// watcher that fell behind skips what it missed (the journal has it).
async fn next_entry(
    live: &mut Option<broadcast::Receiver<tend_journal::Entry>>,
) -> Option<tend_journal::Entry> {
    let Some(receiver) = live.as_mut() else {
        return std::future::pending().await;
    };
    loop {
        match receiver.recv().await {
            Ok(entry) => return Some(entry),
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => {
                *live = None;
                return std::future::pending().await;
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The picture `changes` compares with, by name: each status without its
/// uptime, which no comparison looks at.
fn known_of(services: &[ServiceStatus]) -> HashMap<String, ServiceStatus> {
    services
        .iter()
        .map(|s| {
            let status = ServiceStatus {
                uptime_s: 0.0,
                ..s.clone()
            };
            (s.name.clone(), status)
        })
        .collect()
}

/// What differs between the known picture and `now`, uptime aside; the
/// known picture becomes `now`. Called once a second over every instance:
/// an unchanged instance costs a comparison, no copy, and the order is
/// rebuilt only when it changed.
fn changes(
    known: &mut HashMap<String, ServiceStatus>,
    order: &mut Vec<String>,
    now: Vec<ServiceStatus>,
) -> Option<Watch> {
    let reordered =
        order.len() != now.len() || order.iter().zip(&now).any(|(name, s)| *name != s.name);
    let mut removed = Vec::new();
    if reordered {
        let present: HashSet<&str> = now.iter().map(|s| s.name.as_str()).collect();
        removed = order
            .iter()
            .filter(|name| !present.contains(name.as_str()))
            .cloned()
            .collect();
        for name in &removed {
            known.remove(name);
        }
        *order = now.iter().map(|s| s.name.clone()).collect();
    }
    let mut services = Vec::new();
    for mut status in now {
        // A running instance's uptime grows by itself (a restart shows in
        // its generation): compared without it, sent with it.
        let uptime = std::mem::take(&mut status.uptime_s);
        if known.get(&status.name) != Some(&status) {
            known.insert(status.name.clone(), status.clone());
            status.uptime_s = uptime;
            services.push(status);
        }
    }
    if services.is_empty() && !reordered {
        return None;
    }
    Some(Watch::Changed {
        services,
        removed,
        order: reordered.then(|| order.clone()),
    })
}

/// One server-sent event.
fn event(message: &Watch) -> Bytes {
    let mut bytes = b"data: ".to_vec();
    // A Watch has string keys only: serializing cannot fail.
    bytes.extend(serde_json::to_vec(message).unwrap_or_default());
    bytes.extend_from_slice(b"\n\n");
    Bytes::from(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tend_wire::State;

    fn status(name: &str, state: State, uptime_s: f64) -> ServiceStatus {
        ServiceStatus {
            state,
            uptime_s,
            ..ServiceStatus::pending(name, name, None)
        }
    }

    #[test]
    fn only_what_changed_is_sent_and_uptime_alone_is_no_change() {
        let first = [
            status("a", State::Running, 1.0),
            status("b", State::Running, 1.0),
        ];
        let mut known = known_of(&first);
        let mut order = vec!["a".to_owned(), "b".to_owned()];
        let later = vec![
            status("a", State::Running, 5.0),
            status("b", State::Running, 5.0),
        ];
        assert_eq!(changes(&mut known, &mut order, later), None);
        let crashed = vec![
            status("a", State::Running, 6.0),
            status("b", State::BackingOff, 0.0),
        ];
        let Some(Watch::Changed {
            services,
            removed,
            order: new_order,
        }) = changes(&mut known, &mut order, crashed)
        else {
            panic!("b changed")
        };
        assert_eq!(services.len(), 1);
        assert_eq!(services[0].name, "b");
        assert!(removed.is_empty() && new_order.is_none());
        let reloaded = vec![
            status("c", State::Running, 3.0),
            status("a", State::Running, 7.0),
        ];
        let Some(Watch::Changed {
            services,
            removed,
            order: new_order,
        }) = changes(&mut known, &mut order, reloaded)
        else {
            panic!("b gone, c new")
        };
        assert_eq!(
            services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["c"]
        );
        assert_eq!(services[0].uptime_s, 3.0, "sent with its uptime");
        assert_eq!(removed, ["b"]);
        assert_eq!(new_order.unwrap(), ["c", "a"]);
    }

    #[test]
    fn an_event_is_one_data_line() {
        let bytes = event(&Watch::Changed {
            services: vec![status("a", State::Running, 1.0)],
            removed: Vec::new(),
            order: None,
        });
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.starts_with("data: {\"kind\":\"changed\""), "{text}");
        assert!(text.ends_with("\n\n") && text.matches('\n').count() == 2);
    }
}
