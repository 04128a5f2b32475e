//! `maxwell`: one node. Reads Maxwell's config keys from `--config FILE` and `--key=value`.

use maxwell_ha::config::Config;
use maxwell_ha::metrics::{self, Role};
use tokio_util::sync::CancellationToken;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: maxwell [--config=FILE] [--key=value ...]\nkeys: see config/config.properties.example or docs/configuration.md\n--print-example-config: print the example file; --print-config-reference: print docs/configuration.md");
        return std::process::ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--print-example-config") {
        print!("{}", maxwell_ha::config::example_file());
        return std::process::ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--print-config-reference") {
        print!("{}", maxwell_ha::config::reference_markdown());
        return std::process::ExitCode::SUCCESS;
    }
    let args: Vec<String> = normalise(args);
    let cfg = match Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("maxwell: configuration error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // A script that does not compile is a configuration error, named by file and line.
    if let Some(e) = cfg.javascript.as_ref().and_then(|js| maxwell_ha::encode::javascript::Script::check(js).err()) {
        eprintln!("maxwell: configuration error: {e}");
        return std::process::ExitCode::from(2);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| cfg.log_level.clone().into()))
        .init();
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    rt.block_on(async move {
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            tracing::info!("shutdown requested; stopping at the next transaction boundary");
            c2.cancel();
        });
        let http_stop = CancellationToken::new();
        let _http_guard = http_stop.clone().drop_guard();
        let series = std::sync::Arc::new(maxwell_ha::metrics::series::Series::default());
        let membership = maxwell_ha::cluster::Membership::default();
        tokio::spawn(maxwell_ha::metrics::sample_resources(http_stop.clone(), series.clone()));
        // Maxwell's reporters, under Maxwell's names.
        let names = metrics::maxwell::Names { prefix: cfg.metrics.prefix.clone(), age_slo: cfg.metrics.age_slo.is_some(), inflight: cfg.kafka.is_some() };
        metrics::get().set_age_slo(cfg.metrics.age_slo);
        if let Some(every) = cfg.metrics.slf4j_interval {
            tokio::spawn(metrics::reporters::slf4j(names.clone(), every, http_stop.clone()));
        }
        if let Some(d) = cfg.metrics.datadog.clone() {
            let to = metrics::reporters::DogStatsd { host: d.host, port: d.port, interval: d.interval, tags: d.tags };
            tokio::spawn(metrics::reporters::datadog(names.clone(), to, http_stop.clone()));
        }
        if let Some(h) = cfg.http.clone() {
            match maxwell_ha::http::bind(&h).await {
                Ok(l) => {
                    let ctx = maxwell_ha::http::Context {
                        series,
                        bootstrap_table: Some((cfg.positions_db.clone(), cfg.schema_database.clone())),
                        cluster: membership.clone(),
                        names,
                        diagnostic: maxwell_ha::http::diagnostic::Checks::new(&cfg),
                        config: cfg.http_config.then(|| cfg.settings.get("filter").map(str::to_string)),
                    };
                    tokio::spawn(maxwell_ha::http::serve(l, h, ctx, http_stop.clone()));
                }
                Err(e) => {
                    eprintln!("maxwell: configuration error: {e}");
                    return std::process::ExitCode::from(2);
                }
            }
        }
        let describe = |p: &Option<maxwell_ha::binlog::position::ResumePoint>| match p {
            Some(p) => format!("{} gtid={}", p.position, p.gtid.as_ref().map(|g| g.to_string()).unwrap_or_default()),
            None => "none (nothing written)".to_string(),
        };
        if let Some(ha) = cfg.ha.clone() {
            return match maxwell_ha::cluster::run(&cfg, &ha, cancel, &membership).await {
                Ok(()) => {
                    tracing::info!("stopped");
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => {
                    tracing::error!("stopped: {e}");
                    eprintln!("maxwell: {e}");
                    std::process::ExitCode::FAILURE
                }
            };
        }
        metrics::set_role(Role::Single, "streaming alone (no zookeeper_servers)");
        let result = maxwell_ha::node::run(&cfg, cancel).await;
        if let Err((e, _)) = &result {
            metrics::set_error(&e.to_string());
        }
        metrics::set_role(Role::Stopped, if result.is_ok() { "shutdown requested" } else { "stopped on an error" });
        match result {
            Ok(last) => {
                tracing::info!(last_position = %describe(&last), "stopped");
                std::process::ExitCode::SUCCESS
            }
            Err((e, last)) => {
                tracing::error!(last_position = %describe(&last), "stopped: {e}");
                eprintln!("maxwell: {e} (last written position: {})", describe(&last));
                std::process::ExitCode::FAILURE
            }
        }
    })
}

/// Accepts Maxwell's `--key value` form as well as `--key=value`.
fn normalise(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.into_iter().peekable();
    while let Some(a) = it.next() {
        if a.starts_with("--") && !a.contains('=') {
            if let Some(v) = it.next_if(|n| !n.starts_with("--")) {
                out.push(format!("{a}={v}"));
                continue;
            }
        }
        out.push(a);
    }
    out
}
