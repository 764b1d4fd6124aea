//! degradation (in progress).
