//! The floor: axum with the email in a plain cookie, no session machinery at all.
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use flacon_bench_peers::{addr, welcome, EmailForm};

async fn get_email(jar: CookieJar) -> Html<String> {
    Html(welcome(jar.get("email").map(|c| c.value())))
}

async fn set_email(jar: CookieJar, Form(form): Form<EmailForm>) -> impl IntoResponse {
    (jar.add(Cookie::new("email", form.email_address)), Redirect::to("/get_email"))
}

fn main() {
    flacon_bench_peers::runtime().block_on(serve());
}

async fn serve() {
    let app = Router::new().route("/get_email", get(get_email)).route("/set_email", axum::routing::post(set_email));
    let listener = tokio::net::TcpListener::bind(addr()).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
