//! The audit chain: every state change is an event whose hash covers the previous event's
//! hash and its own canonical form, so an edited, inserted or deleted row breaks the chain.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit event as stored (without its own hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at_ms: i64,
    pub actor_id: Option<i64>,
    /// A readable name of the actor: a login, `system` or `cli:<user>`.
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    /// JSON summaries of the object before and after the change.
    pub before: Option<String>,
    pub after: Option<String>,
    pub client_ip: Option<String>,
}

/// sha256(prev_hash ‖ canonical record), hex. The canonical form is the JSON array of the
/// fields in a fixed order, which is unambiguous and the same on every backend.
pub fn chain_hash(prev_hash: &str, r: &AuditRecord) -> String {
    let canonical = serde_json::to_string(&(
        r.seq,
        r.at_ms,
        r.actor_id,
        &r.actor,
        &r.action,
        &r.object_type,
        &r.object_id,
        &r.before,
        &r.after,
        &r.client_ip,
    ))
    .expect("tuples of plain values always serialise");
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

/// A stored event with the hashes it was written with.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub record: AuditRecord,
    pub prev_hash: String,
    pub hash: String,
}

/// Why verification stopped, naming the first broken row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// A row's content no longer matches its hash (it was edited).
    Altered { seq: i64 },
    /// A row does not link to the one before it (rows between were deleted or inserted).
    Unlinked { seq: i64 },
    /// Sequence numbers skip (a row was deleted).
    Gap { expected: i64, found: i64 },
    /// The chain ends before the recorded head (rows were deleted from the end).
    Truncated { head_seq: i64, last_seq: i64 },
}

/// Incremental verifier, so the store can stream millions of rows through it.
pub struct Verifier {
    expected_seq: i64,
    prev_hash: String,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            expected_seq: 1,
            prev_hash: GENESIS.to_string(),
        }
    }
}

impl Verifier {
    pub fn push(&mut self, e: &StoredEvent) -> Result<(), ChainBreak> {
        let seq = e.record.seq;
        if seq != self.expected_seq {
            return Err(ChainBreak::Gap {
                expected: self.expected_seq,
                found: seq,
            });
        }
        if e.prev_hash != self.prev_hash {
            return Err(ChainBreak::Unlinked { seq });
        }
        if chain_hash(&e.prev_hash, &e.record) != e.hash {
            return Err(ChainBreak::Altered { seq });
        }
        self.expected_seq += 1;
        self.prev_hash = e.hash.clone();
        Ok(())
    }

    /// Compares the end of the chain with the head the store keeps beside it.
    pub fn finish(&self, head_seq: i64, head_hash: &str) -> Result<i64, ChainBreak> {
        let last_seq = self.expected_seq - 1;
        if last_seq != head_seq || self.prev_hash != head_hash {
            return Err(ChainBreak::Truncated { head_seq, last_seq });
        }
        Ok(last_seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<StoredEvent> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let record = AuditRecord {
                    seq,
                    at_ms: 1_700_000_000_000 + seq,
                    actor_id: Some(1),
                    actor: "root".into(),
                    action: "org.create".into(),
                    object_type: "organisation".into(),
                    object_id: seq.to_string(),
                    before: None,
                    after: Some(format!("{{\"name\":\"机构{seq}\"}}")),
                    client_ip: Some("127.0.0.1".into()),
                };
                let hash = chain_hash(&prev, &record);
                let e = StoredEvent {
                    record,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    fn verify(events: &[StoredEvent], head: (i64, &str)) -> Result<i64, ChainBreak> {
        let mut v = Verifier::default();
        for e in events {
            v.push(e)?;
        }
        v.finish(head.0, head.1)
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify(&c, (5, &c[4].hash)), Ok(5));
    }

    #[test]
    fn edits_deletions_and_truncation_are_found() {
        let c = chain(5);
        let head = (5, c[4].hash.clone());
        let mut edited = c.clone();
        edited[2].record.after = Some("{\"name\":\"篡改\"}".into());
        assert_eq!(verify(&edited, (head.0, &head.1)), Err(ChainBreak::Altered { seq: 3 }));

        let mut deleted = c.clone();
        deleted.remove(1);
        assert_eq!(
            verify(&deleted, (head.0, &head.1)),
            Err(ChainBreak::Gap { expected: 2, found: 3 })
        );

        // Renumbering after a deletion still leaves the link broken.
        let mut renumbered = deleted.clone();
        for (i, e) in renumbered.iter_mut().enumerate() {
            e.record.seq = i as i64 + 1;
        }
        assert_eq!(
            verify(&renumbered, (head.0, &head.1)),
            Err(ChainBreak::Unlinked { seq: 2 })
        );

        assert_eq!(
            verify(&c[..4], (head.0, &head.1)),
            Err(ChainBreak::Truncated {
                head_seq: 5,
                last_seq: 4
            })
        );
    }
}
