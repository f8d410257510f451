//go:build !linux

package sbd

import (
	"io"

	"go.bug.st/serial"
)

// openPolled opens the port with go.bug.st/serial alone.
func openPolled(path string, mode *serial.Mode) (io.ReadWriteCloser, error) {
	return serial.Open(path, mode)
}
