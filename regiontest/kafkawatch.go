package regiontest

import (
	"encoding/binary"
	"sync"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// KafkaEvent is one step of a conversation between a client and a broker,
// as the broker's side of the link saw it: a request it read, or the
// response it wrote to one.
type KafkaEvent struct {
	Request  kmsg.Request  // the request read, or the one Response answers
	Response kmsg.Response // nil when the event is the request's arrival
}

// Watch calls fn for every request the brokers read from now on and every
// response they write, one call at a time, in the order they happen: a
// request is reported before the broker can act on it, and a response
// after the broker acted and before the client can read it. So a test can
// tell what the broker knew when it handled a request: if the answer to
// a SyncGroup of generation G is reported before a commit request arrives,
// the coordinator knew of G when it handled that commit. The Request of a
// response event is the same value as that of its arrival. fn must not
// block or call back into the link. The returned function stops the watch.
func (l *KafkaLink) Watch(fn func(KafkaEvent)) (stop func()) {
	w := &watcher{fn: fn}
	l.watch.Lock()
	l.watch.fns = append(l.watch.fns, w)
	l.watch.Unlock()
	return func() {
		l.watch.Lock()
		defer l.watch.Unlock()
		for i, x := range l.watch.fns {
			if x == w {
				l.watch.fns = append(l.watch.fns[:i:i], l.watch.fns[i+1:]...)
				return
			}
		}
	}
}

type watcher struct{ fn func(KafkaEvent) }

// watching reports whether anyone watches: frames are decoded only then.
func (l *KafkaLink) watching() bool {
	l.watch.Lock()
	defer l.watch.Unlock()
	return len(l.watch.fns) > 0
}

func (l *KafkaLink) emit(e KafkaEvent) {
	l.watch.Lock()
	defer l.watch.Unlock()
	for _, w := range l.watch.fns {
		w.fn(e)
	}
}

// conversation follows the frames of one connection in both directions
// and pairs each response with its request: a broker answers the requests
// of a connection in order.
type conversation struct {
	link *KafkaLink
	in   frames // from the client
	out  frames // to the client
	mu   sync.Mutex
	asks []kmsg.Request // requests read and not yet answered; nil for one not decoded
}

// read takes bytes the broker read from the client.
func (c *conversation) read(b []byte) {
	c.in.feed(b, c.link.watching, func(body []byte) {
		req := decodeRequest(body)
		c.mu.Lock()
		c.asks = append(c.asks, req)
		c.mu.Unlock()
		if req != nil {
			c.link.emit(KafkaEvent{Request: req})
		}
	})
}

// wrote takes bytes the broker writes to the client.
func (c *conversation) wrote(b []byte) {
	c.out.feed(b, c.link.watching, func(body []byte) {
		c.mu.Lock()
		var req kmsg.Request
		if len(c.asks) > 0 {
			req, c.asks = c.asks[0], c.asks[1:]
		}
		c.mu.Unlock()
		if req == nil || body == nil {
			return
		}
		if resp := decodeResponse(req, body); resp != nil {
			c.link.emit(KafkaEvent{Request: req, Response: resp})
		}
	})
}

// frames splits a byte stream into Kafka frames: an int32 size, then that
// many bytes. Only the bodies of frames that began while keep said so are
// kept; the others are reported as nil.
type frames struct {
	size  [4]byte
	nsize int // bytes of size read so far
	left  int // bytes of the frame's body still to come
	keep  bool
	body  []byte
}

func (f *frames) feed(b []byte, keep func() bool, done func(body []byte)) {
	for len(b) > 0 {
		if f.nsize < 4 {
			n := copy(f.size[f.nsize:], b)
			f.nsize, b = f.nsize+n, b[n:]
			if f.nsize < 4 {
				return
			}
			f.left, f.keep, f.body = int(binary.BigEndian.Uint32(f.size[:])), keep(), nil
		}
		n := min(f.left, len(b))
		if f.keep {
			f.body = append(f.body, b[:n]...)
		}
		f.left, b = f.left-n, b[n:]
		if f.left == 0 {
			f.nsize = 0
			if f.keep {
				done(f.body)
			} else {
				done(nil)
			}
		}
	}
}

// decodeRequest decodes a request frame as a broker does, nil for one it
// cannot.
func decodeRequest(body []byte) kmsg.Request {
	if body == nil {
		return nil
	}
	r := kbin.Reader{Src: body}
	key, version := r.Int16(), r.Int16()
	r.Int32() // correlation id
	r.NullableString()
	req := kmsg.RequestForKey(key)
	if req == nil || r.Complete() != nil {
		return nil
	}
	req.SetVersion(version)
	if req.IsFlexible() {
		kmsg.SkipTags(&r)
	}
	if req.ReadFrom(r.Src) != nil {
		return nil
	}
	return req
}

// decodeResponse decodes the frame answering req, nil if it cannot.
func decodeResponse(req kmsg.Request, body []byte) kmsg.Response {
	r := kbin.Reader{Src: body}
	r.Int32() // correlation id
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && resp.Key() != int16(kmsg.ApiVersions) { // ApiVersions answers with the old header
		kmsg.SkipTags(&r)
	}
	if r.Complete() != nil || resp.ReadFrom(r.Src) != nil {
		return nil
	}
	return resp
}
