//! Shared helpers of the end-to-end and interop tests.
