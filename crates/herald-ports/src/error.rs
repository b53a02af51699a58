//! The error every storage port returns. Callers branch on `Conflict` and `NotFound`;
//! everything else is an infrastructure failure carried with its cause.

/// A storage or broker failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated (e.g. a template name already used in the app).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row to update or delete does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The backend is shutting down or unreachable; the operation may be retried elsewhere.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// An argument the caller passed is not valid for this backend (e.g. a search cursor
    /// that no page handed out).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Stored data could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// Any other backend failure, with its cause.
    #[error("storage backend failed: {context}")]
    Backend {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    pub fn backend(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Backend {
            context: context.into(),
            source: Box::new(source),
        }
    }
}

/// An error and its chain of sources on one line, for logs and wrapped messages: many
/// clients' top-level message alone ("error sending request", "Broker operation failed")
/// says little.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        // Many errors repeat their source in their own message: say each part once.
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
