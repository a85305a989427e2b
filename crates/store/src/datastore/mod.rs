//! The datastore: a typed table per distribution, loaded from ingested rows.
