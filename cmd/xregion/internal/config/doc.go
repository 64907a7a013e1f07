// Package config reads the one file that tells cmd/xregion what a
// deployment is: its regions (PostgreSQL DSN, Kafka brokers, health URL),
// its tables with their conflict strategy and tier, and how many people a
// failover needs. It also opens the regions it names.
//
//	regions:
//	  - name: a
//	    dsn: postgres://xregion@db.a.internal:5432/payments
//	    kafka: [kafka-1.a.internal:9092]
//	    health: https://api.a.internal/health
//	  - name: b
//	    dsn: postgres://xregion@db.b.internal:5432/payments
//	    health: https://api.b.internal/health
//	tables:
//	  - {name: payments, strategy: lww, tier: 1}
//	  - {name: balances, strategy: crdt, tier: 1}
//	  - {name: accounts, strategy: single-writer, tier: 2}
//	approvals: 2
//	partitions: 64
//	bridges:
//	  - {from: a, to: b, group: xregion-bridge-ab, topics: [orders], consumer_groups: [billing]}
//
// The first region is the primary: the one clients prefer while it is
// healthy. Unknown fields are refused, so a misspelt key is an error rather
// than a default.
package config
