//! The node's HTTP endpoints (`http_port`, `http_bind_address`, `http_path_prefix`):
//! `/metrics` (Prometheus text), `/healthz`, `/readyz`, `/api/status` (this node),
//! `/api/cluster` (the whole cluster, read from ZooKeeper and the members' `/api/status`)
//! and `/`, a status page that refreshes itself (served from the binary, no external assets).
//! Maxwell's `/prometheus` (= `/metrics`), `/healthcheck` (= `/readyz`) and `/ping` too.
//!
//! Invariants:
//! - GET handlers only read. The actions (`POST /api/failover`) need `http_admin_token` to be
//!   set and sent (`Authorization: Bearer …`): without a token configured they are refused
//!   with 403, with a wrong or missing one with 401, and nothing changes; every accepted or
//!   refused action is logged with the caller's address.
//! - `/healthz` is 200 while the process runs; `/readyz` is 200 only for a leader (or single
//!   node) whose binlog stream is running, or a standby whose ZooKeeper session is connected;
//!   otherwise 503 with the reason in the body.
//! - Reading other members is bounded by a 1 s timeout each, so one dead member cannot stall
//!   the page.

pub mod client;

use crate::metrics::{self, Role};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::extract::ConnectInfo;
use axum::Router;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Where the HTTP endpoints listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub bind: String,
    pub port: u16,
    /// Always starts and ends with `/`.
    pub prefix: String,
    /// `http_admin_token`: allows the actions (POST); none: actions are refused.
    pub admin_token: Option<String>,
}

impl HttpConfig {
    /// The address other members use to reach this node (`host:port`).
    pub fn advertised(&self) -> String {
        let host = if self.bind == "0.0.0.0" || self.bind == "::" { crate::config::hostname() } else { self.bind.clone() };
        format!("{host}:{}", self.port)
    }
}

/// Binds the listener now, so a taken port is reported at start with the key to change.
pub async fn bind(cfg: &HttpConfig) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind((cfg.bind.as_str(), cfg.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{} (http_bind_address, http_port): {e}; choose another http_port", cfg.bind, cfg.port))
}

/// Serves until `cancel`.
pub async fn serve(listener: tokio::net::TcpListener, cfg: HttpConfig, cancel: CancellationToken) {
    let prefix = cfg.prefix.clone();
    let token = cfg.admin_token.clone();
    let actions = token.is_some();
    let routes = Router::new()
        .route("/", get(|| async { Html(include_str!("page.html")) }))
        .route("/metrics", get(prometheus))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        // Maxwell's paths, for monitoring set up against Maxwell.
        .route("/prometheus", get(prometheus))
        .route("/healthcheck", get(readyz))
        .route("/ping", get(|| async { "pong" }))
        .route("/api/status", get(|| async { json(&metrics::snapshot()) }))
        .route("/api/cluster", get(move || cluster(prefix.clone(), actions)))
        .route(
            "/api/failover",
            axum::routing::post(move |ConnectInfo(from): ConnectInfo<std::net::SocketAddr>, headers: axum::http::HeaderMap, body: String| {
                let token = token.clone();
                async move { failover(token.as_deref(), from, &headers, &body).await }
            }),
        );
    let app = if cfg.prefix == "/" { routes } else { Router::new().nest(cfg.prefix.trim_end_matches('/'), routes) };
    tracing::info!(address = %format!("{}:{}", cfg.bind, cfg.port), prefix = %cfg.prefix, "serving HTTP (metrics, health, status)");
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned()).await {
        tracing::error!(error = %e, "HTTP server failed");
    }
}

async fn prometheus() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics::get().render()).into_response()
}

fn json<T: serde::Serialize>(v: &T) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], serde_json::to_string(v).expect("serializable")).into_response()
}

/// Ready or not, and why.
pub fn readiness(st: &metrics::Status) -> Result<&'static str, String> {
    match st.role {
        Role::Leader | Role::Single if st.streaming => Ok("streaming"),
        Role::Leader | Role::Single => Err("leading but the binlog stream is not running".into()),
        Role::Standby if st.zookeeper.as_deref() == Some("connected") => Ok("standing by"),
        Role::Standby => Err(format!("standing by without a ZooKeeper connection ({})", st.zookeeper.as_deref().unwrap_or("none"))),
        Role::Starting => Err("starting".into()),
        Role::Stopped => Err(format!("stopped: {}", st.last_error.as_deref().or(st.role_reason.as_deref()).unwrap_or("shut down"))),
    }
}

async fn readyz() -> Response {
    let st = metrics::snapshot();
    match readiness(&st) {
        Ok(why) => (StatusCode::OK, format!("ready: {why}\n")).into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}\n")).into_response(),
    }
}

/// The cluster as ZooKeeper and the members see it.
/// `POST /api/failover` `{"to": "node"}` (`to` optional): asks the leader to hand over, as
/// `maxwell-cli failover` does; 202 once the request is in ZooKeeper.
async fn failover(token: Option<&str>, from: std::net::SocketAddr, headers: &axum::http::HeaderMap, body: &str) -> Response {
    let refuse = |code: StatusCode, why: &str| {
        tracing::warn!(remote = %from, action = "failover", refused = why, "admin action refused");
        (code, json_body(&serde_json::json!({"error": why}))).into_response()
    };
    let Some(token) = token else { return refuse(StatusCode::FORBIDDEN, "actions are disabled on this node: set http_admin_token") };
    let sent = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if sent != Some(token) {
        return refuse(StatusCode::UNAUTHORIZED, "missing or wrong admin token (Authorization: Bearer <http_admin_token>)");
    }
    let to = match body.trim() {
        "" => None,
        b => match serde_json::from_str::<serde_json::Value>(b) {
            Ok(v) => v["to"].as_str().map(str::to_string),
            Err(e) => return refuse(StatusCode::BAD_REQUEST, &format!("the body is not JSON: {e}")),
        },
    };
    let Some(zk) = crate::cluster::current_zk() else { return refuse(StatusCode::CONFLICT, "this node is not in a cluster") };
    match crate::cli::request_failover(&zk, None, to.as_deref()).await {
        Ok((leader, req)) => {
            tracing::info!(remote = %from, action = "failover", leader = %leader.node_id, to = ?to, "admin action: hand-over requested");
            (StatusCode::ACCEPTED, json_body(&serde_json::json!({"requested": req}))).into_response()
        }
        // Refused as asked (no leader, not a member, already the leader).
        Err(crate::cluster::zk::ZkError::Definite(m)) => refuse(StatusCode::CONFLICT, &m),
        Err(e) => refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

fn json_body<T: serde::Serialize>(v: &T) -> ([(header::HeaderName, &'static str); 1], String) {
    ([(header::CONTENT_TYPE, "application/json")], serde_json::to_string(v).expect("serializable"))
}

async fn cluster(prefix: String, actions: bool) -> Response {
    let me = metrics::snapshot();
    let Some(zk) = crate::cluster::current_zk() else {
        let member = serde_json::json!({"node_id": me.node_id.clone().unwrap_or_else(|| "this node".into()), "status": me});
        return json(&serde_json::json!({"root": null, "leader": null, "epoch": null, "position": null, "members": [member]}));
    };
    let (leader, members, position, epoch, history) = tokio::join!(zk.leader(), zk.members(), zk.load_position(), zk.epoch(), zk.history());
    let members = members.unwrap_or_default();
    let statuses = futures_util::future::join_all(members.iter().map(|m| {
        let path = format!("{prefix}api/status");
        let own = me.node_id.as_deref() == Some(m.node_id.as_str());
        let http = m.http.clone();
        let me = me.clone();
        async move {
            match (own, http) {
                (true, _) => Ok(serde_json::to_value(me).expect("serializable")),
                (false, Some(h)) => client::get_json(&h, &path, Duration::from_secs(1)).await,
                (false, None) => Err("no HTTP address registered".to_string()),
            }
        }
    }))
    .await;
    let members: Vec<serde_json::Value> = members
        .iter()
        .zip(statuses)
        .map(|(m, s)| {
            let mut v = serde_json::to_value(m).expect("serializable");
            match s {
                Ok(s) => v["status"] = s,
                Err(e) => v["error"] = e.into(),
            }
            v
        })
        .collect();
    json(&serde_json::json!({
        "root": zk.paths.root,
        "leader": leader.ok().flatten(),
        "epoch": epoch.ok().flatten().map(|(e, _)| e.epoch),
        "position": position.ok().flatten().map(|(p, _)| p),
        "members": members,
        "history": history.map(|h| h.terms).unwrap_or_default(),
        "actions": actions,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Status;

    fn st(role: Role, streaming: bool, zk: Option<&str>) -> Status {
        Status { role, streaming, zookeeper: zk.map(str::to_string), ..Default::default() }
    }

    #[test]
    fn readiness_per_role() {
        assert_eq!(readiness(&st(Role::Leader, true, Some("connected"))), Ok("streaming"));
        assert_eq!(readiness(&st(Role::Single, true, None)), Ok("streaming"));
        assert!(readiness(&st(Role::Leader, false, Some("connected"))).unwrap_err().contains("not running"));
        assert_eq!(readiness(&st(Role::Standby, false, Some("connected"))), Ok("standing by"));
        assert!(readiness(&st(Role::Standby, false, Some("disconnected"))).unwrap_err().contains("disconnected"));
        assert_eq!(readiness(&st(Role::Starting, false, None)), Err("starting".into()));
        let mut s = st(Role::Stopped, false, None);
        s.last_error = Some("binlog purged".into());
        assert!(readiness(&s).unwrap_err().contains("binlog purged"));
    }

    #[test]
    fn advertised_address_names_the_host_when_bound_to_all() {
        let h = HttpConfig { bind: "0.0.0.0".into(), port: 8080, prefix: "/".into(), admin_token: None };
        assert!(!h.advertised().starts_with("0.0.0.0"));
        let h = HttpConfig { bind: "127.0.0.1".into(), port: 8081, prefix: "/".into(), admin_token: None };
        assert_eq!(h.advertised(), "127.0.0.1:8081");
    }
}
