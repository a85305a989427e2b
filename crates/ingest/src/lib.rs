//! Ingest: reading uploaded files as streams of rows, profiling, auditing and masking them.
