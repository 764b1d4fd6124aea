//! fallback (in progress).
