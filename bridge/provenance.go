package bridge

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/xregion/xregion"
)

// The headers a bridge adds to every message it publishes. Their values are
// text, so any Kafka client can read them.
const (
	// HeaderID is the message's id: the same in every cluster the message
	// reaches. It is the source's HeaderID when the message was bridged
	// before, else the value of the WithIDHeader option's header, else derived
	// from where the message was first read: "cluster/topic/partition/offset".
	HeaderID = "xregion-id"
	// HeaderOrigin names the cluster the message was first produced to.
	HeaderOrigin = "xregion-origin"
	// HeaderHops lists, comma-separated, the clusters the message has been
	// in, the origin first and the cluster it is in now last. A bridge never
	// publishes a message into a cluster on this list.
	HeaderHops = "xregion-hops"
	// HeaderSource is where this copy was read from:
	// "cluster/topic/partition/offset". A restarting bridge finds where it
	// stands by reading it back from the target.
	HeaderSource = "xregion-src"
	// HeaderReason is set on dead-lettered messages: why the target refused
	// the message.
	HeaderReason = "xregion-dlq-reason"

	headerPrefix = "xregion-"
)

// Provenance is what a bridged message's headers say about where it comes
// from. ParseProvenance reads it from the headers of any message.
type Provenance struct {
	ID     string   // HeaderID
	Origin string   // HeaderOrigin
	Hops   []string // HeaderHops, origin first

	// HeaderSource: where the bridge read this copy.
	Cluster   string
	Topic     string
	Partition int
	Offset    int64
}

// ParseProvenance reads the provenance headers of a message. It reports
// false, with a nil error, for a message no bridge has published (it has
// none of them), and an error wrapping xregion.ErrCorrupt for headers that
// are present but malformed. Headers come from another region: nothing in
// them is trusted.
func ParseProvenance(headers []kafka.Header) (Provenance, bool, error) {
	var (
		p     Provenance
		found bool
	)
	for _, h := range headers {
		if !strings.HasPrefix(h.Key, headerPrefix) {
			continue
		}
		switch h.Key {
		case HeaderID:
			p.ID, found = string(h.Value), true
		case HeaderOrigin:
			p.Origin, found = string(h.Value), true
		case HeaderHops:
			p.Hops, found = strings.Split(string(h.Value), ","), true
		case HeaderSource:
			s, err := parseSource(h.Value)
			if err != nil {
				return Provenance{}, false, err
			}
			p.Cluster, p.Topic, p.Partition, p.Offset = s.cluster, s.topic, s.partition, s.offset
			found = true
		}
	}
	if !found {
		return Provenance{}, false, nil
	}
	if p.Cluster == "" {
		return Provenance{}, false, corrupt("provenance headers without %s", HeaderSource)
	}
	for _, h := range p.Hops {
		if h == "" {
			return Provenance{}, false, corrupt("empty cluster name in %s", HeaderHops)
		}
	}
	return p, true, nil
}

// source is a parsed HeaderSource.
type source struct {
	cluster   string
	topic     string
	partition int
	offset    int64
}

// parseSource splits "cluster/topic/partition/offset" from the right: topic
// names cannot hold a '/', cluster names may.
func parseSource(v []byte) (source, error) {
	var s source
	i := bytes.LastIndexByte(v, '/')
	if i < 0 {
		return s, corrupt("%s %q: want cluster/topic/partition/offset", HeaderSource, v)
	}
	off, err := strconv.ParseInt(string(v[i+1:]), 10, 64)
	if err != nil || off < 0 {
		return s, corrupt("%s %q: offset is not a non-negative integer", HeaderSource, v)
	}
	v = v[:i]
	i = bytes.LastIndexByte(v, '/')
	if i < 0 {
		return s, corrupt("%s %q: want cluster/topic/partition/offset", HeaderSource, v)
	}
	part, err := strconv.ParseInt(string(v[i+1:]), 10, 32)
	if err != nil || part < 0 {
		return s, corrupt("%s %q: partition is not a non-negative integer", HeaderSource, v)
	}
	v = v[:i]
	i = bytes.LastIndexByte(v, '/')
	if i <= 0 || i == len(v)-1 {
		return s, corrupt("%s %q: want cluster/topic/partition/offset", HeaderSource, v)
	}
	s.cluster, s.topic, s.partition, s.offset = string(v[:i]), string(v[i+1:]), int(part), off
	return s, nil
}

// sourcePrefix is what HeaderSource starts with for every message read from
// one source partition: matching it is how the target's tail is searched.
func sourcePrefix(cluster, topic string, partition int) []byte {
	return []byte(cluster + "/" + topic + "/" + strconv.Itoa(partition) + "/")
}

// sourceOffset returns the offset in a HeaderSource value that starts with
// prefix, or false if it does not start with it or is malformed.
func sourceOffset(v, prefix []byte) (int64, bool) {
	if !bytes.HasPrefix(v, prefix) {
		return 0, false
	}
	rest := v[len(prefix):]
	if len(rest) == 0 || len(rest) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range rest {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
		if n < 0 {
			return 0, false
		}
	}
	return n, true
}

// hopsContain reports whether the comma-separated list holds name.
func hopsContain(list []byte, name string) bool {
	for len(list) > 0 {
		i := bytes.IndexByte(list, ',')
		if i < 0 {
			return string(list) == name
		}
		if string(list[:i]) == name {
			return true
		}
		list = list[i+1:]
	}
	return false
}

// cleanHops returns a hop list that came with a message without its empty
// names (a producer's own header, or a damaged one), so that what the
// bridge writes reads back; nil when no name is left.
func cleanHops(list []byte) []byte {
	if len(list) > 0 && list[0] != ',' && list[len(list)-1] != ',' && !bytes.Contains(list, []byte(",,")) {
		return list
	}
	var out []byte
	for name := range bytes.SplitSeq(list, []byte{','}) {
		if len(name) == 0 {
			continue
		}
		if out != nil {
			out = append(out, ',')
		}
		out = append(out, name...)
	}
	return out
}

func corrupt(format string, args ...any) error {
	return &xregion.CorruptError{What: "bridge provenance", Reason: fmt.Sprintf(format, args...)}
}
