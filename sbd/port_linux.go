package sbd

import (
	"errors"
	"io"
	"os"
	"syscall"
	"time"

	"go.bug.st/serial"
)

// openPolled opens path for reading and writing (O_NONBLOCK: neither
// waiting for a carrier nor blocking a thread later) before go.bug.st/serial
// opens, configures and takes the port exclusively: a later open of it by
// anyone but root fails. Where that descriptor is not one the poller can
// wait on, the port is go.bug.st/serial's alone.
func openPolled(path string, mode *serial.Mode) (io.ReadWriteCloser, error) {
	f, ferr := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	p, err := serial.Open(path, mode)
	if err != nil {
		if f != nil {
			f.Close() //nolint:errcheck // the open failed
		}
		return nil, err
	}
	if ferr != nil {
		return p, nil
	}
	// SetReadDeadline fails on a file the poller does not watch.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close() //nolint:errcheck // not usable: the serial port serves alone
		return p, nil
	}
	return &polledPort{f: f, p: p}, nil
}

// polledPort reads and writes a terminal through a descriptor Go's poller
// waits on; p (the same terminal, configured) is closed with it.
type polledPort struct {
	f *os.File
	p serial.Port
}

func (pp *polledPort) Read(b []byte) (int, error)  { return pp.f.Read(b) }
func (pp *polledPort) Write(b []byte) (int, error) { return pp.f.Write(b) }

// Close closes the polled descriptor first (a Read waiting on it returns at
// once), then the configured port.
func (pp *polledPort) Close() error {
	return errors.Join(pp.f.Close(), pp.p.Close())
}
