//! The web dashboard: a page and its static assets, embedded in the binary and served at `/` and
//! `/assets/{name}` without a key.
//!
//! The page holds no data: it asks for an API key (kept in the tab's `sessionStorage`) and reads
//! everything from the authenticated JSON routes. Every response carries a strict
//! Content-Security-Policy (same origin only, no inline script or style), `nosniff`, and an ETag
//! so browsers revalidate instead of trusting a stale copy after an upgrade.

use crate::auth::Principal;
use crate::error::{ApiError, ErrorCode};
use axum::Extension;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The Content-Security-Policy of the page and its assets: nothing from another origin, no
/// inline script or style, no plugins, no framing, no `<base>` rewriting.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// File name under `/assets/`.
    pub name: &'static str,
    /// Its media type.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

/// The page at `/`.
pub const INDEX: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    body: include_bytes!("../assets/index.html"),
};

/// Media type of the JavaScript modules.
const JS: &str = "text/javascript; charset=utf-8";

/// Every file under `/assets/`.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/style.css"),
    },
    Asset { name: "app.js", content_type: JS, body: include_bytes!("../assets/app.js") },
    Asset { name: "api.js", content_type: JS, body: include_bytes!("../assets/api.js") },
    Asset { name: "ui.js", content_type: JS, body: include_bytes!("../assets/ui.js") },
    Asset { name: "pages.js", content_type: JS, body: include_bytes!("../assets/pages.js") },
    Asset { name: "lab.js", content_type: JS, body: include_bytes!("../assets/lab.js") },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../assets/favicon.svg"),
    },
];

/// The asset of this name.
#[must_use]
pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

/// `GET /`: the page.
pub async fn index(headers: HeaderMap) -> Response {
    serve(&INDEX, &headers)
}

/// `GET /assets/{name}`: an embedded file, or `404 not_found`.
pub async fn asset(name: Result<Path<String>, PathRejection>, headers: HeaderMap) -> Response {
    let Ok(Path(name)) = name else {
        return ApiError::new(ErrorCode::NotFound, "no such asset").into_response();
    };
    match find(&name) {
        Some(asset) => serve(asset, &headers),
        None => ApiError::new(ErrorCode::NotFound, format!("no asset {name:?}")).into_response(),
    }
}

/// A strong ETag of a body: its SHA-256, quoted.
#[must_use]
pub fn etag(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(&Sha256::digest(body)[..16]))
}

/// The response for an asset: `304` when the client's copy is current, the body otherwise.
fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let tag = etag(asset.body);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|candidate| candidate.trim() == tag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, value);
    }
    // Assets are not fingerprinted: revalidate every time (a 304 costs one round trip).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Who the key is: what `GET /v1/session` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionResponse {
    /// The key's role.
    pub role: &'static str,
    /// The accounts it acts for.
    pub accounts: Vec<u64>,
}

/// `GET /v1/session`: the role and accounts of the key sent (the page shows what they allow).
pub async fn session(Extension(principal): Extension<Principal>) -> Response {
    axum::Json(SessionResponse { role: principal.role.as_str(), accounts: principal.accounts })
        .into_response()
}
