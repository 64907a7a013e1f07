// Package deps pins modules that packages under construction will import,
// so parallel work does not edit go.mod at once. Deleted once they land.
package deps

import (
	_ "github.com/cockroachdb/apd/v3"
	_ "github.com/google/uuid"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/segmentio/kafka-go"
	_ "github.com/twmb/franz-go/pkg/kadm"
	_ "github.com/twmb/franz-go/pkg/kgo"
)
