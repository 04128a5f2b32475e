//! Maxwell's `output_*` switches and encode options as plain data; the encoder (`encode/`)
//! writes by them.

use super::encode::{Encryption, ExcludeColumns};
use super::newer::NamingStrategy;

/// Maxwell's `output_*` switches.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub binlog_position: bool,
    /// `output_resume_position`: each row also carries where its transaction ends.
    pub resume_position: bool,
    pub gtid_position: bool,
    pub commit_info: bool,
    pub xoffset: bool,
    pub nulls: bool,
    pub server_id: bool,
    pub thread_id: bool,
    pub primary_keys: bool,
    pub primary_key_columns: bool,
    pub row_query: bool,
    /// `row_query_max_length`: `query` keeps this many characters (0: all).
    pub row_query_max_length: usize,
    pub ddl: bool,
    pub null_zerodates: bool,
    /// Collect `RowMeta` per row (keys and partitions need it; stdout does not).
    pub row_meta: bool,
    /// Columns whose values `producer_partition_by=column` hashes.
    pub partition_columns: Vec<String>,
    /// `output_schema_id`.
    pub schema_id: bool,
    /// `exclude_columns`.
    pub exclude_columns: ExcludeColumns,
    /// `encrypt` with `secret_key` (`None`: `encrypt=none`).
    pub encrypt: Option<Encryption>,
    /// `output_push_timestamp`: rows carry `push_ts`, stamped by the sink (by the encoder
    /// with `encrypt=all`).
    pub push_timestamp: bool,
    /// `output_naming_strategy`.
    pub naming: NamingStrategy,
}

impl OutputConfig {
    /// Whether the sink stamps `push_ts` on rows as it hands them on (`Some`: with these
    /// names); with `encrypt=all` the encoder does, inside the encrypted record.
    pub fn push_ts_by_sink(&self) -> Option<NamingStrategy> {
        let all = self.encrypt.as_ref().is_some_and(|e| e.mode == super::encode::EncryptMode::All);
        (self.push_timestamp && !all).then_some(self.naming)
    }
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            binlog_position: false,
            resume_position: false,
            gtid_position: false,
            commit_info: true,
            xoffset: false,
            nulls: true,
            server_id: false,
            thread_id: false,
            primary_keys: false,
            primary_key_columns: false,
            row_query: false,
            row_query_max_length: 0,
            ddl: false,
            null_zerodates: false,
            row_meta: false,
            partition_columns: Vec::new(),
            schema_id: false,
            exclude_columns: ExcludeColumns::default(),
            encrypt: None,
            push_timestamp: false,
            naming: NamingStrategy::None,
        }
    }
}

