//! Newer Maxwell's `/config` (`http_config=true`): GET answers `{"filter":…}`, the row filter in
//! force on this node (the cluster-wide `filter` setting when the node's cluster has one, else
//! the node's own; `null` when none), as Maxwell's `MaxwellConfigServlet` answers it. POST,
//! PUT and PATCH with `{"filter":"…"}` change it, as Maxwell's do.
//!
//! Invariants:
//! - GET only reads. A change needs the admin token (`http_admin_token`, as every action
//!   here; Maxwell asks for none): without one configured 403, a missing or wrong one 401.
//! - In a cluster a change is the cluster-wide `filter` setting (`maxwell-cli config set
//!   filter`): every node filters alike and applies it without a restart. It is validated
//!   first: a filter that does not parse is 400 in Maxwell's error shape,
//!   `{"error":{"code":…,"message":"invalid filter: …"}}`, and changes nothing. A body that is
//!   not JSON is 400 (`error processing body: …`); `"filter"` absent or null changes nothing.
//!   The answer is the configuration in force after it (200), as Maxwell's.
//! - A node alone reads `filter` at start: a change is 409, saying so, and changes nothing.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// `GET /config`: `own` is the node's configured filter; `cluster` the cluster-wide one, if any.
pub async fn get(own: Option<String>, cluster: crate::cluster::Membership) -> Response {
    let mut filter = own;
    if let Some(zk) = cluster.current() {
        match tokio::time::timeout(std::time::Duration::from_secs(1), zk.cluster_settings()).await {
            Ok(Ok((settings, _))) => {
                if let Some(f) = settings.get("filter") {
                    filter = Some(f.clone());
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "/config: the cluster settings could not be read; the node's own filter is shown"),
            Err(_) => tracing::warn!("/config: the cluster settings took over 1 s to read; the node's own filter is shown"),
        }
    }
    answer(StatusCode::OK, &body(filter.as_deref()))
}

/// Maxwell's `SerializedConfig`: `{"filter":"…"}`, `{"filter":null}` for no filter.
pub fn body(filter: Option<&str>) -> String {
    json!({ "filter": filter.map(str::trim).filter(|f| !f.is_empty()) }).to_string()
}

/// POST, PUT, PATCH `/config` (see the module invariants).
pub async fn change(h: &super::actions::Handles, from: std::net::SocketAddr, headers: &axum::http::HeaderMap, body: &str) -> Response {
    let refuse = |status: StatusCode, message: String| {
        tracing::warn!(remote = %from, refused = %message, "/config change refused");
        error(status, &message)
    };
    if let Err((status, why)) = super::actions::authorize(h, headers) {
        return refuse(status, why.to_string());
    }
    let filter = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) if v.is_object() => v.get("filter").and_then(|f| f.as_str()).map(str::to_string),
        Ok(_) => return refuse(StatusCode::BAD_REQUEST, "error processing body: expected a JSON object such as {\"filter\":\"…\"}".into()),
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("error processing body: {e}")),
    };
    let Some(zk) = h.cluster.current() else {
        return refuse(StatusCode::CONFLICT, "this node runs alone and reads `filter` at start: set it in its configuration and restart it (in a cluster, /config and `maxwell-cli config set filter` change it for every node without a restart)".into());
    };
    if let Some(f) = &filter {
        if let Err(e) = crate::filter::Filter::parse(f) {
            return refuse(StatusCode::BAD_REQUEST, format!("invalid filter: {e}"));
        }
        if let Err(e) = crate::cli::shards::set_config(&zk, "filter", Some(f.trim()).filter(|f| !f.is_empty())).await {
            return refuse(StatusCode::SERVICE_UNAVAILABLE, format!("the cluster's filter could not be written: {e}"));
        }
        tracing::info!(remote = %from, filter = %f, "/config: the cluster's filter changed");
    }
    get(None, h.cluster.clone()).await
}

/// Maxwell's error shape.
fn error(status: StatusCode, message: &str) -> Response {
    answer(status, &json!({ "error": { "code": status.as_u16(), "message": message } }).to_string())
}

fn answer(status: StatusCode, body: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], format!("{body}\n")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_maxwells() {
        assert_eq!(body(Some("exclude: *.*, include: shop.*")), r#"{"filter":"exclude: *.*, include: shop.*"}"#);
        assert_eq!(body(None), r#"{"filter":null}"#);
        assert_eq!(body(Some(" ")), r#"{"filter":null}"#);
    }
}
