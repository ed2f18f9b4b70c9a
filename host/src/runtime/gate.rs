//! The credential gate: the host side of `get-credential`.
//!
//! A request passes three checks in a fixed order: the name is valid, the
//! manifest declares it, and only then is the vault read. A request refused by
//! either of the first two checks never reaches the vault, so its result
//! reveals nothing about what the vault contains.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use secrecy::SecretString;
use tokio::sync::OnceCell;

use crate::audit::{AuditLog, AuditRecord, MAX_RECORDED_REFUSALS};
use crate::manager::blocking;
use crate::metadata::{MetadataIndex, Timestamp};
use super::output::Secrets;
use crate::name::{CredentialName, InvalidName};
use crate::store::{OpenedStore, StoreConfig, StoreError, Vault, open_store};

/// The source of the gate's vault.
#[derive(Clone)]
pub enum VaultSource {
    /// An open vault.
    Ready(Vault),
    /// A vault opened on the first request that passes the checks, so that
    /// runs reading no credential never connect to a keychain.
    Lazy(StoreConfig),
}

/// A function that shows a one-line notice to the person running the app.
pub type NoticeSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Everything a run's credential gate needs besides the manifest.
#[derive(Clone)]
pub struct CredentialAccess {
    /// The store of the credential values.
    pub source: VaultSource,
    /// The metadata file of a [`VaultSource::Ready`] vault, for expiry and
    /// last-use times; `None` skips both. A lazily opened store brings its
    /// own metadata file.
    pub metadata: Option<MetadataIndex>,
    /// The sink for notices about the store choice.
    pub notice: NoticeSink,
    /// The audit log and the component's hash; `None` records nothing.
    pub audit: Option<AuditTarget>,
}

/// The destination of a run's audit records.
#[derive(Clone)]
pub struct AuditTarget {
    /// The log.
    pub log: Arc<AuditLog>,
    /// The SHA-256 of the running component, in hex.
    pub component_sha256: String,
}

/// The reason a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The name is not a valid credential name.
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    /// The manifest does not declare the name.
    #[error("the manifest does not declare {0}")]
    NotDeclared(CredentialName),
    /// The vault has no value for the declared name.
    #[error("the vault has no value for {0}")]
    NotFound(CredentialName),
    /// The credential's expiry time has passed.
    #[error("{0} expired at {1}")]
    Expired(CredentialName, Timestamp),
    /// The vault could not be opened or read.
    #[error("the vault is unavailable: {detail}")]
    Unavailable {
        /// The full message for the person running lahat.
        detail: String,
        /// A summary for the guest, without paths or other host details.
        summary: &'static str,
    },
}

impl Refusal {
    /// Returns a short label for logs and audit records.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidName(_) => "invalid-name",
            Self::NotDeclared(_) => "not-declared",
            Self::NotFound(_) => "not-found",
            Self::Expired(..) => "expired",
            Self::Unavailable { .. } => "unavailable",
        }
    }
}

/// The per-run state that handles `get-credential`.
pub struct CredentialGate {
    app_id: String,
    declared: BTreeSet<CredentialName>,
    access: CredentialAccess,
    opened: OnceCell<Result<(Vault, Option<MetadataIndex>), (String, &'static str)>>,
    // Names whose use this run already recorded, so a guest that reads a
    // credential in a loop costs one metadata write, not one per read.
    recorded: Mutex<BTreeSet<CredentialName>>,
    audited_refusals: AtomicU64,
    // Values delivered in this run, masked in the names that audit records
    // quote: an app could otherwise ask for a value as if it were a name.
    delivered: Secrets,
}

impl CredentialGate {
    /// Creates a gate for `app_id` that allows exactly the `declared` names.
    pub fn new(app_id: String, declared: BTreeSet<CredentialName>, access: CredentialAccess) -> Self {
        Self {
            app_id,
            declared,
            access,
            opened: OnceCell::new(),
            recorded: Mutex::new(BTreeSet::new()),
            audited_refusals: AtomicU64::new(0),
            delivered: Secrets::default(),
        }
    }

    /// Masks the values in `delivered` wherever audit records quote a
    /// requested name.
    pub(crate) fn mask_delivered(&mut self, delivered: Secrets) {
        self.delivered = delivered;
    }

    /// Resolves a guest's request for `raw_name`.
    ///
    /// # Errors
    ///
    /// Returns the [`Refusal`] of the first check that fails.
    pub async fn resolve(&self, raw_name: &str) -> Result<SecretString, Refusal> {
        let outcome = self.check_and_read(raw_name).await;
        let outcome = self.audit(raw_name, outcome).await;
        if outcome.is_ok()
            && let Ok(name) = CredentialName::parse(raw_name)
            && let Ok((_, metadata)) = self.vault().await
        {
            self.record_use(metadata, &name).await;
        }
        outcome
    }

    /// Records `outcome` in the audit log, and turns a delivery that cannot be
    /// recorded into a refusal.
    async fn audit(
        &self,
        raw_name: &str,
        outcome: Result<SecretString, Refusal>,
    ) -> Result<SecretString, Refusal> {
        let Some(audit) = &self.access.audit else {
            return outcome;
        };
        if outcome.is_err() && self.audited_refusals.fetch_add(1, Ordering::SeqCst) >= MAX_RECORDED_REFUSALS {
            return outcome;
        }
        let credential = match &outcome {
            Err(Refusal::InvalidName(err)) => self.delivered.mask_text(err.quoted_value()),
            _ => self.delivered.mask_text(raw_name),
        };
        let record = AuditRecord {
            time: Timestamp::now(),
            app: self.app_id.clone(),
            component_sha256: audit.component_sha256.clone(),
            credential,
            outcome: match &outcome {
                Ok(_) => "delivered".to_owned(),
                Err(refusal) => refusal.kind().to_owned(),
            },
            count: None,
        };
        let log = Arc::clone(&audit.log);
        let written = tokio::task::spawn_blocking(move || log.append(&record))
            .await
            .map_err(std::io::Error::other)
            .and_then(|result| result);
        match (outcome, written) {
            (outcome, Ok(())) => outcome,
            // The value is withheld when its delivery cannot be recorded.
            (Ok(_value), Err(err)) => Err(Refusal::Unavailable {
                detail: format!("cannot write the audit log {}: {err}", audit.log.path().display()),
                summary: "the host cannot record the access, so it withheld the credential",
            }),
            (Err(refusal), Err(err)) => {
                tracing::warn!(app = %self.app_id, path = %audit.log.path().display(), error = %err, "cannot write the audit log record of a refused request");
                Err(refusal)
            }
        }
    }

    /// Records how many refused requests went over the per-run limit, if
    /// any; called once when the run ends.
    pub fn finish_audit(&self) {
        let Some(audit) = &self.access.audit else {
            return;
        };
        let refused = self.audited_refusals.load(Ordering::SeqCst);
        if refused <= MAX_RECORDED_REFUSALS {
            return;
        }
        let record = AuditRecord {
            time: Timestamp::now(),
            app: self.app_id.clone(),
            component_sha256: audit.component_sha256.clone(),
            credential: String::new(),
            outcome: "refusals-not-recorded".to_owned(),
            count: Some(refused - MAX_RECORDED_REFUSALS),
        };
        if let Err(err) = audit.log.append(&record) {
            tracing::warn!(app = %self.app_id, error = %err, "cannot write the audit log summary of refused requests");
        }
    }

    async fn check_and_read(&self, raw_name: &str) -> Result<SecretString, Refusal> {
        let name = CredentialName::parse(raw_name)?;
        if !self.declared.contains(&name) {
            return Err(Refusal::NotDeclared(name));
        }
        let (vault, metadata) = self.vault().await?;
        check_expiry(metadata, &name).await?;
        match vault.get(&name).await {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(Refusal::NotFound(name)),
            Err(err) => Err(unavailable(&err)),
        }
    }

    async fn record_use(&self, metadata: &Option<MetadataIndex>, name: &CredentialName) {
        let Some(index) = metadata.clone() else {
            return;
        };
        let first_use = self
            .recorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.clone());
        if !first_use {
            return;
        }
        let (key, app) = (name.clone(), self.app_id.clone());
        let now = Timestamp::now();
        let result = blocking(move || {
            index.update(move |map| {
                if let Some(entry) = map.get_mut(&key) {
                    entry.last_used.insert(app, now);
                }
                Ok(())
            })
        })
        .await;
        if let Err(err) = result {
            tracing::warn!(app = %self.app_id, credential = %name, error = %err, "cannot record the credential's last use");
        }
    }

    /// Returns the app this gate serves.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    async fn vault(&self) -> Result<&(Vault, Option<MetadataIndex>), Refusal> {
        // A failure to open is kept too, so a guest that retries in a loop
        // does not wait for the keychain timeout on every call.
        let opened = self
            .opened
            .get_or_init(|| async {
                match &self.access.source {
                    VaultSource::Ready(vault) => Ok((vault.clone(), self.access.metadata.clone())),
                    VaultSource::Lazy(config) => match open_store(config).await {
                        Ok(OpenedStore { vault, metadata, notice }) => {
                            if let Some(notice) = notice {
                                (self.access.notice)(&notice);
                            }
                            Ok((vault, Some(metadata)))
                        }
                        Err(err) => Err((err.to_string(), summarize(&err))),
                    },
                }
            })
            .await;
        opened.as_ref().map_err(|(detail, summary)| Refusal::Unavailable {
            detail: detail.clone(),
            summary,
        })
    }
}

async fn check_expiry(metadata: &Option<MetadataIndex>, name: &CredentialName) -> Result<(), Refusal> {
    let Some(index) = metadata.clone() else {
        return Ok(());
    };
    // Without the metadata the expiry is unknown, so the request fails
    // instead of risking delivery of an expired credential.
    let entries = blocking(move || index.load()).await.map_err(|err| unavailable(&err))?;
    match entries.get(name).and_then(|entry| entry.expires) {
        Some(expires) if expires <= Timestamp::now() => Err(Refusal::Expired(name.clone(), expires)),
        _ => Ok(()),
    }
}

fn unavailable(err: &StoreError) -> Refusal {
    Refusal::Unavailable {
        detail: err.to_string(),
        summary: summarize(err),
    }
}

/// Summarizes a store failure for the guest, leaving out paths and other
/// details of the host.
fn summarize(err: &StoreError) -> &'static str {
    match err {
        StoreError::Unavailable(_) => "the credential store is not reachable; the user must start it or choose another store",
        StoreError::Locked(_) => "the credential store is locked; the user must unlock it",
        StoreError::TimedOut(_) => "the credential store did not answer in time",
        StoreError::Corrupt(_) => "the stored value is damaged; the user must store it again",
        StoreError::Rejected(_) => "the credential store rejected the request",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::ExposeSecret;

    use super::*;
    use crate::store::{CredentialStore, MemoryStore};

    fn gate_with(store: Arc<MemoryStore>, declared: &[&str]) -> CredentialGate {
        let declared = declared.iter().map(|raw| CredentialName::parse(raw).unwrap()).collect();
        let vault = Vault::new(store, Duration::from_secs(5));
        let access = CredentialAccess {
            source: VaultSource::Ready(vault),
            metadata: None,
            notice: Arc::new(|_| {}),
            audit: None,
        };
        CredentialGate::new("test-app".to_owned(), declared, access)
    }

    fn store_with(values: &[(&str, &str)]) -> Arc<MemoryStore> {
        let store = Arc::new(MemoryStore::new());
        for (name, value) in values {
            store
                .set(&CredentialName::parse(name).unwrap(), &SecretString::from(*value))
                .unwrap();
        }
        store
    }

    #[tokio::test]
    async fn declared_name_is_delivered() {
        let store = store_with(&[("demo.greeting", "hello")]);
        let gate = gate_with(store, &["demo.greeting"]);
        let value = gate.resolve("demo.greeting").await.unwrap();
        assert_eq!(value.expose_secret(), "hello");
    }

    #[tokio::test]
    async fn undeclared_name_never_reaches_store() {
        let store = store_with(&[("demo.greeting", "hello"), ("demo.secret", "canary")]);
        let gate = gate_with(Arc::clone(&store), &["demo.greeting"]);
        let refusal = gate.resolve("demo.secret").await.unwrap_err();
        assert!(matches!(refusal, Refusal::NotDeclared(_)), "{refusal}");
        assert_eq!(store.read_count(), 0);
    }

    #[tokio::test]
    async fn bypass_attempts_never_reach_store() {
        let store = store_with(&[("demo.greeting", "hello")]);
        let gate = gate_with(Arc::clone(&store), &["demo.greeting"]);
        let huge = "demo.".to_owned() + &"g".repeat(1 << 20);
        let attempts = [
            "DEMO.greeting",
            "Demo.Greeting",
            "demo.greeting ",
            " demo.greeting",
            "demo.greeting\n",
            "demo.greeting\0",
            "demo.greeting\0.extra",
            "demo.gr\u{435}eting",
            "demo\u{2024}greeting",
            "demo.greeting\u{200b}",
            "demo.*",
            "*",
            "demo.%",
            "demo.greeting/..",
            "",
            huge.as_str(),
        ];
        for attempt in attempts {
            let refusal = gate.resolve(attempt).await.unwrap_err();
            assert!(
                matches!(refusal, Refusal::InvalidName(_)),
                "{:?} gave {refusal}",
                attempt.chars().take(40).collect::<String>()
            );
        }
        assert_eq!(store.read_count(), 0);
    }

    #[tokio::test]
    async fn declared_but_unset_is_not_found() {
        let store = store_with(&[]);
        let gate = gate_with(Arc::clone(&store), &["demo.unset"]);
        let refusal = gate.resolve("demo.unset").await.unwrap_err();
        assert!(matches!(refusal, Refusal::NotFound(_)), "{refusal}");
        assert_eq!(store.read_count(), 1);
    }

    #[tokio::test]
    async fn store_failure_is_unavailable() {
        let store = store_with(&[("demo.greeting", "hello")]);
        store.fail_with(Some("keychain daemon stopped"));
        let gate = gate_with(store, &["demo.greeting"]);
        let refusal = gate.resolve("demo.greeting").await.unwrap_err();
        assert!(matches!(refusal, Refusal::Unavailable { .. }), "{refusal}");
        assert!(refusal.to_string().contains("keychain daemon stopped"), "{refusal}");
    }
}
