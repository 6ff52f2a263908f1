//! Webhook deliveries: each due delivery is POSTed, signed, under the network rule; the
//! answer's status (or why there was none) goes in its log, and failures are retried with
//! growing pauses by the store.

use std::time::Duration;

use embargo_store::Store;

use crate::http_out::post_json;
use crate::net::NetworkPolicy;

/// Sends the due deliveries; returns how many were attempted.
pub async fn deliver(store: &Store, network: &NetworkPolicy) -> Result<usize, String> {
    let mut attempted = 0;
    loop {
        let batch = store
            .claim_deliveries(20)
            .await
            .map_err(|e| e.to_string())?;
        if batch.is_empty() {
            return Ok(attempted);
        }
        for d in &batch {
            attempted += 1;
            let outcome = post_json(
                network,
                &d.url,
                &d.headers,
                d.body.clone(),
                Duration::from_secs(15),
            )
            .await;
            let (status, error) = match &outcome {
                Ok(s) if s.is_success() => (Some(s.as_u16()), None),
                Ok(s) => (Some(s.as_u16()), Some(format!("the receiver answered {s}"))),
                Err(e) => (None, Some(e.to_string())),
            };
            if let Some(e) = &error {
                tracing::info!(delivery = d.id, error = %e, "a webhook delivery failed; it will be retried");
            }
            store
                .delivery_attempted(d, status, error.as_deref())
                .await
                .map_err(|e| e.to_string())?;
        }
    }
}
