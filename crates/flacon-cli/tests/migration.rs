//! The migration story end to end: a real nginx in front of a real Flask app (Flask-Session
//! on Redis, Flask-Login, Flask-WTF) and `flacon serve` on the same Redis, one origin split
//! by path (docs/examples/nginx-migration.conf). Headless Chromium signs in on a Flask page,
//! sees the login and Flask's flash on flacon's pages, posts a form flacon served (its
//! Flask-WTF token made by flacon) to Flask, logs out on flacon and is logged out on Flask.
//! The screenshot lands in target/e2e/migration.png (printed by `.ci/run`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::redis_server::RedisServer;
use support::{flacon_serve, python, python_app};

const KEY: &str = "migration-e2e-key-8a7b6c5d4e3f";

/// nginx with the documented configuration, killed when dropped.
struct Nginx {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn nginx(flask_port: u16, flacon_port: u16) -> Nginx {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("flacon-nginx-{port}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let template = std::fs::read_to_string(
        python::workspace_root().join("docs/examples/nginx-migration.conf"),
    )
    .unwrap();
    let conf = template
        .replace("{{DIR}}", dir.to_str().unwrap())
        .replace("{{PORT}}", &port.to_string())
        .replace("{{FLASK_PORT}}", &flask_port.to_string())
        .replace("{{FLACON_PORT}}", &flacon_port.to_string());
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new("nginx")
        .args([
            "-p",
            dir.to_str().unwrap(),
            "-c",
            conf_path.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nginx starts (Debian's nginx; scripts/install-deps.sh)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    Nginx { child, port, dir }
}

#[test]
fn a_flask_app_and_flacon_share_one_origin_behind_nginx() {
    let redis = RedisServer::start();
    let flask = python_app("migration_app.py", &[KEY, &redis.url()], &[]);
    let flacon = flacon_serve(&["--secret-key", KEY, "--store", &redis.url()]);
    let proxy = nginx(flask.port, flacon.port);
    let base = format!("http://127.0.0.1:{}", proxy.port);
    let (seen, shot) = support::browser_run("migration_e2e.py", &base, "migration.png");
    assert_eq!(seen["flask_login_page"], "Sign in on the Flask app");
    assert_eq!(
        seen["flash_on_flacon"],
        serde_json::json!(["Signed in on Flask as ada"])
    );
    assert_eq!(seen["flacon_whoami"], "Signed in as ada");
    assert_eq!(
        seen["after_flask_took_the_form"],
        serde_json::json!(["Flask took flacon's form (4 words)"])
    );
    assert!(
        seen["forged_token"]
            .as_str()
            .unwrap()
            .contains("The CSRF token is invalid."),
        "{}",
        seen["forged_token"]
    );
    assert_eq!(seen["flacon_after_logout"], "Not signed in");
    assert_eq!(seen["flask_after_logout"], "Not signed in");
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 1000,
        "a screenshot"
    );
}
