package sbd

import (
	"fmt"
	"io"

	"go.bug.st/serial"
)

// OpenPort opens the serial port at path at baud (0 means DefaultBaud), 8N1
// without flow control. go.bug.st/serial opens and configures it and takes
// it exclusively (TIOCEXCL). Where the system allows it (port_linux.go), the
// bytes then go through a second, non-blocking descriptor of the same
// terminal that Go's network poller waits on: go.bug.st/serial waits for
// input in a blocking select(2), which holds a thread in the kernel, and
// each byte that wakes it costs the runtime a hand-off of its processor
// and its monitor's 20 µs polling while it lasts.
func OpenPort(path string, baud int) (io.ReadWriteCloser, error) {
	if baud == 0 {
		baud = DefaultBaud
	}
	mode := &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}
	p, err := openPolled(path, mode)
	if err != nil {
		return nil, fmt.Errorf("open serial port %s: %w", path, err)
	}
	return p, nil
}
