//! The node's HTTP endpoints (`http_port`, `http_bind_address`, `http_path_prefix`):
//! `/metrics` (Prometheus text), `/healthz`, `/readyz`, `/api/status` (this node),
//! `/api/series` (this node's rows/s and lag over the last minutes), `/api/cluster` (the
//! whole cluster, read from ZooKeeper and the members' `/api/status` and `/api/series`),
//! the actions (see [`actions`]) and `/`, a status and management page that refreshes itself
//! (served from the binary, no external assets; a phone column, a grid on a desktop).
//! Maxwell's `/prometheus` (= `/metrics`), `/healthcheck`, `/ping`, `/diagnostic` and `/config`
//! too, in Maxwell's shapes (see [`maxwell`], [`diagnostic`] and [`config`]); `/metrics` answers Maxwell's JSON to a
//! client that asks for JSON.
//!
//! Invariants:
//! - GET handlers only read. The actions are POST only and need `http_admin_token` to be
//!   set and sent (`Authorization: Bearer …`): without a token configured they are refused
//!   with 403, with a wrong or missing one with 401, and nothing changes; every accepted or
//!   refused action is logged with the caller's address.
//! - `/healthz` is 200 while the process runs; `/readyz` is 200 only for a leader (or single
//!   node) whose binlog stream is running, or a standby whose ZooKeeper session is connected;
//!   otherwise 503 with the reason in the body.
//! - Reading other members is bounded by a 1 s timeout each, so one dead member cannot stall
//!   the page.

pub mod actions;
pub mod config;
pub mod diagnostic;
pub mod maxwell;

use crate::metrics::{self, series, Role};
use crate::cli::client;
pub use crate::config::HttpConfig;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::extract::ConnectInfo;
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Binds the listener now, so a taken port is reported at start with the key to change.
pub async fn bind(cfg: &HttpConfig) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind((cfg.bind.as_str(), cfg.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{} (http_bind_address, http_port): {e}; choose another http_port", cfg.bind, cfg.port))
}

/// What the handlers share with the rest of the node.
#[derive(Debug, Clone)]
pub struct Context {
    /// This node's samples (pushed by `metrics::sample_resources`).
    pub series: Arc<series::Series>,
    /// Where bootstraps are requested (`positions_db`, `schema_database`), for cancelling one.
    pub bootstrap_table: Option<(crate::config::SourceConfig, String)>,
    /// This node's cluster membership (none for a node running alone): what `/api/cluster`
    /// reads and the actions act on.
    pub cluster: crate::cluster::Membership,
    /// Maxwell's metric names (`/metrics` as JSON).
    pub names: metrics::maxwell::Names,
    /// `http_diagnostic=true`: what `/diagnostic` checks.
    pub diagnostic: Option<diagnostic::Checks>,
    /// `http_config=true`: `/config` is served, showing this filter (the node's own `filter`).
    pub config: Option<Option<String>>,
}

/// How far back `/api/series` and the cluster's chart go.
const CHART_MS: u64 = 5 * 60 * 1000;

/// Serves until `cancel`.
pub async fn serve(listener: tokio::net::TcpListener, cfg: HttpConfig, ctx: Context, cancel: CancellationToken) {
    let prefix = cfg.prefix.clone();
    let handles = Arc::new(actions::Handles { token: cfg.admin_token.clone(), cluster: ctx.cluster.clone(), bootstrap_table: ctx.bootstrap_table.clone() });
    let membership = ctx.cluster.clone();
    let enabled = cfg.admin_token.is_some();
    let (own, own2) = (ctx.series.clone(), ctx.series.clone());
    let names = ctx.names.clone();
    let action = |a: actions::Action| {
        let handles = handles.clone();
        axum::routing::post(move |ConnectInfo(from): ConnectInfo<std::net::SocketAddr>, headers: axum::http::HeaderMap, body: String| {
            let handles = handles.clone();
            async move { actions::run(&handles, a, from, &headers, &body).await }
        })
    };
    let routes = Router::new()
        .route("/", get(|| async { Html(include_str!("page.html")) }))
        .route("/metrics", get(move |h, u| maxwell::metrics(names.clone(), h, u)))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        // Maxwell's paths, for monitoring set up against Maxwell.
        .route("/prometheus", get(prometheus))
        .route("/healthcheck", get(maxwell::healthcheck))
        .route("/ping", get(maxwell::ping))
        .route("/api/status", get(|| async { json(&metrics::snapshot()) }))
        .route("/api/series", get(move || async move { json(&own.since(metrics::now_ms().saturating_sub(CHART_MS))) }))
        .route("/api/cluster", get(move || cluster(membership.current(), prefix.clone(), enabled, own2.clone())))
        .route("/api/failover", action(actions::Action::Failover))
        .route("/api/shard/move", action(actions::Action::ShardMove))
        .route("/api/drain", action(actions::Action::Drain))
        .route("/api/bootstrap/cancel", action(actions::Action::CancelBootstrap));
    let routes = match ctx.diagnostic.clone() {
        Some(checks) => {
            let membership = ctx.cluster.clone();
            routes.route("/diagnostic", get(move || diagnostic::handle(checks.clone(), membership.clone())))
        }
        None => routes,
    };
    let routes = match ctx.config.clone() {
        Some(own) => {
            let membership = ctx.cluster.clone();
            let change = move |ConnectInfo(from): ConnectInfo<std::net::SocketAddr>, headers: axum::http::HeaderMap, body: String| {
                let handles = handles.clone();
                async move { config::change(&handles, from, &headers, &body).await }
            };
            routes.route("/config", get(move || config::get(own.clone(), membership.clone())).post(change.clone()).put(change.clone()).patch(change))
        }
        None => routes,
    };
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

pub(crate) fn json_body<T: serde::Serialize>(v: &T) -> ([(header::HeaderName, &'static str); 1], String) {
    ([(header::CONTENT_TYPE, "application/json")], serde_json::to_string(v).expect("serializable"))
}

/// The cluster as ZooKeeper (through this node's session `zk`) and the members see it.
async fn cluster(zk: Option<crate::cluster::zk::Zk>, prefix: String, actions: bool, own: Arc<series::Series>) -> Response {
    let since = metrics::now_ms().saturating_sub(CHART_MS);
    let me = metrics::snapshot();
    let Some(zk) = zk else {
        let member = serde_json::json!({"node_id": me.node_id.clone().unwrap_or_else(|| "this node".into()), "status": me});
        return json(&serde_json::json!({"root": null, "leader": null, "epoch": null, "position": null, "members": [member],
            "series": own.since(since), "actions": actions}));
    };
    let (leader, members, position, epoch, history, drained) = tokio::join!(zk.leader(), zk.members(), zk.load_position(), zk.epoch(), zk.history(), zk.drained());
    let members = members.unwrap_or_default();
    let answers = futures_util::future::join_all(members.iter().map(|m| {
        let own_node = me.node_id.as_deref() == Some(m.node_id.as_str());
        let (http, me, own, prefix) = (m.http.clone(), me.clone(), own.clone(), prefix.clone());
        async move {
            match (own_node, http) {
                (true, _) => (Ok(serde_json::to_value(me).expect("serializable")), own.since(since)),
                (false, Some(h)) => {
                    let (status_path, series_path) = (format!("{prefix}api/status"), format!("{prefix}api/series"));
                    let (st, series) = tokio::join!(
                        client::get_json(&h, &status_path, Duration::from_secs(1)),
                        client::get_json(&h, &series_path, Duration::from_secs(1))
                    );
                    (st, series.ok().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default())
                }
                (false, None) => (Err("no HTTP address registered".to_string()), Vec::new()),
            }
        }
    }))
    .await;
    let (statuses, serieses): (Vec<_>, Vec<_>) = answers.into_iter().unzip();
    let answered: Vec<(String, serde_json::Value)> = members.iter().zip(&statuses).filter_map(|(m, s)| s.as_ref().ok().map(|v| (m.node_id.clone(), v.clone()))).collect();
    let shards = crate::cli::shards::live(&zk, &answered).await.unwrap_or_default();
    let history = if shards.is_empty() {
        history.map(|h| h.terms.iter().map(|t| serde_json::to_value(t).expect("serializable")).collect()).unwrap_or_default()
    } else {
        shard_history(&zk, &shards).await
    };
    let leader = leader.ok().flatten();
    let leads = leader.as_ref().map(|l| l.node_id.as_str());
    let members: Vec<serde_json::Value> = members
        .iter()
        .zip(statuses)
        .map(|(m, s)| {
            let mut v = serde_json::to_value(m).expect("serializable");
            match s {
                Ok(s) => {
                    if shards.is_empty() {
                        v["role"] = role_of(&m.node_id, leads, &s).into();
                    }
                    v["status"] = s
                }
                Err(e) => v["error"] = e.into(),
            }
            v
        })
        .collect();
    json(&serde_json::json!({
        "root": zk.paths.root,
        "leader": leader,
        "epoch": epoch.ok().flatten().map(|(e, _)| e.epoch),
        "position": position.ok().flatten().map(|(p, _)| p),
        "members": members,
        "history": history,
        "drained": drained.unwrap_or_default(),
        "shards": shards,
        "series": series::merge(&serieses),
        "actions": actions,
    }))
}

/// A member's role as the cluster sees it (unsharded): the node the leader znode names leads;
/// any other node whose own status still says it leads (it has just handed over, or lost its
/// session and not yet noticed) is shown standing by. The member's status adds detail only.
fn role_of(node_id: &str, leader: Option<&str>, status: &serde_json::Value) -> String {
    let own = status["role"].as_str().unwrap_or("unknown");
    match (leader == Some(node_id), own) {
        (true, _) => "leader".into(),
        (false, "leader") => "standby".into(),
        (false, own) => own.into(),
    }
}

/// With shards: the latest terms of every shard, oldest first, each naming its shard.
async fn shard_history(zk: &crate::cluster::zk::Zk, shards: &[crate::cli::shards::ShardView]) -> Vec<serde_json::Value> {
    let all = futures_util::future::join_all(shards.iter().map(|s| async move { (s.name.clone(), zk.for_shard(&s.name).history().await) })).await;
    let mut terms: Vec<(String, crate::cluster::history::Term)> =
        all.into_iter().filter_map(|(name, h)| h.ok().map(|h| (name, h))).flat_map(|(name, h)| h.terms.into_iter().map(move |t| (name.clone(), t))).collect();
    terms.sort_by_key(|(_, t)| t.start_ms);
    let older = terms.len().saturating_sub(crate::cluster::history::HISTORY_LEN);
    terms
        .into_iter()
        .skip(older)
        .map(|(name, t)| {
            let mut v = serde_json::to_value(t).expect("serializable");
            v["shard"] = name.into();
            v
        })
        .collect()
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
    fn the_leader_znode_decides_who_leads() {
        let st = |role: &str| serde_json::json!({ "role": role });
        assert_eq!(role_of("b", Some("b"), &st("standby")), "leader", "won, its status not yet updated");
        assert_eq!(role_of("a", Some("b"), &st("leader")), "standby", "handed over, its status not yet updated");
        assert_eq!(role_of("a", None, &st("leader")), "standby", "no leader znode: nobody leads");
        assert_eq!(role_of("c", Some("b"), &st("standby")), "standby");
        assert_eq!(role_of("c", Some("b"), &st("starting")), "starting");
        assert_eq!(role_of("s", None, &st("single")), "single");
        assert_eq!(role_of("c", Some("b"), &serde_json::json!({})), "unknown");
    }

    #[test]
    fn advertised_address_names_the_host_when_bound_to_all() {
        let h = HttpConfig { bind: "0.0.0.0".into(), port: 8080, prefix: "/".into(), admin_token: None };
        assert!(!h.advertised().starts_with("0.0.0.0"));
        let h = HttpConfig { bind: "127.0.0.1".into(), port: 8081, prefix: "/".into(), admin_token: None };
        assert_eq!(h.advertised(), "127.0.0.1:8081");
    }
}
