package sshsrv

import (
	"context"
	"errors"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	bm "charm.land/wish/v2/bubbletea"
	"github.com/charmbracelet/colorprofile"

	"github.com/rockblock-station/rockblock-station/tui"
)

// screenFPS is the most frames a second a session's screen draws: twice
// Bubble Tea's default, so a key's frame waits at most about 8 ms for its
// turn (a screen draws only when something changed).
const screenFPS = 120

// program is the screen of a session with a terminal: wish runs it over the
// session's channel and sends it the window changes.
func (s *Server) program(sess ssh.Session) *tea.Program {
	l, ok := s.session(sess)
	if !ok {
		return nil
	}
	b := s.cfg.Backend(l.ctx)
	opts := s.cfg.Screen
	if !l.key.CanSend() {
		b = readOnly(b)
		opts.ReadOnly = true
	}
	if env(sess.Environ(), "NO_COLOR") != "" {
		opts.NoColor = true
	}
	// wish's options: the channel as input and output, the client's TERM
	// and size, the colour profile its environment implies. The server's
	// signals are the server's, not each screen's.
	po := append(bm.MakeOptions(sess), tea.WithoutSignalHandler(), tea.WithFPS(screenFPS))
	if opts.NoColor {
		po = append(po, tea.WithColorProfile(colorprofile.Ascii))
	}
	// The screen ends when the operator quits or wish asks it to (the
	// connection closed), never by its context mid-frame: the backend's
	// context is the one that ends with the session.
	return tui.NewProgram(context.WithoutCancel(l.ctx), b, opts, po...)
}

// env is the value of name in a session's environment ("" if unset).
func env(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// ErrReadOnly refuses what a read key may not do.
var ErrReadOnly = errors.New("this key may only read (role=read): it may not compose, reply, cancel, resend or send")

// readOnly is b for a read key: whatever the screen asks, the outbox is
// not touched (the screen also hides these actions: tui.Options.ReadOnly).
func readOnly(b tui.Backend) tui.Backend {
	ro := readOnlyBackend{b}
	if st, ok := b.(tui.StatsSource); ok {
		return readOnlyStats{ro, st}
	}
	return ro
}

type readOnlyBackend struct{ tui.Backend }

// Send implements tui.Backend: refused.
func (readOnlyBackend) Send(context.Context, string, []byte, bool) (string, error) {
	return "", ErrReadOnly
}

// Cancel implements tui.Backend: refused.
func (readOnlyBackend) Cancel(context.Context, string) error { return ErrReadOnly }

// Resend implements tui.Backend: refused.
func (readOnlyBackend) Resend(context.Context, string) (string, error) { return "", ErrReadOnly }

// readOnlyStats keeps the statistics view of a backend that has one.
type readOnlyStats struct {
	readOnlyBackend
	tui.StatsSource
}
