package trace

import (
	"path/filepath"
	"testing"
)

// discardPort swallows writes and answers every read with a fixed reply.
type discardPort struct{ reply []byte }

func (p discardPort) Read(b []byte) (int, error)  { return copy(b, p.reply), nil }
func (p discardPort) Write(b []byte) (int, error) { return len(b), nil }
func (p discardPort) Close() error                { return nil }

// BenchmarkWrap measures the cost of tracing one command and its answer
// (a status poll, the daemon's most frequent exchange).
func BenchmarkWrap(b *testing.B) {
	w, err := Create(filepath.Join(b.TempDir(), "b.trace"), Options{MaxBytes: 1 << 20, Keep: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	reply := []byte("AT+SBDSX\r\r\n+SBDSX: 0, 12, 0, -1, 0, 0\r\n\r\nOK\r\n")
	p := Wrap(discardPort{reply: reply}, w)
	cmd := []byte("AT+SBDSX\r")
	buf := make([]byte, 256)
	b.SetBytes(int64(len(cmd) + len(reply)))
	b.ReportAllocs()
	for b.Loop() {
		p.Write(cmd)
		p.Read(buf)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/exchange")
}
