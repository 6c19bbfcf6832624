//! Included by a test as `#[path = "common/adapters.rs"] mod adapters;` beside `mod common;`.
//!
//! One set of routes served through either adapter, the tower layer under axum or the same
//! layer as actix-web middleware, so one table of test cases runs on both and the two cannot
//! drift. A case is written once against [`TestApp`]; [`on_both_adapters!`] makes it an
//! axum test and an actix-web test.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use flacon::http::SessionRejection;
use flacon::Session;
use http::{Request, Response, StatusCode};

/// Which framework serves the routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    Axum,
    Actix,
}

type Answer = (StatusCode, String);
type AnswerFuture = Pin<Box<dyn Future<Output = Answer> + Send>>;

/// What a handler returns, in either framework.
pub trait IntoAnswer {
    fn into_answer(self) -> Answer;
}

impl IntoAnswer for &'static str {
    fn into_answer(self) -> Answer {
        (StatusCode::OK, self.to_owned())
    }
}

impl IntoAnswer for String {
    fn into_answer(self) -> Answer {
        (StatusCode::OK, self)
    }
}

impl IntoAnswer for (StatusCode, &'static str) {
    fn into_answer(self) -> Answer {
        (self.0, self.1.to_owned())
    }
}

impl IntoAnswer for (StatusCode, String) {
    fn into_answer(self) -> Answer {
        self
    }
}

#[derive(Clone)]
enum Handler {
    /// Takes a `Session`: an extraction failure is the middleware's to answer.
    Plain(Arc<dyn Fn(Session) -> AnswerFuture + Send + Sync>),
    /// Takes `Result<Session, SessionRejection>` and answers a failure itself.
    Catching(Arc<dyn Fn(Result<Session, SessionRejection>) -> AnswerFuture + Send + Sync>),
    /// Takes two `Session`s, as a handler with two extractors that each want it.
    Twice(Arc<dyn Fn(Session, Session) -> AnswerFuture + Send + Sync>),
}

/// The routes of a test app (every method), written once for both frameworks.
#[derive(Clone, Default)]
pub struct Routes(Vec<(String, Handler)>);

impl Routes {
    pub fn new() -> Self {
        Routes::default()
    }

    /// A handler that extracts a `Session`.
    pub fn route<F, Fut, R>(mut self, path: &str, handler: F) -> Self
    where
        F: Fn(Session) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoAnswer,
    {
        let handler = Arc::new(handler);
        self.0.push((
            path.to_owned(),
            Handler::Plain(Arc::new(move |s| {
                let fut = handler(s);
                Box::pin(async move { fut.await.into_answer() })
            })),
        ));
        self
    }

    /// A handler that extracts `Result<Session, SessionRejection>`.
    pub fn catching<F, Fut, R>(mut self, path: &str, handler: F) -> Self
    where
        F: Fn(Result<Session, SessionRejection>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoAnswer,
    {
        let handler = Arc::new(handler);
        self.0.push((
            path.to_owned(),
            Handler::Catching(Arc::new(move |s| {
                let fut = handler(s);
                Box::pin(async move { fut.await.into_answer() })
            })),
        ));
        self
    }

    /// A handler that extracts the session twice.
    pub fn twice<F, Fut, R>(mut self, path: &str, handler: F) -> Self
    where
        F: Fn(Session, Session) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoAnswer,
    {
        let handler = Arc::new(handler);
        self.0.push((
            path.to_owned(),
            Handler::Twice(Arc::new(move |a, b| {
                let fut = handler(a, b);
                Box::pin(async move { fut.await.into_answer() })
            })),
        ));
        self
    }

    /// The routes as an axum router (add the layer under test).
    pub fn axum(self) -> axum::Router {
        use axum::response::IntoResponse;
        use axum::routing::any;
        let mut router = axum::Router::new();
        for (path, handler) in self.0 {
            router = match handler {
                Handler::Plain(f) => router.route(
                    &path,
                    any(move |s: Session| async move { f(s).await.into_response() }),
                ),
                Handler::Catching(f) => router.route(
                    &path,
                    any(move |s: Result<Session, SessionRejection>| async move {
                        f(s).await.into_response()
                    }),
                ),
                Handler::Twice(f) => router.route(
                    &path,
                    any(move |a: Session, b: Session| async move { f(a, b).await.into_response() }),
                ),
            };
        }
        router
    }

    /// The routes for an actix-web `App::configure`.
    pub fn actix(self) -> impl FnOnce(&mut actix_web::web::ServiceConfig) {
        use actix_web::web;
        move |config| {
            for (path, handler) in self.0 {
                match handler {
                    Handler::Plain(f) => {
                        config.route(
                            &path,
                            web::route().to(move |s: Session| {
                                let f = f.clone();
                                async move { actix_answer(f(s).await) }
                            }),
                        );
                    }
                    Handler::Catching(f) => {
                        config.route(
                            &path,
                            web::route().to(move |s: Result<Session, SessionRejection>| {
                                let f = f.clone();
                                async move { actix_answer(f(s).await) }
                            }),
                        );
                    }
                    Handler::Twice(f) => {
                        config.route(
                            &path,
                            web::route().to(move |a: Session, b: Session| {
                                let f = f.clone();
                                async move { actix_answer(f(a, b).await) }
                            }),
                        );
                    }
                }
            }
        }
    }
}

/// Routes whose `/` applies the case's actions to the session (add the layer under test).
pub fn action_routes(case: &flacon::Map) -> Routes {
    let actions = match case.get("actions") {
        Some(flacon::Value::List(actions)) => actions.clone(),
        _ => Vec::new(),
    };
    Routes::new().route("/", move |session: Session| {
        let actions = actions.clone();
        async move {
            crate::common::actions::apply(&session, &actions);
            "ok"
        }
    })
}

fn actix_answer((status, body): Answer) -> actix_web::HttpResponse {
    actix_web::HttpResponse::build(actix_web::http::StatusCode::from_u16(status.as_u16()).unwrap())
        .body(body)
}

type ActixCall = Rc<dyn Fn(Request<String>) -> Pin<Box<dyn Future<Output = Response<String>>>>>;

/// An app under test, behind either framework; requests and responses in `http` 1's types.
#[derive(Clone)]
pub enum TestApp {
    Axum(axum::Router),
    Actix(ActixCall),
}

/// `routes` behind `layer` (a `SessionLayer` or a `StoreLayer`) on `adapter`.
#[macro_export]
macro_rules! test_app {
    ($adapter:expr, $layer:expr, $routes:expr) => {{
        let layer = $layer;
        let routes: $crate::adapters::Routes = $routes;
        match $adapter {
            $crate::adapters::Adapter::Axum => {
                $crate::adapters::TestApp::Axum(routes.axum().layer(layer))
            }
            $crate::adapters::Adapter::Actix => $crate::adapters::TestApp::actix(
                actix_web::test::init_service(
                    actix_web::App::new().wrap(layer).configure(routes.actix()),
                )
                .await,
            ),
        }
    }};
}

/// Each `async fn name(adapter: Adapter)` becomes the module `name` with the tests `axum`
/// and `actix`, on each framework's own runtime.
#[macro_export]
macro_rules! on_both_adapters {
    ($($(#[doc = $doc:literal])* async fn $name:ident($adapter:ident: Adapter) $body:block)*) => {$(
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn shared_case($adapter: $crate::adapters::Adapter) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn axum() {
                shared_case($crate::adapters::Adapter::Axum).await;
            }

            #[actix_web::test]
            async fn actix() {
                shared_case($crate::adapters::Adapter::Actix).await;
            }
        }
    )*};
}

impl TestApp {
    pub fn actix<S, B>(service: S) -> TestApp
    where
        S: actix_web::dev::Service<
                actix_http::Request,
                Response = actix_web::dev::ServiceResponse<B>,
                Error = actix_web::Error,
            > + 'static,
        B: actix_web::body::MessageBody + 'static,
    {
        let service = Rc::new(service);
        TestApp::Actix(Rc::new(move |request: Request<String>| {
            let service = service.clone();
            Box::pin(async move {
                let (parts, body) = request.into_parts();
                let mut test = actix_web::test::TestRequest::default()
                    .method(
                        actix_web::http::Method::from_bytes(parts.method.as_str().as_bytes())
                            .unwrap(),
                    )
                    .uri(&parts.uri.to_string());
                for (name, value) in &parts.headers {
                    test = test.append_header((name.as_str(), value.as_bytes()));
                }
                let response =
                    actix_web::test::call_service(&*service, test.set_payload(body).to_request())
                        .await;
                let mut out = Response::builder().status(response.status().as_u16());
                for (name, value) in response.headers() {
                    out = out.header(name.as_str(), value.as_bytes());
                }
                let body = actix_web::test::read_body(response).await;
                out.body(String::from_utf8(body.to_vec()).unwrap()).unwrap()
            })
        }))
    }

    /// Sends `request` and returns the whole response.
    pub async fn send(&self, request: Request<String>) -> Response<String> {
        match self {
            TestApp::Axum(router) => {
                use http_body_util::BodyExt as _;
                use tower::ServiceExt as _;
                let response = router
                    .clone()
                    .oneshot(request.map(axum::body::Body::from))
                    .await
                    .unwrap();
                let (parts, body) = response.into_parts();
                let bytes = body.collect().await.unwrap().to_bytes();
                Response::from_parts(parts, String::from_utf8(bytes.to_vec()).unwrap())
            }
            TestApp::Actix(call) => call(request).await,
        }
    }

    /// `GET path`, with `session=cookie` if given: the status, the session cookie set, the body.
    pub async fn get(
        &self,
        path: &str,
        cookie: Option<&str>,
    ) -> (StatusCode, Option<String>, String) {
        let mut request = Request::get(path);
        if let Some(cookie) = cookie {
            request = request.header(http::header::COOKIE, format!("session={cookie}"));
        }
        let response = self.send(request.body(String::new()).unwrap()).await;
        let cookie = crate::common::set_session_cookie(response.headers());
        (response.status(), cookie, response.into_body())
    }
}
