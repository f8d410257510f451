package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/rockblock-station/rockblock-station/daemon"
	"github.com/rockblock-station/rockblock-station/sbd/trace"
)

// withTrace wraps open so that every port it opens is recorded to the trace
// file path (rbd --trace): the AT dialogue with timestamps and direction,
// payloads as hex, rotated at trace.DefaultMaxBytes with trace.DefaultKeep
// old files. An empty path leaves open as it is. Call done when the daemon
// has stopped.
func withTrace(open daemon.Opener, path string, logger *slog.Logger) (_ daemon.Opener, done func(), _ error) {
	if path == "" {
		return open, func() {}, nil
	}
	w, err := trace.Create(path, trace.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("--trace: %w", err)
	}
	logger.Info("tracing the AT dialogue", "file", path, "max_bytes", trace.DefaultMaxBytes, "keep", trace.DefaultKeep)
	traced := func(ctx context.Context) (io.ReadWriteCloser, error) {
		p, err := open(ctx)
		if err != nil {
			return nil, err
		}
		return trace.Wrap(p, w), nil
	}
	done = func() {
		if err := w.Close(); err != nil {
			logger.Warn("trace file", "err", err)
		}
	}
	return traced, done, nil
}
