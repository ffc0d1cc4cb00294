//! The web dashboard, end to end: tend serves it from inside the binary on
//! the control socket and on TCP (where the page is public but everything
//! it shows needs the token), and a real headless chromium drives it
//! through every action (tests/browser/dashboard.mjs, with playwright-core).
//! Screens are kept under the target directory (`tmp/dashboard-shots/`).
//!
//! Fails, saying what to install, where chromium, node or playwright-core
//! is missing (`.ci/test` installs them), unless `TEND_SKIP_SUITES` lists
//! `browser`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{free_port, request, suite, Project, FOUR_SERVICES};

const TOKEN: &str = "a-token-of-the-dashboard-test";

/// The live views' four services, with a TCP listener on `port`.
fn config(port: u16) -> String {
    format!("[api]\nlisten = \"127.0.0.1:{port}\"\ntoken = \"{TOKEN}\"\n{FOUR_SERVICES}")
}

/// Chromium, node and the driver, or why the browser test cannot run.
fn browser() -> Result<(PathBuf, PathBuf), String> {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
        })
        .ok_or("no chromium (apt-get install chromium, or set CHROMIUM)")?;
    Command::new("node")
        .arg("--version")
        .output()
        .map_err(|_| "no node (apt-get install nodejs)".to_owned())?;
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !driver.join("node_modules/playwright-core").exists() {
        return Err(format!(
            "no playwright-core (npm ci --prefix {})",
            driver.display()
        ));
    }
    Ok((chromium, driver))
}

fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "-D", "-"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_owned(), body.to_owned())
}

#[test]
fn the_dashboard_is_served_from_the_binary_on_every_listener() {
    let port = free_port();
    let mut p = Project::new(&config(port));
    p.up();
    p.wait_state("alpha", "running");
    // The control socket.
    let page = request(&p.path(".tend/tend.sock"), "GET", "/", None);
    assert_eq!(page.status, 200);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert!(page.body.contains("/dashboard/app.js"), "{}", page.body);
    let script = request(&p.path(".tend/tend.sock"), "GET", "/dashboard/app.js", None);
    assert_eq!(script.status, 200);
    assert!(script.content_type.starts_with("text/javascript"));
    assert!(script.body.contains("/v1/watch"));
    let style = request(
        &p.path(".tend/tend.sock"),
        "GET",
        "/dashboard/style.css",
        None,
    );
    assert!(style.status == 200 && style.content_type.starts_with("text/css"));

    // TCP: the page without the token, its data only with it.
    let base = format!("http://127.0.0.1:{port}");
    let (head, body) = curl(&[&format!("{base}/")]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body.contains("<title>tend</title>"));
    let policy = head
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("content-security-policy:")
        })
        .unwrap_or_default();
    assert!(
        policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase().contains("x-frame-options: deny"),
        "{head}"
    );
    let (head, _) = curl(&[&format!("{base}/v1/watch")]);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let (head, _) = curl(&[&format!("{base}/v1/services/alpha/restart"), "-X", "POST"]);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert_eq!(p.down(), 0);
}

#[test]
fn every_dashboard_action_works_in_a_real_browser() {
    if !suite::runs("browser", || browser().err()) {
        return;
    }
    let (chromium, driver) = browser().unwrap();
    let port = free_port();
    let mut p = Project::new(&config(port));
    p.up();
    for name in ["alpha", "beta", "gamma", "delta.1", "delta.2"] {
        p.wait_state(name, "running");
    }
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-shots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg(driver.join("dashboard.mjs"))
        .current_dir(&driver)
        .env("TEND_URL", format!("http://127.0.0.1:{port}/"))
        .env("TEND_TOKEN", TOKEN)
        .env("CHROMIUM", &chromium)
        .env("SHOTS", &shots)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser run failed:\n{said}");
    assert!(said.contains("every step passed"), "{said}");
    let kept = std::fs::read_dir(&shots).unwrap().count();
    assert!(kept >= 12, "{kept} screens kept in {}", shots.display());

    // What the page did, seen from the API.
    assert_eq!(p.service("alpha")["restarts"], 1, "the kill was restarted");
    let events = p.ok(&["events", "--json"]);
    for command in [
        "\"restart\"",
        "\"stop\"",
        "\"start\"",
        "\"kill\"",
        "\"signal SIGHUP\"",
    ] {
        assert!(
            events.contains(&format!("\"command\":{command}")),
            "{command} journaled:\n{events}"
        );
    }
    assert_eq!(p.down(), 0);
}
