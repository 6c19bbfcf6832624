//! A browser with one `session` cookie, against an axum app in process (tests of this crate
//! include it beside `common`).

#![allow(unreachable_pub, clippy::unwrap_used)]

use axum::body::Body;
use axum::Router;
use http::header::COOKIE;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

#[derive(Clone)]
pub struct Jar {
    pub app: Router,
    pub cookie: Option<String>,
}

impl Jar {
    pub fn new(app: &Router) -> Self {
        Jar {
            app: app.clone(),
            cookie: None,
        }
    }

    /// `GET path` with the cookie; keeps what the response sets (a deletion empties it).
    pub async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let mut request = Request::get(path);
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, format!("session={cookie}"));
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        if let Some(cookie) = crate::common::set_session_cookie(response.headers()) {
            self.cookie = Some(cookie).filter(|c| !c.is_empty());
        }
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    /// The body of `GET path`, which must answer 200.
    pub async fn body(&mut self, path: &str) -> String {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }
}
