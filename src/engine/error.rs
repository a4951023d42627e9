//! Engine errors, and the error codes of SPEC section 4. `ErrorCode::as_str` is the only
//! place where the wire strings of the codes live.

use serde::{Deserialize, Serialize};

/// SPEC section 4, one variant per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    MalformedMessage,
    InvalidRequest,
    ValidationFailed,
    InvalidForeignKey,
    WebhookVersionMismatch,
    ForbiddenOperation,
    Conflict,
    NotFound,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedMessage => "MALFORMED_MESSAGE",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::ValidationFailed => "VALIDATION_FAILED",
            ErrorCode::InvalidForeignKey => "INVALID_FOREIGN_KEY",
            ErrorCode::WebhookVersionMismatch => "WEBHOOK_VERSION_MISMATCH",
            ErrorCode::ForbiddenOperation => "FORBIDDEN_OPERATION",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// SPEC section 4, last column: every error but NOT_FOUND is dead-lettered.
    pub fn dead_letters(self) -> bool {
        self != ErrorCode::NotFound
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One offending field (or block) of a request: an entry of the error reply's `details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    pub block: String,
    /// Position in a child block's array (`customeruser[1]`), when the block is an array.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub field: String,
    /// The value as sent (JSON), or the code concerned.
    pub value: serde_json::Value,
    /// What is wrong, for a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For INVALID_FOREIGN_KEY: `table.column` the value must name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub references: Option<String>,
}

impl FieldError {
    pub fn new(
        block: &str,
        field: &str,
        value: serde_json::Value,
        message: impl Into<String>,
    ) -> Self {
        FieldError {
            block: block.to_string(),
            index: None,
            field: field.to_string(),
            value,
            message: Some(message.into()),
            references: None,
        }
    }

    pub fn at(mut self, index: Option<usize>) -> Self {
        self.index = index;
        self
    }
}

/// Why the engine did not apply a request.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("{} field(s) failed validation: {}", .0.len(), summary(.0))]
    Validation(Vec<FieldError>),
    #[error("{} foreign key(s) name no existing row: {}", .0.len(), summary(.0))]
    InvalidForeignKey(Vec<FieldError>),
    #[error("webhook version mismatch: {0}")]
    VersionMismatch(String),
    #[error("forbidden operation: {0}")]
    Forbidden(String),
    #[error("conflict: {message}")]
    Conflict {
        message: String,
        details: Vec<FieldError>,
    },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("database fault: {0}")]
    Database(#[source] sqlx::Error),
}

fn summary(errors: &[FieldError]) -> String {
    let names: Vec<String> = errors
        .iter()
        .map(|e| match e.index {
            Some(i) => format!("{}[{}].{}", e.block, i, e.field),
            None => format!("{}.{}", e.block, e.field),
        })
        .collect();
    names.join(", ")
}

impl EngineError {
    /// The SPEC section 4 code. A database fault only reaches a reply as INTERNAL, once it
    /// has outlived its retries and the delivery limit (the pipeline decides that).
    pub fn code(&self) -> ErrorCode {
        match self {
            EngineError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            EngineError::Validation(_) => ErrorCode::ValidationFailed,
            EngineError::InvalidForeignKey(_) => ErrorCode::InvalidForeignKey,
            EngineError::VersionMismatch(_) => ErrorCode::WebhookVersionMismatch,
            EngineError::Forbidden(_) => ErrorCode::ForbiddenOperation,
            EngineError::Conflict { .. } => ErrorCode::Conflict,
            EngineError::NotFound(_) => ErrorCode::NotFound,
            EngineError::Database(_) => ErrorCode::Internal,
        }
    }

    /// Every offending field, for the reply's `details`.
    pub fn details(&self) -> &[FieldError] {
        match self {
            EngineError::Validation(d) | EngineError::InvalidForeignKey(d) => d,
            EngineError::Conflict { details, .. } => details,
            _ => &[],
        }
    }

    /// A fault that may pass if the same request is tried again (SPEC section 6): lost
    /// connection, serialization failure, deadlock, pool timeout, server shutting down.
    pub fn is_transient(&self) -> bool {
        match self {
            EngineError::Database(e) => is_transient_sqlx(e),
            _ => false,
        }
    }
}

pub fn is_transient_sqlx(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => match db.code() {
            // serialization_failure, deadlock_detected, admin/crash shutdown,
            // cannot_connect_now, connection exceptions (class 08), too_many_connections.
            Some(code) => {
                matches!(
                    code.as_ref(),
                    // 55P03 lock_not_available: a lock_timeout, contention that passes.
                    "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03" | "53300"
                ) || code.starts_with("08")
            }
            None => false,
        },
        _ => false,
    }
}

impl From<sqlx::Error> for EngineError {
    fn from(e: sqlx::Error) -> Self {
        EngineError::Database(e)
    }
}
