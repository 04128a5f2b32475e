//! What an unknown configuration key is answered with: Maxwell's options that maxwell-ha does
//! not take, each with what to do instead, and the edit distance behind "did you mean".

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Maxwell's options that maxwell-ha does not take, with what to do instead (a user coming
/// from Maxwell gets this rather than a guess at a similarly spelled key).
pub(super) const MAXWELL_ONLY: &[(&str, &str)] = &[
    ("schema_ssl", "the schema is read from the replication connection: use replication_ssl (or ssl)"),
    ("schema_host", "the schema is read from the binlog's table maps and the replication connection: remove it"),
    ("schema_port", "the schema is read from the replication connection: remove it"),
    ("schema_user", "the schema is read from the replication connection: remove it"),
    ("schema_password", "the schema is read from the replication connection: remove it"),
    ("jdbc_options", "there is no JDBC here: remove it"),
    ("master_recovery", "remove it: a cluster resumes from its own checkpoint"),
    ("ignore_producer_error", "remove it: a row that cannot be delivered stops the leader (nothing is skipped)"),
    ("exclude_columns", "not available yet: remove it"),
    ("encrypt", "payload encryption is not available: remove it"),
    ("secret_key", "payload encryption is not available: remove it"),
    ("output_file", "use producer=stdout and redirect the output"),
    ("producer_ack_timeout", "use kafka.message.timeout.ms"),
    ("custom_producer.factory", "only producer=stdout and producer=kafka exist"),
    ("env_config_prefix", "pass settings as --key=value or in the config file"),
    ("daemon", "run it under a service manager instead"),
    ("metrics_prefix", "metric names are fixed (maxwell_*): remove it"),
    ("metrics_jvm", "there is no JVM: remove it"),
    ("metrics_slf4j_interval", "only metrics_type=http exists"),
    ("metrics_datadog_type", "only metrics_type=http exists"),
    ("kafka_partition_by", "renamed in Maxwell too: use producer_partition_by"),
    ("kafka_partition_columns", "renamed in Maxwell too: use producer_partition_columns"),
    ("kafka_partition_by_fallback", "renamed in Maxwell too: use producer_partition_by_fallback"),
    ("include_dbs", "use filter=exclude: *.*, include: DB.*"),
    ("exclude_dbs", "use filter=exclude: DB.*"),
    ("include_tables", "use filter=exclude: *.*, include: *.TABLE"),
    ("exclude_tables", "use filter=exclude: *.TABLE"),
    ("blacklist_dbs", "use filter=blacklist: DB.*"),
    ("blacklist_tables", "use filter=blacklist: *.TABLE"),
    ("include_column_values", "use filter=include: DB.TABLE.COLUMN=VALUE"),
];

