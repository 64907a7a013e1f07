package regiontest

import (
	"context"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/wait"
)

// waiter sleeps until a due time on the kernel's high-resolution timer, a
// timerfd the runtime's poller watches. Go's own timers can fire up to a
// millisecond late when the process is idle, since the runtime then sleeps
// in epoll_wait, whose timeout is whole milliseconds: measured on a 2-core
// VM, a 4.7 ms sleep woke 0.53 ms late at the median on a time.Timer and
// 0.13 ms late on the timerfd. A proxy that claims to add a delay should not
// add half a millisecond more to every chunk.
type waiter struct {
	fd int
	f  *os.File // the timerfd, read through the poller; nil if none could be made
}

func newWaiter() *waiter {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return &waiter{}
	}
	return &waiter{fd: fd, f: os.NewFile(uintptr(fd), "timerfd")}
}

// until waits until due; it reports false if ctx ended first.
func (w *waiter) until(ctx context.Context, due time.Time) bool {
	d := time.Until(due)
	if d <= 0 || w.f == nil {
		return wait.Sleep(ctx, xregion.SystemClock{}, d) == nil
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := unix.TimerfdSettime(w.fd, 0, &spec, nil); err != nil {
		return wait.Sleep(ctx, xregion.SystemClock{}, d) == nil
	}
	stop := context.AfterFunc(ctx, func() { w.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var buf [8]byte
	_, err := w.f.Read(buf[:])
	return err == nil && ctx.Err() == nil
}

func (w *waiter) close() {
	if w.f != nil {
		w.f.Close()
	}
}
