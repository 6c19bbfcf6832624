//! Shared bits of the benchmark's peer servers.

/// The article's welcome page, as every server renders it.
pub fn welcome(email: Option<&str>) -> String {
    match email {
        Some(email) => format!("<h1>Welcome {}!</h1>", escape(email)),
        None => "<h1>Welcome! Please enter your email <a href=\"/set_email\">here.</a></h1>".to_owned(),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&#34;").replace('\'', "&#39;")
}

/// The session's `email`, as the flacon servers' `get_email` reads it.
pub fn email_of(session: &flacon::Session) -> Option<String> {
    match session.get_value("email") {
        Some(flacon::Value::Str(email)) => Some(email),
        _ => None,
    }
}

/// `127.0.0.1:PORT` from the first argument.
pub fn addr() -> String {
    format!("127.0.0.1:{}", std::env::args().nth(1).unwrap_or_else(|| "5100".to_owned()))
}

/// The Redis URL from the second argument.
pub fn redis_url() -> String {
    std::env::args().nth(2).unwrap_or_else(|| "redis://127.0.0.1:6379/0".to_owned())
}

/// The form field of `POST /set_email`.
#[derive(serde::Deserialize)]
pub struct EmailForm {
    /// The address.
    pub email_address: String,
}

/// The runtime every tokio-based server of the benchmark runs on: single-threaded when the
/// process may use one CPU (as the harness pins it), else multi-threaded. The same rule for
/// all of them; `flacon serve` applies it too.
pub fn runtime() -> tokio::runtime::Runtime {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let mut builder = if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder.enable_all().build().unwrap()
}
