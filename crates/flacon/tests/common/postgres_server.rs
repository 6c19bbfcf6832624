//! A private PostgreSQL server on a free port, made by `initdb` into a temporary directory
//! and started and stopped by the test itself (so an outage test can take it down). As
//! root, the server runs as the `postgres` user (PostgreSQL refuses root), through `setpriv`
//! so that the child is the postmaster itself.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PostgresServer {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

/// Debian's PostgreSQL binaries, the newest version installed.
fn bin(name: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (Debian's postgresql package; scripts/install-deps.sh)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("an initdb under /usr/lib/postgresql")
        .join(name)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program` as the user PostgreSQL runs as.
fn as_server_user(program: PathBuf) -> Command {
    if is_root() {
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PostgresServer {
    pub fn start() -> Self {
        let port = free_port();
        // Under /tmp: the server's user must be able to reach it.
        let dir = std::env::temp_dir().join(format!("flacon-pg-{port}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            let status = Command::new("chown")
                .args(["postgres:postgres", dir.to_str().unwrap()])
                .status()
                .unwrap();
            assert!(status.success(), "chown the data directory");
        }
        let out = as_server_user(bin("initdb"))
            .args([
                "-D",
                dir.to_str().unwrap(),
                "-U",
                "flacon",
                "--auth=trust",
                "-E",
                "UTF8",
            ])
            .args(["--no-sync", "--locale=C"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = PostgresServer {
            port,
            dir,
            child: None,
        };
        server.restart();
        server
    }

    /// `postgres://flacon@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://flacon@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts (again) on the same port and data: what was committed is back.
    pub fn restart(&mut self) {
        let child = as_server_user(bin("postgres"))
            .args(["-D", self.dir.to_str().unwrap()])
            .args(["-p", &self.port.to_string(), "-h", "127.0.0.1"])
            .args(["-k", self.dir.to_str().unwrap()])
            // fsync off: a killed server still has its commits (the OS has them), faster.
            .args(["-c", "fsync=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        // Listening is not accepting: wait until a query goes through.
        loop {
            let ready = TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && self.psql("SELECT 1").is_ok();
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "postgres did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server at once (`SIGQUIT`, PostgreSQL's immediate shutdown): clients see
    /// an outage, and a restart recovers what was committed.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-QUIT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Runs SQL through `psql` and returns its unaligned, tuples-only output.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "flacon",
            ])
            .args(["-d", "postgres", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
