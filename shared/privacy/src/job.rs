//! The scheduled privacy run (hourly, and the operator command): purge what is due, fulfil
//! recorded privacy requests, resume unfinished account cancellations.

use std::sync::Arc;

use serde::Serialize;

use crate::{
    AccountCancellation, ComplianceReport, ComplianceRequests, PrivacyError, PurgeLimits,
    PurgeProgress, PurgeReport, Purger,
};

/// Requests fulfilled per run.
const REQUESTS_PER_RUN: usize = 100;
/// Partition items (and data keys) one cancellation may remove per run.
const CANCELLATION_BUDGET: usize = 20_000;

#[derive(Debug, Clone, Serialize)]
pub struct PrivacyRunReport {
    pub purge: PurgeReport,
    pub requests: ComplianceReport,
    /// Cancellations advanced: (merchant, "in_progress" | "cancelled").
    pub cancellations: Vec<(String, String)>,
}

pub struct PrivacyRun {
    purger: Arc<Purger>,
    compliance: Arc<ComplianceRequests>,
    cancellation: Arc<AccountCancellation>,
}

impl PrivacyRun {
    pub fn new(
        purger: Arc<Purger>,
        compliance: Arc<ComplianceRequests>,
        cancellation: Arc<AccountCancellation>,
    ) -> Self {
        Self {
            purger,
            compliance,
            cancellation,
        }
    }

    /// One run. A dry run lists what the purge would do and changes nothing.
    pub async fn run(
        &self,
        limits: PurgeLimits,
        dry_run: bool,
        progress: &mut (dyn FnMut(PurgeProgress) + Send),
    ) -> Result<PrivacyRunReport, PrivacyError> {
        let purge = self.purger.run(limits, dry_run, progress).await?;
        if dry_run {
            return Ok(PrivacyRunReport {
                purge,
                requests: ComplianceReport::default(),
                cancellations: Vec::new(),
            });
        }
        let requests = self
            .compliance
            .fulfil_pending(REQUESTS_PER_RUN, CANCELLATION_BUDGET)
            .await?;
        let mut cancellations = Vec::new();
        for merchant in self
            .cancellation
            .reclose_restored(CANCELLATION_BUDGET)
            .await?
        {
            cancellations.push((merchant.to_string(), "restored_data_removed".to_owned()));
        }
        for merchant in self.cancellation.pending(10).await? {
            let status = match self
                .cancellation
                .advance(&merchant, CANCELLATION_BUDGET)
                .await
            {
                Ok(crate::CancellationStatus::Cancelled { .. }) => "cancelled".to_owned(),
                Ok(crate::CancellationStatus::InProgress { .. }) => "in_progress".to_owned(),
                Err(error) => {
                    tracing::warn!(%merchant, %error, "cancellation stays pending");
                    format!("failed: {error}")
                }
            };
            cancellations.push((merchant.to_string(), status));
        }
        Ok(PrivacyRunReport {
            purge,
            requests,
            cancellations,
        })
    }
}
