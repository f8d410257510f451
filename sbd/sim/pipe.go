package sim

import (
	"io"
	"os"
	"sync"
)

// pipeBufSize bounds each direction of a Pipe, like a UART driver's buffer.
const pipeBufSize = 64 << 10

// halfPipe is one direction of a buffered in-memory link.
type halfPipe struct {
	mu      sync.Mutex
	cond    *sync.Cond
	buf     []byte
	wclosed bool // writer closed: reader sees EOF once drained
	rclosed bool // reader closed: writer sees ErrClosedPipe
}

func newHalfPipe() *halfPipe {
	h := &halfPipe{}
	h.cond = sync.NewCond(&h.mu)
	return h
}

func (h *halfPipe) read(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.buf) == 0 && !h.wclosed && !h.rclosed {
		h.cond.Wait()
	}
	if h.rclosed {
		return 0, os.ErrClosed
	}
	if len(h.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, h.buf)
	h.buf = h.buf[n:]
	if len(h.buf) == 0 {
		h.buf = nil
	}
	h.cond.Broadcast()
	return n, nil
}

func (h *halfPipe) write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	done := 0
	for done < len(p) {
		for len(h.buf) >= pipeBufSize && !h.rclosed && !h.wclosed {
			h.cond.Wait()
		}
		if h.rclosed || h.wclosed {
			return done, io.ErrClosedPipe
		}
		k := min(len(p)-done, pipeBufSize-len(h.buf))
		h.buf = append(h.buf, p[done:done+k]...)
		done += k
		h.cond.Broadcast()
	}
	return done, nil
}

// pipeEnd is one end of a full-duplex buffered link.
type pipeEnd struct {
	r, w *halfPipe
	once sync.Once
}

// Read reads what the other end wrote; io.EOF once the other end closed and
// everything was read, os.ErrClosed after this end was closed.
func (e *pipeEnd) Read(p []byte) (int, error) { return e.r.read(p) }

// Write buffers p for the other end; io.ErrClosedPipe if either end closed.
func (e *pipeEnd) Write(p []byte) (int, error) { return e.w.write(p) }

// Close closes this end.
func (e *pipeEnd) Close() error {
	e.once.Do(func() {
		e.r.mu.Lock()
		e.r.rclosed = true
		e.r.cond.Broadcast()
		e.r.mu.Unlock()
		e.w.mu.Lock()
		e.w.wclosed = true
		e.w.cond.Broadcast()
		e.w.mu.Unlock()
	})
	return nil
}

// newPipe makes a connected pair of ends.
func newPipe() (a, b *pipeEnd) {
	ab, ba := newHalfPipe(), newHalfPipe()
	return &pipeEnd{r: ba, w: ab}, &pipeEnd{r: ab, w: ba}
}

// Pipe returns the host end of an in-memory full-duplex link that the modem
// serves, buffered both ways. Closing it ends the serving; when the modem
// goes away (Close, FaultUnplug) the host end reads io.EOF. Like the real
// device the modem serves one port at a time: a Pipe made while another
// port is served reads io.EOF at once.
func (m *Modem) Pipe() io.ReadWriteCloser {
	host, dev := newPipe()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		dev.Close()
		return host
	}
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		err := m.Serve(m.ctx, dev)
		m.cfg.Logger.Debug("pipe closed", "err", err)
		dev.Close()
	}()
	return host
}
