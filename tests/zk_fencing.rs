//! The fence, against the real ensemble: a leader whose epoch was bumped by a newer leader
//! cannot write `position`; `leader` is won by exactly one session and vanishes with it; a
//! corrupt payload is reported with its path.

mod common;

use common::*;
use maxwell_ha::binlog::position::BinlogPosition;
use maxwell_ha::cluster::layout::{MemberInfo, Paths, PositionRecord};
use maxwell_ha::cluster::zk::{connect, Zk, ZkError};
use std::time::Duration;

fn rec(pos: u64, epoch: u64, node: &str) -> PositionRecord {
    PositionRecord { position: Some(BinlogPosition::new("mysql-bin.000001", pos)), gtid: None, server_id: 1, epoch, node_id: node.into(), committed_at: 0 }
}

async fn member(root: &str, id: &str) -> Zk {
    let c = connect(&zk_servers(), Duration::from_secs(4), None).await.expect("test ZooKeeper ensemble");
    let zk = Zk::new(c, Paths::new(root), false);
    zk.ensure_tree().await.unwrap();
    let info = MemberInfo { node_id: id.into(), host: "h".into(), http: None, version: "t".into(), started_at: 0, priority: 0 };
    zk.register(&info, Duration::from_secs(1)).await.unwrap();
    zk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_leader_is_fenced_and_leadership_follows_sessions() {
    let root = format!("/it/{}", unique("fence"));
    let a = member(&root, "a").await;
    let b = member(&root, "b").await;
    assert!(a.try_lead("a").await.unwrap(), "first session wins");
    assert!(!b.try_lead("b").await.unwrap(), "second session loses");
    assert!(a.try_lead("a").await.unwrap(), "the winner still holds it");
    let (e1, fence_a) = a.bump_epoch("a").await.unwrap();
    a.commit_position(fence_a, &rec(100, e1, "a")).await.unwrap();
    assert_eq!(a.leader().await.unwrap().unwrap().epoch, e1);

    // A newer leader bumps the epoch (as after a's session expired): a is fenced.
    let (e2, fence_b) = b.bump_epoch("b").await.unwrap();
    assert!(e2 > e1 && fence_b != fence_a);
    match a.commit_position(fence_a, &rec(200, e1, "a")).await {
        Err(ZkError::Fenced(_)) => {}
        other => panic!("stale leader's write must be fenced, got {other:?}"),
    }
    let (stored, _) = b.load_position().await.unwrap().unwrap();
    assert_eq!(stored.position.unwrap().pos, 100, "the fenced write changed nothing");
    b.commit_position(fence_b, &rec(300, e2, "b")).await.unwrap();
    assert_eq!(b.load_position().await.unwrap().unwrap().0.position.unwrap().pos, 300);

    // The leader znode goes with its session.
    drop(a);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(b.try_lead("b").await.unwrap(), "leadership passes once the old session closed");
    let names: Vec<String> = b.members().await.unwrap().into_iter().map(|m| m.node_id).collect();
    assert_eq!(names, vec!["b"], "a's member znode vanished with its session");

    // A corrupt payload is named, not overwritten.
    b.client.set_data(&format!("{root}/position"), b"{garbage", None).await.unwrap();
    let e = b.load_position().await.unwrap_err().to_string();
    assert!(e.contains(&format!("{root}/position")) && e.contains("corrupt"), "{e}");
}

/// With `zookeeper_auth`, the cluster's znodes belong to its digest identity: a client
/// without it can read nothing it may change, and its writes are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_auth_keeps_other_clients_out() {
    let root = format!("/it/{}", unique("acl"));
    let c = connect(&zk_servers(), Duration::from_secs(4), Some("maxwell:s3cret")).await.expect("test ZooKeeper ensemble");
    let owner = Zk::new(c, Paths::new(&root), true);
    owner.ensure_tree().await.unwrap();
    assert!(owner.try_lead("a").await.unwrap());
    let (epoch, fence) = owner.bump_epoch("a").await.unwrap();
    owner.commit_position(fence, &rec(10, epoch, "a")).await.unwrap();

    let stranger = zookeeper_client::Client::connect(&zk_servers()).await.unwrap();
    let e = stranger.set_data(&format!("{root}/position"), b"{}", None).await.unwrap_err();
    assert_eq!(e, zookeeper_client::Error::NoAuth, "an unauthenticated client cannot overwrite the position");
    let e = stranger.set_data(&format!("{root}/epoch"), b"{}", None).await.unwrap_err();
    assert_eq!(e, zookeeper_client::Error::NoAuth);
    let wrong = connect(&zk_servers(), Duration::from_secs(4), Some("maxwell:wrong")).await.unwrap();
    let intruder = Zk::new(wrong, Paths::new(&root), true);
    match intruder.commit_position(fence, &rec(20, epoch, "x")).await {
        Err(ZkError::Definite(m)) => assert!(m.contains("zookeeper_auth"), "{m}"),
        other => panic!("a wrong password must be refused, got {other:?}"),
    }
    assert_eq!(owner.load_position().await.unwrap().unwrap().0.position.unwrap().pos, 10);
}
