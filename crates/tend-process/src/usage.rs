//! Measuring what a process child uses, only when asked (and once a second
//! for children with limits, to warn at 80 %, and, where no cgroup enforces
//! them, to act at 100 %): a few small reads from its cgroup, or from
//! `/proc` without one. Nothing runs for an idle child without limits.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tend_engine::policy::{Crossing, Threshold};
use tend_engine::{Context, Resource, Usage};
use tend_spec::ResourceLimits;

use crate::cgroup::Cgroup;

const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Measures the child now.
pub(crate) fn sample(cgroup: Option<&Cgroup>, pid: i32) -> Usage {
    let proc_dir = format!("/proc/{pid}");
    let Some(cgroup) = cgroup else {
        return Usage::new(process_rss(&proc_dir), process_cpu(&proc_dir), Some(1));
    };
    let v2 = cgroup.path();
    let memory = read_u64(&v2.join("memory.current"))
        .or_else(|| {
            cgroup
                .v1_dir("memory")
                .and_then(|d| read_u64(&d.join("memory.usage_in_bytes")))
        })
        .or_else(|| process_rss(&proc_dir));
    let cpu_time = fs::read_to_string(v2.join("cpu.stat"))
        .ok()
        .and_then(|stat| {
            stat.lines()
                .find_map(|l| l.strip_prefix("usage_usec "))
                .and_then(|v| v.trim().parse().ok())
        })
        .map(Duration::from_micros)
        .or_else(|| process_cpu(&proc_dir));
    let pids = read_u64(&v2.join("pids.current"))
        .or_else(|| {
            cgroup
                .v1_dir("pids")
                .and_then(|d| read_u64(&d.join("pids.current")))
        })
        .or_else(|| Some(cgroup.pids().len() as u64));
    Usage::new(memory, cpu_time, pids)
}

fn read_u64(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn process_rss(proc_dir: &str) -> Option<u64> {
    let statm = fs::read_to_string(format!("{proc_dir}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * rustix::param::page_size() as u64)
}

fn process_cpu(proc_dir: &str) -> Option<Duration> {
    let stat = fs::read_to_string(format!("{proc_dir}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let per_second = rustix::param::clock_ticks_per_second().max(1);
    Some(Duration::from_millis(ticks * 1000 / per_second))
}

/// A limit reached where the kernel does not enforce it.
pub(crate) struct Exceeded {
    pub(crate) resource: Resource,
    pub(crate) used: u64,
    pub(crate) limit: u64,
}

/// Checks usage against `limits` once a second and warns (through the
/// child's events) when a resource crosses 80 % of its limit (CPU: its rate
/// over the last second, in millicores); it may warn again after falling
/// below 70 % (the engine's `policy::Threshold`, which task limits use too). With a cgroup the kernel enforces the
/// limits and this never returns; without one it returns when a limit is
/// reached, for the caller to stop the process.
pub(crate) async fn watch(
    limits: ResourceLimits,
    cgroup: Option<Arc<Cgroup>>,
    pid: i32,
    ctx: Context,
) -> Exceeded {
    // The CPU limit is a rate (cores): compared in millicores.
    let cpu_limit = limits.cpu.map(|cores| (cores * 1000.0) as u64);
    let mut checks = [
        (Resource::Memory, limits.memory.map(Threshold::new)),
        (Resource::Pids, limits.pids.map(Threshold::new)),
        (Resource::Cpu, cpu_limit.map(Threshold::new)),
    ];
    if checks.iter().all(|(_, threshold)| threshold.is_none()) {
        return std::future::pending().await;
    }
    let enforced_by_kernel = cgroup.is_some();
    let mut tick = tokio::time::interval(CHECK_EVERY);
    let mut last_cpu: Option<(std::time::Instant, Duration)> = None;
    loop {
        tick.tick().await;
        let usage = sample(cgroup.as_deref(), pid);
        let now = std::time::Instant::now();
        let millicores = match (last_cpu, usage.cpu_time) {
            (Some((then, before)), Some(cpu)) => {
                let wall = now.duration_since(then).as_secs_f64();
                (wall > 0.0)
                    .then(|| (cpu.saturating_sub(before).as_secs_f64() / wall * 1000.0) as u64)
            }
            _ => None,
        };
        last_cpu = usage.cpu_time.map(|cpu| (now, cpu));
        let used = [usage.memory, usage.pids, millicores];
        for ((resource, threshold), used) in checks.iter_mut().zip(used) {
            let (Some(threshold), Some(used)) = (threshold.as_mut(), used) else {
                continue;
            };
            let resource = *resource;
            match threshold.observe(used) {
                Crossing::None => {}
                Crossing::Warn { used, limit } => ctx.warn_resource(resource, used, limit),
                // CPU is throttled, never exceeded: only memory and pids
                // stop a process where no kernel enforces them.
                Crossing::Reach { used, limit, .. }
                    if !enforced_by_kernel && resource != Resource::Cpu =>
                {
                    ctx.exceeded_resource(resource, used, limit);
                    return Exceeded {
                        resource,
                        used,
                        limit,
                    };
                }
                Crossing::Reach {
                    used,
                    limit,
                    warn_first,
                } => {
                    if warn_first {
                        ctx.warn_resource(resource, used, limit);
                    }
                }
            }
        }
    }
}
