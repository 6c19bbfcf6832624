//! actix-web has its own request, response and header types (from `http` 0.2): the little
//! that crosses between them and flacon's (`http` 1), both ways.

use std::borrow::Cow;

use actix_web::body::BoxBody;
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use crate::http::common::SessionHeaders;
use crate::http::RequestHead;

/// The session cookie of `request`, read as the tower layers read it.
pub(super) fn session_cookie<'a>(request: &'a ServiceRequest, name: &str) -> Option<Cow<'a, str>> {
    crate::cookie::find_cookie_in(
        request
            .headers()
            .get_all(header::COOKIE)
            .map(HeaderValue::as_bytes),
        name,
    )
}

impl SessionHeaders for HeaderMap {
    fn vary_values(&self) -> impl Iterator<Item = &[u8]> {
        self.get_all(header::VARY).map(HeaderValue::as_bytes)
    }

    fn append_vary_cookie(&mut self) {
        self.append(header::VARY, HeaderValue::from_static("Cookie"));
    }

    fn append_set_cookie(&mut self, cookie: &str) -> bool {
        HeaderValue::from_str(cookie).is_ok_and(|value| {
            self.append(header::SET_COOKIE, value);
            true
        })
    }
}

/// What an error responder that looks at the request sees of `request`.
pub(super) fn request_head(request: &ServiceRequest) -> RequestHead {
    let method =
        http::Method::from_bytes(request.method().as_str().as_bytes()).unwrap_or(http::Method::GET);
    let uri = request
        .uri()
        .to_string()
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("/"));
    let mut headers = http::HeaderMap::with_capacity(request.headers().len());
    for (name, value) in request.headers() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    RequestHead::from_parts(method, uri, headers)
}

/// A status as actix-web's (every `http` 1 status is one of its own).
pub(super) fn to_actix_status(status: http::StatusCode) -> StatusCode {
    StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// An error responder's answer as actix-web's response.
pub(super) fn to_actix(response: http::Response<String>) -> HttpResponse<BoxBody> {
    let (parts, body) = response.into_parts();
    let mut out = HttpResponse::with_body(to_actix_status(parts.status), body);
    for (name, value) in &parts.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.headers_mut().append(name, value);
        }
    }
    out.map_into_boxed_body()
}
