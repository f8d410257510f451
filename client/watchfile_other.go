//go:build !linux

package client

import (
	"context"
	"errors"
)

// historyWrites is inotify's (watchfile_linux.go); elsewhere the change
// watch polls.
func historyWrites(context.Context, string) (<-chan struct{}, error) {
	return nil, errors.New("no file change notices on this system")
}
