//! Guards the module layout of `src/` against drift (see docs/architecture.md).
//!
//! The code lives in rooms: one per concern, a directory such as `binlog/` or a top-level file
//! such as `filter.rs`. Rooms import one way: lower rooms (binlog, encode, sink, …) never import
//! higher ones (node, cluster, http, the binaries), so each room can be read, tested and changed
//! from the bottom up. Nothing here runs the program; it only reads the source tree:
//!
//! * `top_level_rooms_import_one_way`: the graph of `crate::ROOM` references between rooms has
//!   no cycle, and every room imports only rooms that `src/lib.rs` declares before it (lib.rs
//!   lists them lowest first). A failure names every edge of each cycle and the files that make it, so you know
//!   which imports to cut. `cargo test --test layout -- --nocapture` prints the whole layering.
//! * `no_source_file_is_over_600_lines`: a file that grows past 600 lines is split by concern.
//! * `no_process_wide_mutable_state_outside_the_metrics_registry`: mutable `static`s make state
//!   that tests and streams share by accident; only `src/metrics/` (the registry) may hold them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
const MAX_LINES: usize = 600;
/// Types that make a `static` changeable after it is set. A value set once and never changed
/// (`OnceLock<Regex>`, `LazyLock<[..]>`: a constant computed at first use) is not state.
const INTERIOR_MUTABILITY: &[&str] = &["Mutex", "RwLock", "Atomic", "Cell"];

/// Every `.rs` file under src/, as (path relative to src/ with `/` separators, contents), sorted.
fn all_sources() -> Vec<(String, String)> {
    let (mut out, mut dirs) = (Vec::new(), vec![PathBuf::from(SRC)]);
    while let Some(dir) = dirs.pop() {
        for path in fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(SRC).unwrap().to_string_lossy().replace('\\', "/");
                out.push((rel, fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out.sort();
    assert!(out.iter().any(|(f, _)| f == "lib.rs"), "no src/lib.rs under {SRC}");
    out
}

/// The code of a file without comments (`//`, `//!`, `///`, `/* */`) and with the insides of
/// string and char literals blanked; newlines are kept so line numbers stay right.
fn code(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let (mut out, mut i) = (String::with_capacity(src.len()), 0);
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' { i += 1; }
        } else if c[i] == '/' && next == Some('*') {
            let (mut depth, mut j) = (1, i + 2);
            while j < c.len() && depth > 0 {
                if c[j] == '/' && c.get(j + 1) == Some(&'*') { depth += 1; j += 1; }
                else if c[j] == '*' && c.get(j + 1) == Some(&'/') { depth -= 1; j += 1; }
                else if c[j] == '\n' { out.push('\n'); }
                j += 1;
            }
            i = j;
        } else if c[i] == 'r' && (next == Some('"') || next == Some('#'))
            && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_'))
        {
            let hashes = c[i + 1..].iter().take_while(|&&h| h == '#').count();
            if c.get(i + 1 + hashes) != Some(&'"') { out.push(c[i]); i += 1; continue; }
            out.push('"');
            i += 2 + hashes;
            while i < c.len() && !(c[i] == '"' && c[i + 1..].iter().take(hashes).filter(|&&h| h == '#').count() == hashes) {
                blank(&mut out, c[i]);
                i += 1;
            }
            out.push('"');
            i += 1 + hashes;
        } else if c[i] == '"' {
            out.push('"');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' { out.push(' '); i += 1; }
                if i < c.len() { blank(&mut out, c[i]); }
                i += 1;
            }
            out.push('"');
            i += 1;
        } else if c[i] == '\'' && (next == Some('\\') || c.get(i + 2) == Some(&'\'')) {
            // A char literal ('x', '\n', '\u{..}'); anything else after a quote is a lifetime.
            let mut j = if next == Some('\\') { i + 3 } else { i + 2 };
            while j < c.len() && c[j] != '\'' { j += 1; }
            out.push_str("' '");
            i = j + 1;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn is_ident(ch: char) -> bool { ch.is_alphanumeric() || ch == '_' }

/// The identifier starting at byte `at` after optional whitespace, and the byte after it.
fn ident_at(s: &str, at: usize) -> (&str, usize) {
    let start = at + (s.len() - at - s[at..].trim_start().len());
    let len = s[start..].find(|ch: char| !is_ident(ch)).unwrap_or(s.len() - start);
    (&s[start..start + len], start + len)
}

/// The first segment of every `crate::…` path in `code`, including each item of `crate::{…}`.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    for (at, _) in code.match_indices("crate") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|ch| is_ident(ch) || ch == '$') { continue; }
        let rest = code[at + 5..].trim_start();
        let Some(rest) = rest.strip_prefix("::") else { continue };
        let rest = rest.trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut item_start) = (1, true);
            for (i, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => { depth -= 1; if depth == 0 { break; } }
                    ',' if depth == 1 => { item_start = true; continue; }
                    _ if ch.is_whitespace() => continue,
                    _ if item_start && depth == 1 => {
                        refs.insert(ident_at(group, i).0.to_string());
                    }
                    _ => {}
                }
                item_start = false;
            }
        } else {
            refs.insert(ident_at(rest, 0).0.to_string());
        }
    }
    refs
}

/// The room of a file under src/: its first path component, or the stem of a top-level file.
/// A top-level file such as `config_keys.rs` that lib.rs does not declare is a `#[path]` part
/// of the room its name starts with (`config`).
fn room_of(file: &str, declared: &BTreeSet<String>) -> String {
    let first = file.split('/').next().unwrap();
    let stem = first.strip_suffix(".rs").unwrap_or(first);
    if declared.contains(stem) { return stem.to_string(); }
    declared.iter().filter(|r| stem.starts_with(&format!("{r}_"))).max_by_key(|r| r.len())
        .cloned().unwrap_or_else(|| stem.to_string())
}

/// Strongly connected components with more than one node (Tarjan), each sorted, in stable order.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct T<'g> { g: &'g BTreeMap<String, BTreeSet<String>>, next: usize,
        index: BTreeMap<&'g str, (usize, usize)>, stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>, out: Vec<BTreeSet<String>> }
    fn visit<'g>(t: &mut T<'g>, v: &'g str) {
        t.index.insert(v, (t.next, t.next));
        t.next += 1;
        t.stack.push(v);
        t.on_stack.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let low = t.index[v].1.min(t.index[w].1);
                t.index.get_mut(v).unwrap().1 = low;
            } else if t.on_stack.contains(w) {
                let low = t.index[v].1.min(t.index[w].0);
                t.index.get_mut(v).unwrap().1 = low;
            }
        }
        if t.index[v].0 == t.index[v].1 {
            let mut scc = BTreeSet::new();
            while let Some(w) = t.stack.pop() {
                t.on_stack.remove(w);
                scc.insert(w.to_string());
                if w == v { break; }
            }
            if scc.len() > 1 { t.out.push(scc); }
        }
    }
    let mut t = T { g: graph, next: 0, index: BTreeMap::new(), stack: Vec::new(),
        on_stack: BTreeSet::new(), out: Vec::new() };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) { visit(&mut t, v); }
    }
    t.out.sort();
    t.out
}

#[test]
fn top_level_rooms_import_one_way() {
    let files = all_sources();
    let lib = code(&files.iter().find(|(f, _)| f == "lib.rs").unwrap().1);
    let order: Vec<String> = lib.split(';').filter_map(|item| {
        let words: Vec<&str> = item.split_whitespace().collect();
        let at = words.iter().position(|w| *w == "mod")?;
        words.get(at + 1).map(|s| s.to_string())
    }).collect();
    let declared: BTreeSet<String> = order.iter().cloned().collect();
    let mut rooms: BTreeSet<String> = declared.clone();
    let in_rooms: Vec<_> = files.iter()
        .filter(|(f, _)| f != "lib.rs" && !f.starts_with("bin/"))
        .map(|(f, text)| (f, room_of(f, &declared), text)).collect();
    rooms.extend(in_rooms.iter().map(|(_, room, _)| room.clone()));

    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (file, room, text) in &in_rooms {
        for to in crate_refs(&code(text)) {
            if rooms.contains(&to) && to != *room {
                edges.entry((room.clone(), to)).or_default().insert(format!("src/{file}"));
            }
        }
    }
    let line = |(from, to): &(String, String), files: &BTreeSet<String>| {
        format!("  {from} -> {to} ({})\n", files.iter().cloned().collect::<Vec<_>>().join(", "))
    };
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    eprintln!("room imports ({} edges):", edges.len());
    for (edge, files) in &edges {
        eprint!("{}", line(edge, files));
        graph.entry(edge.0.clone()).or_default().insert(edge.1.clone());
    }

    let mut report = String::new();
    for scc in cycles(&graph) {
        report += &format!("\ncycle among rooms {{{}}}; edges inside it:\n",
            scc.iter().cloned().collect::<Vec<_>>().join(", "));
        for (edge, files) in edges.iter().filter(|(e, _)| scc.contains(&e.0) && scc.contains(&e.1)) {
            report += &line(edge, files);
        }
    }
    assert!(report.is_empty(),
        "rooms must import one way (docs/architecture.md); cut one edge of each cycle:{report}");

    // lib.rs declares the rooms lowest first, so the order itself is the layering's record.
    let rank = |r: &str| order.iter().position(|o| o == r);
    let upward: String = edges.iter()
        .filter(|((from, to), _)| matches!((rank(from), rank(to)), (Some(a), Some(b)) if b > a))
        .map(|(edge, files)| line(edge, files)).collect();
    assert!(upward.is_empty(),
        "src/lib.rs declares the rooms lowest first; these import a room declared after them \
         (move what they import down, or fix the order in lib.rs):\n{upward}");
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let graph = |pairs: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in pairs { g.entry(a.to_string()).or_default().insert(b.to_string()); }
        g
    };
    let found = cycles(&graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]));
    let abc: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    assert_eq!(found, vec![abc]);
    assert!(cycles(&graph(&[("a", "b"), ("b", "c"), ("a", "c"), ("c", "d")])).is_empty());
    // The reference collector sees grouped imports and ignores comments and `$crate`.
    let refs = crate_refs(&code("use crate::{a::x, b::{y, z}};\n// crate::c\n$crate::d; crate::e::f; \
        let q = '\\''; let s = \"// crate::s\"; /* crate::t */ <'a, 'b> crate::g"));
    assert_eq!(refs.into_iter().collect::<Vec<_>>(), ["a", "b", "e", "g"]);
}

#[test]
fn no_source_file_is_over_600_lines() {
    let over: Vec<String> = all_sources().iter()
        .map(|(f, text)| (f, text.lines().count()))
        .filter(|(_, n)| *n > MAX_LINES)
        .map(|(f, n)| format!("  src/{f}: {n} lines")).collect();
    assert!(over.is_empty(), "files over {MAX_LINES} lines; split them by concern:\n{}",
        over.join("\n"));
}

#[test]
fn no_process_wide_mutable_state_outside_the_metrics_registry() {
    let mut found = Vec::new();
    for (file, text) in all_sources().iter().filter(|(f, _)| !f.starts_with("metrics/")) {
        let code = code(text);
        for (at, _) in code.match_indices("static") {
            let before = code[..at].chars().next_back();
            let after = code[at + 6..].chars().next();
            if before.is_some_and(|ch| is_ident(ch) || ch == '\'')
                || !after.is_some_and(char::is_whitespace) { continue; }
            let (mut name, mut end) = ident_at(&code, at + 6);
            let is_mut = name == "mut";
            if is_mut { (name, end) = ident_at(&code, end); }
            let rest = code[end..].trim_start();
            let Some(rest) = rest.strip_prefix(':') else { continue };
            let ty = &rest[..rest.find('=').or(rest.find(';')).unwrap_or(rest.len())];
            let ty = ty.split_whitespace().collect::<Vec<_>>().join(" ");
            let changeable = ty.replace("OnceCell", "Once");
            if is_mut || INTERIOR_MUTABILITY.iter().any(|m| changeable.contains(m)) {
                let n = code[..at].matches('\n').count() + 1;
                found.push(format!("  src/{file}:{n}: static {}{name}: {ty}", if is_mut { "mut " } else { "" }));
            }
        }
    }
    assert!(found.is_empty(),
        "mutable statics outside src/metrics/ (pass the state in, or register it in metrics):\n{}",
        found.join("\n"));
}
