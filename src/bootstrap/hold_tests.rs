use super::*;
use crate::binlog::position::BinlogPosition;

fn at(pos: u64) -> ResumePoint {
    ResumePoint { position: BinlogPosition::new("mysql-bin.000002", pos), gtid: Some(format!("0-1-{pos}").parse().unwrap()), server_id: 1 }
}

fn state(id: u64) -> State {
    State::new(id, "shop", "orders")
}

fn record(s: &State) -> Transaction {
    Transaction { json: b"{}\n".to_vec(), row_ends: vec![3], bootstrap: Some(s.clone()), ..Default::default() }
}

/// A binlog transaction ending at `pos` with `rows` rows (each row's JSON names its position).
fn read(pos: u64, rows: usize) -> Transaction {
    let mut t = Transaction { position: BinlogPosition::new("mysql-bin.000002", pos), gtid_set: Some(format!("0-1-{pos}").parse().unwrap()), server_id: 1, ..Default::default() };
    for _ in 0..rows {
        t.json.extend_from_slice(format!("{{\"position\":\"mysql-bin.000002:{pos}\"}}\n").as_bytes());
        t.row_ends.push(t.json.len());
    }
    t
}

fn except() -> Option<Overlay> {
    Some(Overlay::Except { database: "shop".into(), table: "orders".into() })
}

fn only() -> Option<Overlay> {
    Some(Overlay::Only { database: "shop".into(), table: "orders".into() })
}

/// A hold started at 100 on bootstrap 7, its start record sent.
fn holding() -> Hold {
    let (mut h, overlay) = Hold::resumed(None);
    assert_eq!(overlay, None);
    assert_eq!(h.at_boundary(&at(100), None, None), None, "nothing runs, nothing held");
    let r = h.at_boundary(&at(100), Some(&state(7)), None).expect("a bootstrap starts: the reader is narrowed");
    assert_eq!(r, Restart { at: at(100), overlay: except() });
    assert_eq!(h.at_boundary(&at(100), Some(&state(7)), None), None, "once");
    let mut start = record(&state(7));
    h.stamp(&mut start, &at(100));
    assert_eq!(start.bootstrap.unwrap().held_from, Some(at(100)));
    h
}

#[test]
fn a_bootstrap_holds_its_table_then_sends_its_changes_after_the_completion() {
    let mut h = holding();
    let pin = h.pin();
    assert_eq!(pinned(&pin, at(150)), at(100), "a node alone acknowledges no further than the hold's start");
    assert_eq!(pinned(&pin, at(90)), at(90));
    // Chunks go on while other tables stream (the boundary moves on).
    let mut chunk = record(&State { rows: 500, last_key: Some(vec!["500".into()]), ..state(7) });
    h.stamp(&mut chunk, &at(180));
    assert_eq!((chunk.bootstrap.as_ref().unwrap().held_from.clone(), chunk.bootstrap.as_ref().unwrap().rows), (Some(at(100)), 500));
    assert!(!h.catching_up());
    let mut complete = record(&State { rows: 1000, complete: true, ..state(7) });
    h.stamp(&mut complete, &at(300));
    let b = complete.bootstrap.clone().unwrap();
    assert_eq!((b.held_from, b.held_until), (Some(at(100)), Some(at(300))), "the completion says what is held");
    assert!(h.catching_up());
    assert_eq!(h.at_boundary(&at(300), None, None), Some(Restart { at: at(100), overlay: only() }), "the held range is read again, the table alone");
    // The held transactions, positioned at the completion, each moving held_from past it.
    let t = h.catch_up(read(120, 2)).expect("rows of the table");
    assert_eq!((t.position.clone(), t.gtid_set.clone(), t.row_ends.len()), (at(300).position, at(300).gtid, 2));
    assert!(String::from_utf8_lossy(&t.json).contains("mysql-bin.000002:120"), "rows keep the position they were read at");
    assert_eq!(t.bootstrap.as_ref().unwrap().held_from, Some(at(120)));
    assert!(h.catch_up(read(200, 0)).is_none(), "nothing of the table: nothing sent");
    let t = h.catch_up(read(250, 1)).unwrap();
    assert_eq!(t.bootstrap.as_ref().unwrap().held_from, Some(at(250)), "an empty transaction moved it too");
    assert_eq!(pinned(&pin, at(300)), at(100), "still pinned while catching up");
    let last = h.catch_up(read(300, 0)).expect("the end is sent even without rows: it ends the hold");
    let b = last.bootstrap.clone().unwrap();
    assert_eq!((b.held_from, b.held_until, b.complete, b.rows), (None, None, true, 1000));
    assert_eq!(last.resume_point(), at(300));
    assert!(!h.catching_up());
    assert_eq!(h.at_boundary(&at(300), None, None), Some(Restart { at: at(300), overlay: None }), "then the stream goes on unnarrowed");
    assert_eq!(pinned(&pin, at(400)), at(400), "the pin is gone");
}

#[test]
fn a_catch_up_that_reads_past_its_end_stops_there() {
    let mut h = holding();
    let mut complete = record(&State { complete: true, ..state(7) });
    h.stamp(&mut complete, &at(300));
    h.at_boundary(&at(300), None, None);
    let t = h.catch_up(read(320, 3)).expect("the end marker");
    assert!(t.row_ends.is_empty(), "rows past the end belong to the stream after it");
    assert_eq!((t.resume_point(), t.bootstrap.unwrap().held_from), (at(300), None));
}

#[test]
fn a_cancelled_bootstrap_still_sends_what_it_held() {
    let mut h = holding();
    assert_eq!(h.at_boundary(&at(250), None, Some(3)), None, "another bootstrap's end is not ours");
    assert_eq!(h.at_boundary(&at(250), None, Some(7)), Some(Restart { at: at(100), overlay: only() }));
    let t = h.catch_up(read(130, 1)).unwrap();
    let b = t.bootstrap.unwrap();
    assert_eq!((b.complete, b.held_until), (true, Some(at(250))), "no more chunks after a takeover either");
}

#[test]
fn a_bootstrap_ended_where_it_began_holds_nothing() {
    let mut h = holding();
    let mut complete = record(&State { complete: true, ..state(7) });
    h.stamp(&mut complete, &at(100));
    assert!(!h.catching_up());
    assert_eq!(h.at_boundary(&at(100), None, None), Some(Restart { at: at(100), overlay: None }));
}

#[test]
fn a_new_leader_resumes_the_hold_from_the_checkpoint() {
    let chunks = State { rows: 500, held_from: Some(at(100)), ..state(7) };
    let (mut h, overlay) = Hold::resumed(Some(&chunks));
    assert_eq!(overlay, except(), "the first reader is narrowed already");
    assert_eq!(h.at_boundary(&at(400), Some(&chunks), None), None);
    let mut next = record(&State { rows: 600, ..chunks.clone() });
    next.bootstrap.as_mut().unwrap().held_from = None;
    h.stamp(&mut next, &at(400));
    assert_eq!(next.bootstrap.unwrap().held_from, Some(at(100)), "records carry the hold's start");

    let catching = State { complete: true, held_from: Some(at(220)), held_until: Some(at(300)), ..state(7) };
    let (mut h, overlay) = Hold::resumed(Some(&catching));
    assert_eq!(overlay, None);
    assert!(h.catching_up());
    assert_eq!(h.at_boundary(&at(300), None, None), Some(Restart { at: at(220), overlay: only() }), "continues after the last committed one");
    // Done, or never async: nothing held.
    for s in [State { complete: true, ..state(7) }, State { rows: 10, ..state(7) }] {
        let (mut h, overlay) = Hold::resumed(Some(&s));
        assert_eq!((overlay, h.catching_up()), (None, false));
        assert_eq!(h.at_boundary(&at(300), None, None), None);
    }
}
