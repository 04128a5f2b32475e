//! Newer Maxwell's `/config` (`http_config=true`): GET answers `{"filter":…}`, the row filter in
//! force on this node (the cluster-wide `filter` setting when the node's cluster has one, else
//! the node's own; `null` when none), as Maxwell's `MaxwellConfigServlet` answers it.
//!
//! Invariants:
//! - GET only reads. POST, PUT and PATCH (Maxwell's way to change the filter at runtime) are
//!   answered 405 in Maxwell's error shape, `{"error":{"code":…,"message":…}}`, and change
//!   nothing: every node of a cluster must filter alike, so the filter changes for the whole
//!   cluster through `maxwell-cli config set filter …` (nodes pick it up without a restart).

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

/// POST, PUT, PATCH `/config`: refused (see the module invariants).
pub async fn change() -> Response {
    let message = "the filter is not changed over /config in maxwell-ha: every node of a cluster must filter alike; run `maxwell-cli config set filter '…'` (nodes apply it without a restart), or set `filter` and restart a node running alone";
    answer(StatusCode::METHOD_NOT_ALLOWED, &json!({ "error": { "code": 405, "message": message } }).to_string())
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
