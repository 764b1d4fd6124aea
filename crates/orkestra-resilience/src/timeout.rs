//! timeout (in progress).
