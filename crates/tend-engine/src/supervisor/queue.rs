//! The start queue: the children due to start, and the *waves* that start
//! several together.
//!
//! Every start goes through one machine (`start.rs`): a child due to start
//! is queued, and starts once nothing holds it back. Two things can:
//!
//! - its dependencies (`depends_on`), checked by the machine;
//! - its wave. A wave is the group a start concerns: a supervisor's initial
//!   children, or the siblings a one-for-all or rest-for-one restart stopped.
//!   Under OTP's order (a supervisor without `concurrent_start`) a wave
//!   starts one member at a time, in start order, each once the one before
//!   it is up: OTP's sequential start, expressed as the simplest dependency
//!   graph (each child waits for its predecessor). Any wave is *held* while
//!   the child whose restart it is waits out a backoff or crash-loop delay:
//!   the siblings start with it, when the delay ends.
//!
//! A child alone (a one-for-one restart, `start_child`, `restart_child`)
//! has no wave. The queue only records; it never looks at the children's
//! states, so what it says about a member is a matter of position alone.
//!
//! Waves are few at any time (one per start or group restart under way), so
//! they are kept in a vector and found by a scan; a wave's members are in
//! start order, found by a binary search, and leave from the front: a start
//! of `n` children costs `O(n)`, with no hashing per child.

use std::collections::{BTreeSet, VecDeque};

use crate::tree::ChildKey;

/// A wave: members queued in start order.
struct Wave {
    /// Its members still queued, in start order.
    members: VecDeque<ChildKey>,
    /// One member at a time, in order (OTP); otherwise all at once.
    ordered: bool,
    /// The member of an ordered wave whose start is in progress.
    in_flight: Option<ChildKey>,
    /// The child whose restart delay holds the whole wave, if any.
    held_by: Option<ChildKey>,
}

impl Wave {
    /// Where `key` is among the members, if it is one.
    #[inline]
    fn position(&self, key: ChildKey) -> Option<usize> {
        if self.members.front() == Some(&key) {
            return Some(0);
        }
        self.members
            .binary_search_by_key(&key.serial, |m| m.serial)
            .ok()
            .filter(|&at| self.members[at] == key)
    }

    fn is_done(&self) -> bool {
        self.members.is_empty() && self.in_flight.is_none()
    }

    /// Those of its members that may go now that nothing holds it: its
    /// head (ordered, once no start of it is in progress) or all of them.
    fn free(&self) -> impl Iterator<Item = ChildKey> + '_ {
        let take = match (self.ordered, self.in_flight) {
            (false, _) => self.members.len(),
            (true, None) => 1,
            (true, Some(_)) => 0,
        };
        self.members.iter().copied().take(take)
    }
}

/// What a child's wave says about its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// It may start (as far as the wave is concerned).
    Go,
    /// It waits for this sibling: the one ahead of it, or the one whose
    /// restart delay holds the wave.
    After(ChildKey),
}

/// The children due to start.
#[derive(Default)]
pub(crate) struct StartQueue {
    /// Queued children of no wave, by serial (start order).
    alone: BTreeSet<u64>,
    waves: Vec<Wave>,
    /// Queued children whose turn may have come since the last look.
    woken: Vec<ChildKey>,
}

impl StartQueue {
    /// Whether no child is due to start.
    pub(crate) fn is_empty(&self) -> bool {
        self.alone.is_empty() && self.waves.iter().all(|w| w.members.is_empty())
    }

    /// Whether `key` is due to start.
    pub(crate) fn contains(&self, key: ChildKey) -> bool {
        self.alone.contains(&key.serial) || self.wave_of(key).is_some()
    }

    /// The wave `key` is queued in.
    fn wave_of(&self, key: ChildKey) -> Option<usize> {
        self.waves.iter().position(|w| w.position(key).is_some())
    }

    /// Queues one child on its own.
    pub(crate) fn push(&mut self, key: ChildKey) {
        self.alone.insert(key.serial);
        self.woken.push(key);
    }

    /// Queues `members` (in start order) as one wave: `ordered` starts them
    /// one at a time; `held_by` holds them all until that member's delay
    /// ends ([`release`](Self::release)). A wave of one that nothing holds
    /// is just a queued child.
    pub(crate) fn push_wave(
        &mut self,
        members: Vec<ChildKey>,
        ordered: bool,
        held_by: Option<ChildKey>,
    ) {
        if members.len() <= 1 && held_by.is_none() {
            members.into_iter().for_each(|key| self.push(key));
            return;
        }
        let wave = Wave {
            members: members.into(),
            ordered,
            in_flight: None,
            held_by,
        };
        if held_by.is_none() {
            self.woken.extend(wave.free());
        }
        self.waves.push(wave);
    }

    /// What `key`'s wave says about its start; `None` if it is not due.
    pub(crate) fn turn(&self, key: ChildKey) -> Option<Turn> {
        if self.alone.contains(&key.serial) {
            return Some(Turn::Go);
        }
        let (wave, at) = self
            .waves
            .iter()
            .find_map(|w| w.position(key).map(|at| (w, at)))?;
        Some(match (wave.held_by, wave.ordered, wave.in_flight) {
            (Some(holder), _, _) => Turn::After(holder),
            (None, false, _) => Turn::Go,
            (None, true, Some(starting)) => Turn::After(starting),
            (None, true, None) => match at.checked_sub(1) {
                Some(ahead) => Turn::After(wave.members[ahead]),
                None => Turn::Go,
            },
        })
    }

    /// `key` begins to start: it leaves the queue, and its ordered wave
    /// waits for its start to conclude.
    pub(crate) fn begin(&mut self, key: ChildKey) {
        if self.alone.remove(&key.serial) {
            return;
        }
        let found = self
            .waves
            .iter()
            .enumerate()
            .find_map(|(at, w)| w.position(key).map(|position| (at, position)));
        let Some((at, position)) = found else {
            return;
        };
        let wave = &mut self.waves[at];
        wave.members.remove(position);
        if wave.ordered {
            wave.in_flight = Some(key);
        } else if wave.is_done() {
            self.waves.swap_remove(at);
        }
    }

    /// `key`'s start concluded (it is up, or it failed or was stopped): the
    /// next member of its ordered wave may go.
    pub(crate) fn concluded(&mut self, key: ChildKey) {
        let Some(at) = self.waves.iter().position(|w| w.in_flight == Some(key)) else {
            return;
        };
        let wave = &mut self.waves[at];
        wave.in_flight = None;
        if wave.is_done() {
            self.waves.swap_remove(at);
        } else if wave.held_by.is_none() {
            self.woken.extend(wave.free());
        }
    }

    /// The delay of `holder`'s restart ended: the wave it held may go.
    pub(crate) fn release(&mut self, holder: ChildKey) {
        if let Some(wave) = self.waves.iter_mut().find(|w| w.held_by == Some(holder)) {
            wave.held_by = None;
            self.woken.extend(wave.free());
        }
    }

    /// Calls off `key`'s start, if it is due, and the starts that waited
    /// for it: the members of its wave after it (an ordered wave), or its
    /// whole wave if its delay held it. Also when `key`'s own start is in
    /// progress. Returns the others called off, in start order.
    pub(crate) fn call_off(&mut self, key: ChildKey) -> Vec<ChildKey> {
        if self.alone.remove(&key.serial) || self.waves.is_empty() {
            return Vec::new();
        }
        let found = self.waves.iter().position(|w| {
            w.in_flight == Some(key) || w.held_by == Some(key) || w.position(key).is_some()
        });
        let Some(at) = found else {
            return Vec::new();
        };
        let wave = &mut self.waves[at];
        if wave.in_flight == Some(key) {
            wave.in_flight = None;
        }
        if let Some(position) = wave.position(key) {
            wave.members.remove(position);
        }
        let cut: Vec<ChildKey> = if wave.held_by == Some(key) {
            wave.held_by = None;
            wave.members.drain(..).collect()
        } else if wave.ordered {
            let keep = wave.members.partition_point(|m| m.serial < key.serial);
            wave.members.drain(keep..).collect()
        } else {
            Vec::new()
        };
        if wave.is_done() {
            self.waves.swap_remove(at);
        } else if wave.ordered && wave.held_by.is_none() {
            self.woken.extend(wave.free());
        }
        cut
    }

    /// Takes a queued `key` out of its wave without calling off those after
    /// it (it will not start, and they go on without it).
    pub(crate) fn skip(&mut self, key: ChildKey) {
        if self.contains(key) {
            self.begin(key);
            self.concluded(key);
        }
    }

    /// Moves the queued children whose turn may have come since the last
    /// call into `into`.
    pub(crate) fn take_woken(&mut self, into: &mut Vec<ChildKey>) {
        into.append(&mut self.woken);
    }

    /// Whether some queued child may have its turn now.
    pub(crate) fn has_woken(&self) -> bool {
        !self.woken.is_empty()
    }

    /// Forgets everything (the supervisor stops).
    pub(crate) fn clear(&mut self) {
        *self = StartQueue::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(serial: u64) -> ChildKey {
        ChildKey {
            slot: serial as u32,
            serial,
        }
    }

    fn woken(queue: &mut StartQueue) -> Vec<ChildKey> {
        let mut keys = Vec::new();
        queue.take_woken(&mut keys);
        keys
    }

    #[test]
    fn an_ordered_wave_starts_one_member_at_a_time_in_order() {
        let mut queue = StartQueue::default();
        queue.push_wave(vec![key(1), key(2), key(3)], true, None);
        assert_eq!(woken(&mut queue), [key(1)]);
        assert_eq!(queue.turn(key(1)), Some(Turn::Go));
        assert_eq!(queue.turn(key(2)), Some(Turn::After(key(1))));
        queue.begin(key(1));
        assert_eq!(
            queue.turn(key(2)),
            Some(Turn::After(key(1))),
            "until 1 is up"
        );
        queue.concluded(key(1));
        assert_eq!(woken(&mut queue), [key(2)]);
        assert_eq!(queue.turn(key(2)), Some(Turn::Go));
        assert_eq!(queue.turn(key(3)), Some(Turn::After(key(2))));
        queue.begin(key(2));
        queue.concluded(key(2));
        queue.begin(key(3));
        queue.concluded(key(3));
        assert!(queue.is_empty() && queue.waves.is_empty());
        assert_eq!(queue.turn(key(3)), None);
    }

    #[test]
    fn calling_off_a_member_calls_off_those_after_it() {
        let mut queue = StartQueue::default();
        queue.push_wave(vec![key(1), key(2), key(3)], true, None);
        queue.begin(key(1));
        assert_eq!(queue.call_off(key(1)), [key(2), key(3)]);
        assert!(queue.is_empty() && queue.waves.is_empty());
        queue.push_wave(vec![key(4), key(5), key(6)], true, None);
        assert_eq!(queue.call_off(key(5)), [key(6)]);
        assert!(queue.contains(key(4)) && !queue.contains(key(6)));
        // Skipping a member lets the next go instead.
        queue.push_wave(vec![key(7), key(8), key(9)], true, None);
        woken(&mut queue);
        queue.skip(key(7));
        assert_eq!(woken(&mut queue), [key(8)]);
        assert!(queue.contains(key(9)));
    }

    #[test]
    fn a_held_wave_waits_for_its_holder_and_goes_with_it() {
        let mut queue = StartQueue::default();
        queue.push_wave(vec![key(1), key(2), key(3)], true, Some(key(2)));
        assert!(woken(&mut queue).is_empty());
        assert_eq!(queue.turn(key(1)), Some(Turn::After(key(2))));
        queue.release(key(2));
        assert_eq!(woken(&mut queue), [key(1)]);
        assert_eq!(queue.turn(key(1)), Some(Turn::Go));
        // Unordered: all go together once released; calling off the holder
        // calls off the wave.
        queue.push_wave(vec![key(7), key(8)], false, Some(key(8)));
        assert_eq!(queue.call_off(key(8)), [key(7)]);
        assert!(!queue.contains(key(7)));
    }

    #[test]
    fn children_alone_go_at_once() {
        let mut queue = StartQueue::default();
        queue.push(key(3));
        queue.push_wave(vec![key(4)], true, None);
        assert_eq!(woken(&mut queue), [key(3), key(4)]);
        assert_eq!(queue.turn(key(4)), Some(Turn::Go));
        queue.begin(key(3));
        assert!(queue.call_off(key(4)).is_empty());
        assert!(queue.is_empty());
    }
}
