//! The floor of probe cost, for `bench/probe_bench.py`: a bare loop that
//! does what a supervisor's probes do and nothing else. Every `period`, for
//! each target, one check on its own task (tokio, two workers, as the
//! daemon): `tcp` connects, `http` connects, sends a `GET` and reads up to
//! the status line, `exec` spawns the command and waits for it; each check
//! within a 2 s timeout, as the probes it is compared with. Runs for
//! SECONDS, then prints the checks done and failed, and its own CPU time in
//! clock ticks (utime + stime from `/proc/self/stat`: the commands an exec
//! check spawns are not counted, as they are not in the daemon's figure).
//!
//! `probe_loop KIND SECONDS TARGET...` where a target is `host:port` (tcp,
//! http) or a program (exec).
//!
//! `cargo build --release -p tend-bench --example probe_loop`

#![allow(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn check(kind: &str, target: &str) -> bool {
    match kind {
        "tcp" => TcpStream::connect(target).await.is_ok(),
        "http" => {
            let Ok(mut stream) = TcpStream::connect(target).await else {
                return false;
            };
            let request = format!("GET / HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
            if stream.write_all(request.as_bytes()).await.is_err() {
                return false;
            }
            let mut response = Vec::with_capacity(1024);
            while !response.windows(2).any(|w| w == b"\r\n") {
                match stream.read_buf(&mut response).await {
                    Ok(0) | Err(_) => return false,
                    Ok(_) => {}
                }
            }
            response.starts_with(b"HTTP/1.1 2")
        }
        "exec" => tokio::process::Command::new(target)
            .status()
            .await
            .is_ok_and(|s| s.success()),
        other => panic!("unknown kind {other}"),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind: &'static str = Box::leak(args[0].clone().into_boxed_str());
    let seconds: u64 = args[1].parse().expect("SECONDS");
    let period = Duration::from_secs(1);
    let (done, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    for target in &args[2..] {
        let target = target.clone();
        let (done, failed) = (done.clone(), failed.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let checked = tokio::time::timeout(Duration::from_secs(2), check(kind, &target));
                if !checked.await.unwrap_or(false) {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat.rsplit_once(") ").expect("stat").1.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    println!(
        "{} {} {ticks}",
        done.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
}
