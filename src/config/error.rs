//! [`ConfigError`]: why `serve`'s configuration was refused.

use std::path::PathBuf;

/// Why `serve`'s configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read `{}`: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration file `{}`: {message}", path.display())]
    ParseFile { path: PathBuf, message: String },
    #[error("`{key}` (--{flag}) {problem}", flag = key.replace('_', "-"))]
    Invalid { key: &'static str, problem: String },
}

impl ConfigError {
    pub(super) fn invalid(key: &'static str, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key,
            problem: problem.into(),
        }
    }
}
