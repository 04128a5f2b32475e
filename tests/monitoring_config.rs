//! The monitoring files under `config/` against what the binary exports: every metric an alert
//! rule or a dashboard panel uses exists, the README documents every exported metric, and
//! Prometheus's own `promtool` accepts the scrape config and the rules and passes the rules'
//! unit tests (`config/prometheus/alerts_test.yml`).

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
fn readme_documents_every_metric() {
    let readme = read("README.md");
    for (name, _, _) in CATALOGUE {
        assert!(readme.contains(&format!("`{name}`")), "README.md does not document {name}");
    }
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
