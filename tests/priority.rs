//! Takeover preference: when the leader dies, the standby with the higher `ha_priority` takes
//! over, because the others wait `ha_takeover_delay_ms` per higher-priority member first.

mod common;

use common::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zookeeper_client as zk;

struct Killer(Vec<Child>);

impl Drop for Killer {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn node(root: &str, id: &str, priority: i32) -> Child {
    Command::new(env!("CARGO_BIN_EXE_maxwell"))
        .args(ha_node_args(root, id, 7201))
        .args([format!("--ha_priority={priority}"), "--ha_takeover_delay_ms=1000".into(), "--filter=exclude: *.*".into()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn leader(root: &str) -> Option<String> {
    let c = zk::Client::connect(&zk_servers()).await.ok()?;
    let (d, _) = c.get_data(&format!("{root}/leader")).await.ok()?;
    let v: serde_json::Value = serde_json::from_slice(&d).ok()?;
    (v["epoch"].as_u64()? > 0).then(|| v["node_id"].as_str().unwrap().to_string())
}

async fn wait_leader(root: &str, not: Option<&str>) -> String {
    let t0 = Instant::now();
    loop {
        if let Some(l) = leader(root).await {
            if Some(l.as_str()) != not {
                return l;
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "no leader");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn higher_priority_standby_takes_over() {
    let root = format!("/it/{}", unique("prio"));
    let mut nodes = Killer(vec![node(&root, "first", 0)]);
    let first = wait_leader(&root, None).await;
    assert_eq!(first, "first");
    nodes.0.push(node(&root, "low", 0));
    nodes.0.push(node(&root, "high", 10));
    // Both standbys registered.
    let c = zk::Client::connect(&zk_servers()).await.unwrap();
    let t0 = Instant::now();
    while c.list_children(&format!("{root}/members")).await.unwrap().len() < 3 {
        assert!(t0.elapsed() < Duration::from_secs(20), "standbys did not register");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    nodes.0[0].kill().unwrap();
    let next = wait_leader(&root, Some("first")).await;
    assert_eq!(next, "high", "the higher-priority standby leads");
}
