//! Maxwell's routing settings as plain data: the topic, the DDL topic, what a row's partition
//! is chosen by (`producer_partition_by`, its fallback and columns), the hash function and
//! the key format. The sink (`sink/partition.rs`) routes rows with them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionBy {
    Database,
    Table,
    PrimaryKey,
    TransactionId,
    /// The client thread that ran the transaction (newer Maxwell's `thread_id`).
    ThreadId,
    Column,
    Random,
}

impl PartitionBy {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "database" => Self::Database,
            "table" => Self::Table,
            "primary_key" => Self::PrimaryKey,
            "transaction_id" => Self::TransactionId,
            "thread_id" => Self::ThreadId,
            "column" => Self::Column,
            "random" => Self::Random,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFn {
    Default,
    Murmur3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    Hash,
    Array,
}

#[derive(Debug, Clone)]
pub struct Routing {
    pub topic: String,
    pub ddl_topic: String,
    pub by: PartitionBy,
    pub fallback: PartitionBy,
    pub columns: Vec<String>,
    pub hash: HashFn,
    pub key_format: KeyFormat,
}

