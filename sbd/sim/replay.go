package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/sbd"
	"github.com/rockblock-station/rockblock-station/sbd/trace"
)

// ReplayOptions configure a Replay.
type ReplayOptions struct {
	// Speed scales the trace's timing: 1 (the default, also for 0) plays
	// the modem's answers with their recorded delays, 2 twice as fast,
	// math.Inf(1) without any waiting.
	Speed  float64
	Logger *slog.Logger // default discards
}

// Replay plays the modem's side of a recorded trace (rbd --trace) to a
// program: it waits for the bytes the host sent in the trace and answers
// with what the modem sent, after the recorded delay, so a field problem is
// reproduced on a desk. When the program sends something else the replay
// has diverged (*DivergedError): the program no longer does what it did in
// the field.
type Replay struct {
	recs  []trace.Record
	speed float64
	log   *slog.Logger

	once sync.Once
	done chan struct{}
	err  error
}

// DivergedError reports a program that sent other bytes than the trace's host.
type DivergedError struct {
	Line      int    // trace line of the expected bytes
	Want, Got []byte // what the trace has, what came
}

// Error quotes both.
func (e *DivergedError) Error() string {
	return fmt.Sprintf("replay diverged at trace line %d: the program sent %q, the trace has %q", e.Line, e.Got, e.Want)
}

// NewReplay makes a replay of recs.
func NewReplay(recs []trace.Record, o ReplayOptions) (*Replay, error) {
	if o.Speed == 0 {
		o.Speed = 1
	}
	if o.Speed < 0 || math.IsNaN(o.Speed) {
		return nil, fmt.Errorf("replay speed %v: want a positive number", o.Speed)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	rx := 0
	for _, r := range recs {
		if r.Dir == trace.RX {
			rx++
		}
	}
	if rx == 0 {
		return nil, errors.New("replay: the trace has nothing the modem sent")
	}
	return &Replay{recs: recs, speed: o.Speed, log: o.Logger, done: make(chan struct{})}, nil
}

// LoadReplay reads a trace file and makes its replay.
func LoadReplay(path string, o ReplayOptions) (*Replay, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	recs, err := trace.Read(f)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", path, err)
	}
	return NewReplay(recs, o)
}

// Records returns how many records the replay plays or expects.
func (r *Replay) Records() int { return len(r.recs) }

// Done is closed when a Serve of the replay ended; Err then says how.
func (r *Replay) Done() <-chan struct{} { return r.done }

// Err is the result of the first Serve once Done is closed: nil when the
// whole trace was played, else why it stopped (*DivergedError, a port error).
func (r *Replay) Err() error {
	select {
	case <-r.done:
		return r.err
	default:
		return nil
	}
}

func (r *Replay) finish(err error) {
	r.once.Do(func() {
		r.err = err
		close(r.done)
	})
}

// Serve plays the trace on port. It returns nil once the modem's last
// record was written, a *DivergedError when the program sent other bytes
// than the trace's host, or the port's or ctx's error. A Replay plays once.
func (r *Replay) Serve(ctx context.Context, port io.ReadWriter) error {
	err := r.play(ctx, port, newFeed(ctx, port))
	r.finish(err)
	return err
}

// serve is Serve for a pty: after the end of the trace it keeps the port
// open (so the program sees no hang-up) and logs what the program still
// sends, until ctx ends.
func (r *Replay) serve(ctx context.Context, port io.ReadWriter) {
	in := newFeed(ctx, port)
	err := r.play(ctx, port, in)
	r.finish(err)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		r.log.Error("replay stopped", "err", err)
	} else {
		r.log.Info("replay complete: every record of the trace was played", "records", len(r.recs))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-in.errc:
			return
		case b := <-in.c:
			r.log.Info("after the replay the program sent", "bytes", fmt.Sprintf("%q", b))
		}
	}
}

// feed reads a port in the background.
type feed struct {
	c    chan []byte
	errc chan error
}

func newFeed(ctx context.Context, port io.Reader) *feed {
	f := &feed{c: make(chan []byte, 16), errc: make(chan error, 1)}
	go func() {
		for {
			b := make([]byte, 512)
			n, err := port.Read(b)
			if n > 0 {
				select {
				case f.c <- b[:n]:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				f.errc <- err
				return
			}
		}
	}()
	return f
}

func (r *Replay) play(ctx context.Context, port io.ReadWriter, in *feed) error {
	var got []byte         // host bytes not matched yet
	mark := time.Now()     // wall time of the last record played or matched
	prevAt := r.recs[0].At // its time in the trace
	read := func(deadline <-chan time.Time) (bool, error) {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case err := <-in.errc:
			return false, fmt.Errorf("replay: read port: %w", err)
		case b := <-in.c:
			got = append(got, b...)
			return true, nil
		case <-deadline:
			return false, nil
		}
	}
	var echo [2][]byte // a start-up probe's echo in the trace, and the program's probe
	for i := 0; i < len(r.recs); {
		rec := r.recs[i]
		if rec.Dir == trace.TX {
			var want []byte
			j := i
			for ; j < len(r.recs) && r.recs[j].Dir == trace.TX; j++ {
				want = append(want, r.recs[j].Data...)
			}
			echo = [2][]byte{}
			if startProbe(want) {
				// The program's start-up probe is drawn at random (sbd's
				// Init): any probe stands for the trace's, and the
				// trace's echo of it is played as the program's.
				for bytes.IndexByte(got, '\r') < 0 {
					if _, err := read(nil); err != nil {
						return err
					}
				}
				k := bytes.IndexByte(got, '\r')
				if sbd.IsSyncProbe(string(got[:k])) {
					echo = [2][]byte{want, append([]byte(nil), got[:k+1]...)}
					got = got[k+1:]
					mark, prevAt = time.Now(), r.recs[j-1].At
					i = j
					continue
				}
			}
			for len(got) < len(want) {
				if !bytes.HasPrefix(want, got) {
					break
				}
				if _, err := read(nil); err != nil {
					return err
				}
			}
			if len(got) < len(want) || !bytes.Equal(got[:len(want)], want) {
				return &DivergedError{Line: rec.Line, Want: want, Got: got[:min(len(got), len(want)+32)]}
			}
			got = got[len(want):]
			mark, prevAt = time.Now(), r.recs[j-1].At
			i = j
			continue
		}
		at := mark
		if d := rec.At.Sub(prevAt); d > 0 && !math.IsInf(r.speed, 1) {
			at = mark.Add(time.Duration(float64(d) / r.speed))
		}
		if wait := time.Until(at); wait > 0 {
			t := time.NewTimer(wait)
			for done := false; !done; {
				more, err := read(t.C)
				if err != nil {
					t.Stop()
					return err
				}
				done = !more
			}
		}
		data := rec.Data
		if echo[0] != nil && bytes.Contains(data, echo[0]) {
			data = bytes.Replace(data, echo[0], echo[1], 1)
			echo = [2][]byte{}
		}
		if _, err := port.Write(data); err != nil {
			return fmt.Errorf("replay: write port: %w", err)
		}
		mark, prevAt = at, rec.At
		i++
	}
	return nil
}

// startProbe reports whether a trace's host bytes are one start-up probe
// line: a sync probe of sbd's Init, or the AT and ATQ0V1 of older programs.
func startProbe(b []byte) bool {
	if len(b) < 3 || b[len(b)-1] != '\r' || bytes.IndexByte(b[:len(b)-1], '\r') >= 0 {
		return false
	}
	l := string(b[:len(b)-1])
	return l == "AT" || l == "ATQ0V1" || sbd.IsSyncProbe(l)
}
