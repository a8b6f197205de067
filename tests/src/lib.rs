//! End-to-end tests across functions live in `tests/`; this library holds their shared helpers.
