//! pubdata's services: the operations the web UI, the API and the CLI share.
//! Each checks the policy, applies core's rules and writes through one store transaction
//! together with its audit event.

pub mod acceptance;
pub mod access;
pub mod accounts;
pub mod auth;
pub mod catalogue;
pub mod ckan;
pub mod corrections;
pub mod data_api;
pub mod demands;
pub mod download;
pub mod evaluation;
pub mod feedback;
pub mod ingest;
pub mod ingest_job;
pub mod interaction;
pub mod jobs;
pub mod lifecycle;
pub mod mail;
pub mod notices;
pub mod plans;
pub mod published;
pub mod quality;
pub mod regions;
pub mod resources;
pub mod screenshot;
mod secret;
pub mod security;
pub mod security_reports;
pub mod self_evaluation;
pub mod showcases;
pub mod statistics;

pub use pubdata_store::{Result, Store, StoreError};

use pubdata_core::policy::Actor;
use pubdata_store::AuditEntry;

/// Who is calling, for the policy and for the audit trail.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    /// The login (or `console`/`anonymous`) recorded in audit events.
    pub label: String,
    pub ip: Option<String>,
}

impl Caller {
    pub fn anonymous(ip: Option<String>) -> Self {
        Caller {
            actor: Actor::anonymous(),
            label: "anonymous".into(),
            ip,
        }
    }

    /// The operator running the `pubdata` command on the server.
    pub fn console() -> Self {
        let who = std::env::var("USER").unwrap_or_else(|_| "root".into());
        Caller {
            actor: Actor::console(),
            label: format!("console:{who}"),
            ip: None,
        }
    }

    pub(crate) fn audit<'a>(
        &'a self,
        action: &'a str,
        object_type: &'a str,
        object_id: impl ToString,
    ) -> AuditEntry<'a> {
        AuditEntry {
            actor_id: self.actor.user_id,
            actor: &self.label,
            client_ip: self.ip.as_deref(),
            action,
            object_type,
            object_id: object_id.to_string(),
            before: None,
            after: None,
        }
    }
}
