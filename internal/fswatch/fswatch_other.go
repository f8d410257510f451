//go:build !linux

package fswatch

import (
	"context"
	"errors"
)

// Files is inotify's (fswatch_linux.go); elsewhere the callers poll.
func Files(context.Context, ...string) (<-chan struct{}, error) {
	return nil, errors.New("no file change notices on this system")
}
