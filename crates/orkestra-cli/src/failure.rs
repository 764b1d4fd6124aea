//! [`Failure`]: an error with the exit code it ends the process with.

use std::fmt;
use std::process::ExitCode;

/// Why a command failed, and which exit code says so (the table is in `orkestra --help`).
pub(crate) struct Failure {
    /// 1 for a runtime failure, 2 for a usage or configuration error.
    pub(crate) code: u8,
    /// What went wrong.
    pub(crate) error: anyhow::Error,
}

impl Failure {
    /// The exit code of a runtime failure.
    pub(crate) const RUNTIME: u8 = 1;
    /// The exit code of a usage or configuration error.
    pub(crate) const USAGE: u8 = 2;

    /// A usage or configuration error: the user has to change the command or a file.
    pub(crate) fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: Self::USAGE,
            error: error.into(),
        }
    }

    /// A runtime failure: the same command may work later.
    pub(crate) fn runtime(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: Self::RUNTIME,
            error: error.into(),
        }
    }

    /// The process exit code.
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

/// Any other error is a runtime failure, so `?` does the common thing.
impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Self::runtime(error)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {}: {:#}", self.code, self.error)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}
