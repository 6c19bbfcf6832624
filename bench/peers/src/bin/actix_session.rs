//! actix-web + actix-session, with its cookie store or its Redis store (`cookie` | `redis`).
use actix_session::storage::{CookieSessionStore, RedisSessionStore};
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::Key;
use actix_web::{web, App, HttpResponse, HttpServer};
use flacon_bench_peers::{addr, redis_url, welcome, EmailForm};

async fn get_email(session: Session) -> HttpResponse {
    let email: Option<String> = session.get("email").unwrap_or(None);
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(welcome(email.as_deref()))
}

async fn set_email(session: Session, form: web::Form<EmailForm>) -> HttpResponse {
    session.insert("email", &form.email_address).unwrap();
    HttpResponse::Found().insert_header(("Location", "/get_email")).finish()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let key = Key::from(&[7_u8; 64]);
    let mode = std::env::args().nth(3).unwrap_or_else(|| "cookie".to_owned());
    // One worker: the server gets one core, like every other server in the table.
    if mode == "redis" {
        let store = RedisSessionStore::new(redis_url()).await.unwrap();
        HttpServer::new(move || {
            App::new()
                .wrap(SessionMiddleware::builder(store.clone(), key.clone()).cookie_secure(false).build())
                .route("/get_email", web::get().to(get_email))
                .route("/set_email", web::post().to(set_email))
        })
        .workers(1)
        .bind(addr())?
        .run()
        .await
    } else {
        HttpServer::new(move || {
            App::new()
                .wrap(SessionMiddleware::builder(CookieSessionStore::default(), key.clone()).cookie_secure(false).build())
                .route("/get_email", web::get().to(get_email))
                .route("/set_email", web::post().to(set_email))
        })
        .workers(1)
        .bind(addr())?
        .run()
        .await
    }
}
