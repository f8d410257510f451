package daemon

import (
	"bytes"
	"io"
	"sync"
)

// lineTap sits between the daemon and the simulator's port: it can garble chosen
// lines the modem sends and watch the commands the daemon writes. Its rules
// apply to every port the daemon opens (reconnects included).
type lineTap struct {
	mu      sync.Mutex
	garble  map[string]int     // line prefix -> how many more such lines to garble
	onWrite func(write string) // sees each write of the daemon before the modem does
	// corrupt is how many more binary writes of the daemon (SBDWB payloads:
	// not ended by CR) get their first byte flipped on the way, as noise on
	// the wire would: the modem then finds a wrong checksum.
	corrupt int
}

// corruptNextWrites flips the first byte of the daemon's next n binary writes.
func (t *lineTap) corruptNextWrites(n int) {
	t.mu.Lock()
	t.corrupt += n
	t.mu.Unlock()
}

func newLineTap() *lineTap { return &lineTap{garble: map[string]int{}} }

// garbleNext garbles the next n lines that start with prefix: the line keeps
// its prefix and loses its fields, as a line hit by noise on the wire might.
func (t *lineTap) garbleNext(prefix string, n int) {
	t.mu.Lock()
	t.garble[prefix] += n
	t.mu.Unlock()
}

// pending reports how many of the armed garblings of prefix are still to come.
func (t *lineTap) pending(prefix string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.garble[prefix]
}

func (t *lineTap) setOnWrite(f func(string)) {
	t.mu.Lock()
	t.onWrite = f
	t.mu.Unlock()
}

func (t *lineTap) armed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range t.garble {
		if n > 0 {
			return true
		}
	}
	return false
}

// wrap returns port seen through the lineTap.
func (t *lineTap) wrap(port io.ReadWriteCloser) io.ReadWriteCloser {
	return &lineTapPort{ReadWriteCloser: port, t: t}
}

type lineTapPort struct {
	io.ReadWriteCloser
	t    *lineTap
	pend []byte // bytes read but not yet handed on (an unfinished line)
	out  []byte // bytes ready to hand on
}

func (p *lineTapPort) Write(b []byte) (int, error) {
	p.t.mu.Lock()
	f := p.t.onWrite
	flip := p.t.corrupt > 0 && len(b) > 0 && b[len(b)-1] != '\r'
	if flip {
		p.t.corrupt--
	}
	p.t.mu.Unlock()
	if f != nil {
		f(string(b))
	}
	if flip {
		c := append([]byte(nil), b...)
		c[0] ^= 0xff
		return p.ReadWriteCloser.Write(c)
	}
	return p.ReadWriteCloser.Write(b)
}

func (p *lineTapPort) Read(b []byte) (int, error) {
	for len(p.out) == 0 {
		if len(p.pend) == 0 && !p.t.armed() {
			return p.ReadWriteCloser.Read(b)
		}
		buf := make([]byte, 4096)
		n, err := p.ReadWriteCloser.Read(buf)
		p.pend = append(p.pend, buf[:n]...)
		// Hand on every finished line (ended by CR or LF), garbled if asked.
		for {
			i := bytes.IndexAny(p.pend, "\r\n")
			if i < 0 {
				break
			}
			p.out = append(p.out, p.line(p.pend[:i])...)
			p.out = append(p.out, p.pend[i])
			p.pend = p.pend[i+1:]
		}
		if !p.t.armed() {
			p.out = append(p.out, p.pend...)
			p.pend = nil
		}
		if err != nil {
			p.out = append(p.out, p.pend...)
			p.pend = nil
			if len(p.out) == 0 {
				return 0, err
			}
			n := copy(b, p.out)
			p.out = p.out[n:]
			return n, nil
		}
	}
	n := copy(b, p.out)
	p.out = p.out[n:]
	return n, nil
}

func (p *lineTapPort) line(l []byte) []byte {
	p.t.mu.Lock()
	defer p.t.mu.Unlock()
	for prefix, n := range p.t.garble {
		if n > 0 && bytes.HasPrefix(l, []byte(prefix)) {
			p.t.garble[prefix] = n - 1
			return []byte(prefix + " ~#garbled")
		}
	}
	return l
}
