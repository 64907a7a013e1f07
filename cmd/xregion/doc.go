// Command xregion is the operator's tool for a region loss. One config file
// (--config, default xregion.yaml; see package internal/config for its
// fields) names the regions with their PostgreSQL DSN, Kafka brokers and
// /health URL, the tables with their conflict strategy and tier, how many
// people a failover needs, and the Kafka bridges.
//
//	xregion status [--json] [--watch]
//	    Each region's health, each link's live RPO and last contact
//	    against its tier's target, staged writes, and the partition
//	    epochs. --json is a stable, documented contract.
//	xregion failover propose --from a --to b --by alice
//	xregion failover approve ID --by bob
//	    The manual failover: a proposal recorded in the target region, a
//	    second person's approval, then the steps in order (resolve the
//	    staged writes, move the homes, translate the bridges' consumer
//	    groups), each printed as it completes.
//	xregion failback --region a --survivor b [--dry-run] [--yes]
//	    Bring a returned region back: resync's plan, a confirmation, the
//	    apply with a progress bar, and the verification.
//	xregion drill [--probe-every 1s] [--report drill.html] [--config FILE]
//	    A game day: kill the primary under load, measure the time to
//	    detect, the RTO and the RPO per tier against the targets, fail
//	    back, verify. With no --config it runs on in-memory regions.
//
// Exit status: 0 when the command did what it was asked and found nothing
// wrong; 1 when it could not run (bad config, unreachable database); 2 for a
// usage error; 3 when it ran and found a failure (a drill target missed,
// regions that differ after a failback, a region not UP in status).
package main
