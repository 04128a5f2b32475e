//! Which shard a node hands to which node, so that leaderships stay even.
//!
//! Invariants (each node decides for itself, from the same ZooKeeper view):
//! - A node never races for a shard while it leads (or races for) ⌈shards / nodes⌉ already
//!   ([`cap`]); drained nodes do not count as nodes.
//! - A node hands one shard over when the shard's preferred node is up and below the cap, or
//!   when it leads more than the cap, or two more than the least-loaded node. Every such
//!   hand-over strictly evens the counts out, so the moves end (no flapping); the caller
//!   also rate-limits them (`ha_rebalance_interval_ms`).
//! - The receiver is the least-loaded eligible node (then the higher `ha_priority`, then the
//!   name); the shard given is the last by name not preferred here (else the last).

use std::collections::BTreeMap;

/// The most shards one node should lead.
pub fn cap(shards: usize, nodes: usize) -> usize {
    shards.div_ceil(nodes.max(1)).max(1)
}

/// One shard as the balancer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub shard: String,
    pub leader: Option<String>,
    pub preferred: Option<String>,
}

/// The hand-over `me` should make now, if any: (shard, to).
pub fn pick_handover(me: &str, seats: &[Seat], nodes: &[(String, i32)]) -> Option<(String, String)> {
    if seats.iter().any(|s| s.leader.is_none()) || nodes.len() < 2 {
        return None; // a takeover is under way: let it settle first
    }
    let mut counts: BTreeMap<&str, usize> = nodes.iter().map(|(n, _)| (n.as_str(), 0)).collect();
    for s in seats {
        if let Some(c) = s.leader.as_deref().and_then(|l| counts.get_mut(l)) {
            *c += 1;
        }
    }
    let cap = cap(seats.len(), nodes.len());
    let mine: Vec<&Seat> = seats.iter().filter(|s| s.leader.as_deref() == Some(me)).collect();
    for s in &mine {
        if let Some(p) = s.preferred.as_deref().filter(|p| *p != me) {
            if counts.get(p).is_some_and(|c| *c < cap) {
                return Some((s.shard.clone(), p.to_string()));
            }
        }
    }
    let own = *counts.get(me)?;
    let (target, least) = nodes
        .iter()
        .filter(|(n, _)| n != me)
        .map(|(n, prio)| (n, counts[n.as_str()], *prio))
        .min_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)).then(a.0.cmp(b.0)))
        .map(|(n, c, _)| (n.clone(), c))?;
    if own > cap || own >= least + 2 {
        let give = mine.iter().rev().find(|s| s.preferred.as_deref() != Some(me)).or(mine.last())?;
        return Some((give.shard.clone(), target));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seats(leaders: &[(&str, &str)]) -> Vec<Seat> {
        leaders.iter().map(|(s, l)| Seat { shard: s.to_string(), leader: Some(l.to_string()).filter(|l| !l.is_empty()), preferred: None }).collect()
    }
    fn nodes(n: &[&str]) -> Vec<(String, i32)> {
        n.iter().map(|n| (n.to_string(), 0)).collect()
    }

    /// Applies every node's hand-over until none is left; returns the moves.
    fn settle(seats: &mut [Seat], nodes: &[(String, i32)]) -> usize {
        let mut moves = 0;
        loop {
            let mv = nodes.iter().find_map(|(n, _)| pick_handover(n, seats, nodes));
            let Some((shard, to)) = mv else { return moves };
            seats.iter_mut().find(|s| s.shard == shard).unwrap().leader = Some(to);
            moves += 1;
            assert!(moves < 20, "the moves do not end: {seats:?}");
        }
    }

    #[test]
    fn cap_is_the_ceiling() {
        assert_eq!((cap(6, 3), cap(6, 2), cap(7, 3), cap(1, 3), cap(3, 0)), (2, 3, 3, 1, 3));
    }

    #[test]
    fn a_node_that_joins_gets_its_share_and_the_moves_end() {
        let n = nodes(&["a", "b", "c"]);
        let mut s = seats(&[("s1", "a"), ("s2", "a"), ("s3", "a"), ("s4", "b"), ("s5", "b"), ("s6", "b")]);
        assert_eq!(pick_handover("a", &s, &n), Some(("s3".into(), "c".into())));
        assert_eq!(settle(&mut s, &n), 2);
        for node in ["a", "b", "c"] {
            assert_eq!(s.iter().filter(|x| x.leader.as_deref() == Some(node)).count(), 2, "{s:?}");
        }
        // Uneven but within one of each other: no move.
        let s = seats(&[("s1", "a"), ("s2", "a"), ("s3", "b"), ("s4", "b"), ("s5", "c")]);
        assert_eq!(nodes(&["a", "b", "c"]).iter().find_map(|(x, _)| pick_handover(x, &s, &n)), None);
    }

    #[test]
    fn the_preferred_node_gets_its_shard_unless_it_is_full() {
        let n = nodes(&["a", "b", "c"]);
        let mut s = seats(&[("s1", "a"), ("s2", "a"), ("s3", "b"), ("s4", "b"), ("s5", "c"), ("s6", "c")]);
        s[0].preferred = Some("b".into());
        assert_eq!(pick_handover("a", &s, &n), None, "b leads its share already");
        assert_eq!(pick_handover("b", &s, &n), None);
        s[2].preferred = Some("b".into());
        s[3].preferred = Some("b".into());
        // b keeps its preferred ones; after a gives s1 to b (over the cap) b gives a
        // non-preferred one back: s1, s3, s4 cannot all stay on b (cap 2), but the moves end.
        s[0].leader = Some("b".into());
        assert_eq!(settle(&mut s, &n), 1);
        let b: Vec<&str> = s.iter().filter(|x| x.leader.as_deref() == Some("b")).map(|x| x.shard.as_str()).collect();
        assert_eq!(b.len(), 2, "{s:?}");
    }

    #[test]
    fn nothing_moves_while_a_shard_has_no_leader_or_one_node_is_left() {
        let s = seats(&[("s1", "a"), ("s2", "a"), ("s3", "a"), ("s4", "")]);
        assert_eq!(pick_handover("a", &s, &nodes(&["a", "b"])), None);
        let s = seats(&[("s1", "a"), ("s2", "a")]);
        assert_eq!(pick_handover("a", &s, &nodes(&["a"])), None);
    }
}
