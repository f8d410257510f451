//go:build !linux

package sim

import (
	"context"
	"errors"
)

// PTY is a pseudo-terminal served by a Modem (Linux only).
type PTY struct{}

// OpenPTY is only available on Linux.
func OpenPTY(ctx context.Context, m *Modem, link string) (*PTY, error) {
	return nil, errors.New("simulated pty: only supported on linux")
}

// Path returns the slave device path.
func (p *PTY) Path() string { return "" }

// Link returns the symlink path.
func (p *PTY) Link() string { return "" }

// Close does nothing.
func (p *PTY) Close() error { return nil }

// OpenReplayPTY is only available on Linux.
func OpenReplayPTY(ctx context.Context, r *Replay, link string) (*PTY, error) {
	return nil, errors.New("simulated pty: only supported on linux")
}
