//! bulkhead (in progress).
