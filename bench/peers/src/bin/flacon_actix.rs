//! flacon on actix-web behind the very handlers of `actix_session.rs` (modes `cookie` |
//! `redis`), with the peers' cookie semantics (a browser-session cookie, a Redis record
//! written when the session changes): flacon against actix-session on its own framework.
use actix_web::{web, App, HttpResponse, HttpServer};
use flacon::http::ServerSideConfig;
use flacon::store::redis::RedisStore;
use flacon::{KeyRing, SecretKey, Session, SessionLayer, StoreLayer, Value};
use flacon_bench_peers::{addr, email_of, redis_url, welcome, EmailForm};

async fn get_email(session: Session) -> HttpResponse {
    let email = email_of(&session);
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(welcome(email.as_deref()))
}

async fn set_email(session: Session, form: web::Form<EmailForm>) -> HttpResponse {
    session.insert_value("email", Value::Str(form.into_inner().email_address));
    HttpResponse::Found().insert_header(("Location", "/get_email")).finish()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let key = std::env::var("ARTICLE_APP_SECRET_KEY").unwrap_or_else(|_| "flacon-bench-key-0123456789abcdef".to_owned());
    let keys = KeyRing::new(SecretKey::from_text(&key));
    let mode = std::env::args().nth(3).unwrap_or_else(|| "cookie".to_owned());
    // One worker: the server gets one core, like every other server in the table.
    macro_rules! serve {
        ($layer:expr) => {{
            let layer = $layer;
            HttpServer::new(move || {
                App::new()
                    .wrap(layer.clone())
                    .route("/get_email", web::get().to(get_email))
                    .route("/set_email", web::post().to(set_email))
            })
            .workers(1)
            .bind(addr())?
            .run()
            .await
        }};
    }
    if mode == "redis" {
        let like_peers = ServerSideConfig::builder().permanent_by_default(false).build();
        serve!(StoreLayer::new(RedisStore::open(&redis_url()).unwrap(), keys).with_server_config(like_peers))
    } else {
        serve!(SessionLayer::new(keys))
    }
}
