//! The status page's actions, POST only: hand leadership to a node (`/api/failover`, of one
//! shard with `"shard"`), move a shard to a node (`/api/shard/move`), drain or undrain a node
//! (`/api/drain`), cancel a bootstrap (`/api/bootstrap/cancel`).
//!
//! Invariants:
//! - An action runs only when `http_admin_token` is configured on the node asked and sent as
//!   `Authorization: Bearer …`. No token configured: 403; a missing or wrong one: 401. A
//!   refused action changes nothing.
//! - Every action, accepted or refused, is logged with the caller's address and what it asked.
//! - An accepted action answers 202 once its request is written (ZooKeeper for leadership,
//!   `schema_database`.`bootstrap` for a cancel); the cluster carries it out from there, as it
//!   does for the same `maxwell-cli` command.

use super::json_body;
use crate::cluster::zk::ZkError;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::net::SocketAddr;

/// Which action a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Failover,
    ShardMove,
    Drain,
    CancelBootstrap,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Failover => "failover",
            Action::ShardMove => "shard-move",
            Action::Drain => "drain",
            Action::CancelBootstrap => "cancel-bootstrap",
        }
    }
}

/// What an action acts on: the cluster (this node's membership) and where the bootstrap
/// table is.
#[derive(Debug, Clone)]
pub struct Handles {
    pub token: Option<String>,
    pub cluster: crate::cluster::Membership,
    pub bootstrap_table: Option<(crate::config::SourceConfig, String)>,
}

/// Checks the token, parses the JSON body and runs `action`; logs the outcome.
pub async fn run(h: &Handles, action: Action, from: SocketAddr, headers: &HeaderMap, body: &str) -> Response {
    let name = action.name();
    let refuse = |code: StatusCode, why: &str| {
        tracing::warn!(remote = %from, action = name, refused = why, "admin action refused");
        (code, json_body(&json!({"error": why}))).into_response()
    };
    if let Err((code, why)) = authorize(h, headers) {
        return refuse(code, why);
    }
    let args: Value = match body.trim() {
        "" => json!({}),
        b => match serde_json::from_str(b) {
            Ok(v) => v,
            Err(e) => return refuse(StatusCode::BAD_REQUEST, &format!("the body is not JSON: {e}")),
        },
    };
    let done = match action {
        Action::Failover => failover(h, &args).await,
        Action::ShardMove => shard_move(h, &args).await,
        Action::Drain => drain(h, &args).await,
        Action::CancelBootstrap => cancel_bootstrap(h, &args).await,
    };
    match done {
        Ok(what) => {
            tracing::info!(remote = %from, action = name, args = %args, "admin action: {}", what["done"].as_str().unwrap_or("accepted"));
            (StatusCode::ACCEPTED, json_body(&what)).into_response()
        }
        Err((code, why)) => refuse(code, &why),
    }
}

/// Whether `headers` carry the node's admin token (see the module invariants).
pub fn authorize(h: &Handles, headers: &HeaderMap) -> Result<(), (StatusCode, &'static str)> {
    let Some(token) = h.token.as_deref() else { return Err((StatusCode::FORBIDDEN, "actions are disabled on this node: set http_admin_token")) };
    let sent = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if sent != Some(token) {
        return Err((StatusCode::UNAUTHORIZED, "missing or wrong admin token (Authorization: Bearer <http_admin_token>)"));
    }
    Ok(())
}

type Outcome = Result<Value, (StatusCode, String)>;

fn zk(h: &Handles) -> Result<crate::cluster::zk::Zk, (StatusCode, String)> {
    h.cluster.current().ok_or((StatusCode::CONFLICT, "this node is not in a cluster".into()))
}

fn zk_refusal(e: ZkError) -> (StatusCode, String) {
    match e {
        // Refused as asked (no leader, not a member, already the leader).
        ZkError::Definite(m) => (StatusCode::CONFLICT, m),
        e => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// `{"to": node, "shard": name}` (both optional): the leader (of the shard) hands over (to
/// `node`).
async fn failover(h: &Handles, args: &Value) -> Outcome {
    let to = args["to"].as_str();
    let zk = match args["shard"].as_str() {
        Some(s) => shard_zk(h, s).await?,
        None => zk(h)?,
    };
    let (leader, req) = crate::cli::request_failover(&zk, None, to).await.map_err(zk_refusal)?;
    Ok(json!({"done": format!("hand-over requested of {}", leader.node_id), "requested": req}))
}

/// The scope of shard `name`, which must exist.
async fn shard_zk(h: &Handles, name: &str) -> Result<crate::cluster::zk::Zk, (StatusCode, String)> {
    let zk = zk(h)?;
    match zk.shard_def(name).await.map_err(zk_refusal)? {
        Some(d) if !d.removed => Ok(zk.for_shard(name)),
        _ => Err((StatusCode::NOT_FOUND, format!("no shard named {name}"))),
    }
}

/// `{"shard": name, "to": node}`: `node` becomes the shard's preferred node and its leader
/// hands over to it (`maxwell-cli shard move`, without the wait).
async fn shard_move(h: &Handles, args: &Value) -> Outcome {
    let need = || (StatusCode::BAD_REQUEST, "give the shard and the node: {\"shard\": \"…\", \"to\": \"…\"}".to_string());
    let (shard, to) = (args["shard"].as_str().ok_or_else(need)?, args["to"].as_str().ok_or_else(need)?);
    shard_zk(h, shard).await?;
    use crate::cli::shards::MoveStarted;
    let done = match crate::cli::shards::request_move(&zk(h)?, shard, to).await.map_err(zk_refusal)? {
        MoveStarted::Already(_) => format!("{to} already leads {shard}"),
        MoveStarted::NoLeader => format!("{shard} has no leader now; {to} is its preferred node and gets it next"),
        MoveStarted::Requested(l) => format!("{shard}: hand-over from {} to {to} requested", l.node_id),
    };
    Ok(json!({"done": done, "shard": shard, "to": to}))
}

/// `{"node": n, "drained": true|false}` (`drained` defaults to true).
async fn drain(h: &Handles, args: &Value) -> Outcome {
    let node = args["node"].as_str().ok_or((StatusCode::BAD_REQUEST, "give the node to drain: {\"node\": \"…\"}".to_string()))?;
    let drained = args["drained"].as_bool().unwrap_or(true);
    let zk = zk(h)?;
    if drained {
        let leading = crate::cli::request_drain(&zk, node).await.map_err(zk_refusal)?;
        let what = if leading.is_some() { format!("{node} drained; it hands over") } else { format!("{node} drained") };
        Ok(json!({"done": what, "node": node, "drained": true}))
    } else {
        zk.set_drained(node, false).await.map_err(zk_refusal)?;
        Ok(json!({"done": format!("{node} undrained"), "node": node, "drained": false}))
    }
}

/// `{"id": n}`: marks bootstrap `n` cancelled; the leader stops at its next chunk.
async fn cancel_bootstrap(h: &Handles, args: &Value) -> Outcome {
    let id = args["id"].as_u64().ok_or((StatusCode::BAD_REQUEST, "give the bootstrap's id: {\"id\": N}".to_string()))?;
    let (db, schema) = h.bootstrap_table.as_ref().ok_or((StatusCode::CONFLICT, "this node has no bootstrap table".to_string()))?;
    let unavailable = |e: String| (StatusCode::SERVICE_UNAVAILABLE, e);
    let mut conn = db.connect().await.map_err(|e| unavailable(e.to_string()))?;
    let cancelled = crate::bootstrap::cancel(&mut conn, schema, id).await.map_err(|e| unavailable(format!("cannot write {schema}.bootstrap: {e}")))?;
    if !cancelled {
        return Err((StatusCode::NOT_FOUND, format!("no open bootstrap {id} in {schema}.bootstrap")));
    }
    Ok(json!({"done": format!("bootstrap {id} cancelled"), "id": id}))
}
