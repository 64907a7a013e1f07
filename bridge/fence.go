package bridge

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/segmentio/kafka-go"
)

// producer is a Kafka producer identity: an id the target cluster handed
// out (InitProducerId) and its epoch. Every batch the bridge publishes
// carries the producer of its source partition and a sequence number, so
// the target appends it only if it continues that producer's sequence in
// the target partition: a conditional append. Whoever holds the source
// partition (this process, the next owner, a zombie that still thinks it
// owns it) writes with the same producer, so two writers racing to publish
// the same messages cannot both succeed, and a late copy of a batch is
// refused (OUT_OF_ORDER_SEQUENCE_NUMBER) or recognised as a duplicate.
type producer struct {
	id    int64
	epoch int16
}

// noProducer marks a batch or a search result without a producer.
var noProducer = producer{id: -1, epoch: -1}

func (p producer) known() bool { return p.id >= 0 && p.epoch >= 0 }

// sequence is where a worker stands in one target partition: the producer
// it writes with there and the sequence number of its next message.
type sequence struct {
	p    producer
	next int32
}

// seqAdd advances a sequence number by n messages, wrapping from
// 2^31-1 to 0 as Kafka does (DefaultRecordBatch.incrementSequence).
func seqAdd(s int32, n int64) int32 {
	return int32((int64(s) + n) % (1 << 31))
}

// stamp writes the producer and the first sequence number into an encoded
// record set (see appendBatch) and seals it again.
func stamp(b []byte, p producer, seq int32) {
	be := binary.BigEndian
	be.PutUint64(b[47:], uint64(p.id))
	be.PutUint16(b[55:], uint16(p.epoch))
	be.PutUint32(b[57:], uint32(seq))
	be.PutUint32(b[21:], crc32.Checksum(b[25:], castagnoli))
}

// sequenceRefused reports a produce error that says the target's producer
// state disagrees with the batch's sequence: another writer got there
// first, or the target lost the producer's state. Nothing was written.
func sequenceRefused(err error) bool {
	return errors.Is(err, kafka.OutOfOrderSequenceNumber) || errors.Is(err, kafka.DuplicateSequenceNumber) ||
		errors.Is(err, kafka.UnknownProducerId) || errors.Is(err, kafka.InvalidProducerEpoch)
}

// newProducer asks the target cluster for a producer id of its own.
func (r *run) newProducer(ctx context.Context) (producer, error) {
	rctx, cancel := context.WithTimeout(ctx, r.cfg.requestTimeout)
	defer cancel()
	resp, err := r.dst.InitProducerID(rctx, &kafka.InitProducerIDRequest{ProducerID: -1, ProducerEpoch: -1})
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		return noProducer, fmt.Errorf("init producer id: %w", err)
	}
	p := producer{id: int64(resp.Producer.ProducerID), epoch: int16(resp.Producer.ProducerEpoch)}
	if !p.known() {
		return noProducer, fmt.Errorf("init producer id: the target answered id %d epoch %d", p.id, p.epoch)
	}
	return p, nil
}
