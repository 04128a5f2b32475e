//! Where the HTTP endpoints listen, as plain data; the server (`http/`) binds by it.

/// Where the HTTP endpoints listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub bind: String,
    pub port: u16,
    /// Always starts and ends with `/`.
    pub prefix: String,
    /// `http_admin_token`: allows the actions (POST); none: actions are refused.
    pub admin_token: Option<String>,
}

impl HttpConfig {
    /// The address other members use to reach this node (`host:port`).
    pub fn advertised(&self) -> String {
        let host = if self.bind == "0.0.0.0" || self.bind == "::" { super::hostname() } else { self.bind.clone() };
        format!("{host}:{}", self.port)
    }
}

