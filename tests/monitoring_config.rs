//! The monitoring files under `config/` against what the binary exports: every metric an alert
//! rule or a dashboard panel uses exists, `docs/operations.md` documents every exported metric,
//! and Prometheus's own `promtool` accepts the scrape config and the rules and passes the rules'
//! unit tests (`config/prometheus/alerts_test.yml`). And the documentation holds together: the
//! README stays a short front page, and every relative link in it and in `docs/*.md` leads to
//! a file (and heading) that exists.

use maxwell_ha::metrics::CATALOGUE;
use std::collections::BTreeSet;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `maxwell_*` identifier in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r"\bmaxwell_[a-z0-9_]+").unwrap();
    re.find_iter(text).map(|m| m.as_str().to_string()).collect()
}

fn exported(name: &str) -> bool {
    let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
    CATALOGUE.iter().any(|(n, _, _)| *n == name || *n == base)
}

#[test]
fn alert_rules_and_dashboard_use_only_exported_metrics() {
    for file in ["config/prometheus/alerts.yml", "config/grafana/maxwell-ha-dashboard.json"] {
        let names = metric_names(&read(file));
        assert!(names.len() >= 5, "{file} uses only {names:?}");
        let unknown: Vec<_> = names.iter().filter(|n| !exported(n)).collect();
        assert!(unknown.is_empty(), "{file} uses metrics the binary does not export: {unknown:?}");
    }
    let dash: serde_json::Value = serde_json::from_str(&read("config/grafana/maxwell-ha-dashboard.json")).unwrap();
    for p in dash["panels"].as_array().unwrap() {
        assert!(!p["targets"].as_array().unwrap().is_empty(), "panel {} has no query", p["title"]);
    }
}

#[test]
fn operations_page_documents_every_metric() {
    let page = read("docs/operations.md");
    for (name, _, _) in CATALOGUE {
        assert!(page.contains(&format!("| `{name}` |")), "docs/operations.md's metrics table does not document {name}");
    }
}

/// The README is the front door: at most this many lines, the rest lives under `docs/`.
const README_MAX_LINES: usize = 250;

#[test]
fn readme_is_short() {
    let lines = read("README.md").lines().count();
    assert!(lines <= README_MAX_LINES, "README.md has {lines} lines (at most {README_MAX_LINES}): move reference text to a page under docs/");
}

/// The markdown files whose links are checked: the README and every page under `docs/`.
fn documentation_pages() -> Vec<String> {
    let mut pages = vec!["README.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(format!("{ROOT}/docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    assert!(docs.len() >= 9, "docs/ has only {docs:?}");
    pages.extend(docs);
    pages
}

/// The lines of a markdown text outside fenced code blocks.
fn outside_code(text: &str) -> Vec<&str> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push(line);
        }
    }
    out
}

/// GitHub's anchors for the headings of a markdown text (`## Shards: every node …` →
/// `shards-every-node-…`; a repeated heading gets `-1`, `-2`, …).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for line in outside_code(text) {
        let Some(title) = line.strip_prefix('#').map(|t| t.trim_start_matches('#')).filter(|t| t.starts_with(' ')) else { continue };
        let mut slug = String::new();
        for c in title.trim().to_lowercase().chars() {
            match c {
                ' ' => slug.push('-'),
                '-' | '_' => slug.push(c),
                c if c.is_alphanumeric() => slug.push(c),
                _ => {}
            }
        }
        let mut unique = slug.clone();
        let mut n = 0;
        while seen.contains(&unique) {
            n += 1;
            unique = format!("{slug}-{n}");
        }
        seen.insert(unique);
    }
    seen
}

#[test]
fn documentation_links_lead_somewhere() {
    let link = regex::Regex::new(r#"\]\(([^)\s]+)\)|\bsrc="([^"]+)""#).unwrap();
    let mut checked = 0;
    let mut broken = Vec::new();
    for page in documentation_pages() {
        let text = read(&page);
        let dir = std::path::Path::new(&page).parent().unwrap().to_path_buf();
        for line in outside_code(&text) {
            for c in link.captures_iter(line) {
                let target = c.get(1).or_else(|| c.get(2)).unwrap().as_str();
                if target.starts_with("http://") || target.starts_with("https://") || target.starts_with("mailto:") {
                    continue;
                }
                if target.starts_with('/') {
                    broken.push(format!("{page}: {target} is not a relative link"));
                    continue;
                }
                let (path, fragment) = target.split_once('#').map_or((target, None), |(p, f)| (p, Some(f)));
                let file = if path.is_empty() { std::path::PathBuf::from(&page) } else { dir.join(path) };
                let full = std::path::Path::new(ROOT).join(&file);
                checked += 1;
                if !full.exists() {
                    broken.push(format!("{page}: {target} ({} does not exist)", file.display()));
                    continue;
                }
                if let Some(f) = fragment.filter(|_| full.extension().is_some_and(|e| e == "md")) {
                    if !anchors(&std::fs::read_to_string(&full).unwrap()).contains(f) {
                        broken.push(format!("{page}: {target} (no heading #{f} in {})", file.display()));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked >= 30, "only {checked} relative links found: is the link pattern still right?");
}

fn promtool(args: &[&str]) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(ROOT)
        .output()
        .expect("promtool not found: install Debian's `prometheus` package (scripts/test.sh does)");
    assert!(out.status.success(), "promtool {args:?}:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn promtool_accepts_config_rules_and_rule_tests() {
    promtool(&["check", "config", "config/prometheus/prometheus.yml"]);
    promtool(&["check", "rules", "config/prometheus/alerts.yml"]);
    promtool(&["test", "rules", "config/prometheus/alerts_test.yml"]);
}
