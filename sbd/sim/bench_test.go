package sim

import (
	"testing"
	"time"
)

// BenchmarkThrottle measures the paced output rate (bytes per second on the
// simulated 19200-baud wire; the ceiling is 1920).
func BenchmarkThrottle(b *testing.B) {
	_, h := start(b, Config{Throttle: true})
	h.cmd("ATE0", "ATE0\r"+ok)
	resp := len(line("Call Processor Version: TA16005")+line("Modem DSP Version: 1.7 svn: 2358")+
		line("DBB Version: 0x0001 (ASIC)")+line("RFA Version: 0x0007 (SRFA2)")+line("NVM Version: KVS")+
		line("Hardware Version: BOOT07d2/9602NrvA-D/04/RAW0d")+line("BOOT Version: TA16005 (rev exported)")) + len(ok)
	start := time.Now()
	total := 0
	for b.Loop() {
		h.send("AT+CGMR\r")
		h.read(resp)
		total += resp
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "bytes/s")
}

// BenchmarkSession measures unthrottled SBDIX round trips over a Pipe.
func BenchmarkSession(b *testing.B) {
	_, h := start(b, Config{})
	h.cmd("ATE0", "ATE0\r"+ok)
	h.cmd("AT+SBDWT=x", ok)
	for b.Loop() {
		h.send("AT+SBDIX\r")
		h.until(ok)
	}
}
