package sshsrv

import (
	"context"
	"errors"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	bm "charm.land/wish/v2/bubbletea"
	"github.com/charmbracelet/colorprofile"

	"github.com/rockblock-station/rockblock-station/rb"
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
	b := forKey(s.cfg.Backend(l.ctx), l.key)
	opts := s.cfg.Screen
	opts.ReadOnly = !l.key.CanSend()
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

// forKey is b as key k may use it: what it composes or resends names the
// key (rb.WithOrigin); for a read key, whatever the screen asks, the outbox
// is not touched (the screen also hides these actions: tui.Options.ReadOnly).
func forKey(b tui.Backend, k Key) tui.Backend {
	kb := keyBackend{Backend: b, origin: rb.Origin{By: k.Name, Via: rb.ViaSSH}, readOnly: !k.CanSend()}
	if st, ok := b.(tui.StatsSource); ok {
		return keyStats{kb, st}
	}
	return kb
}

type keyBackend struct {
	tui.Backend
	origin   rb.Origin
	readOnly bool
}

// Send implements tui.Backend.
func (b keyBackend) Send(ctx context.Context, station string, data []byte, text bool) (string, error) {
	if b.readOnly {
		return "", ErrReadOnly
	}
	return b.Backend.Send(rb.WithOrigin(ctx, b.origin), station, data, text)
}

// Cancel implements tui.Backend.
func (b keyBackend) Cancel(ctx context.Context, id string) error {
	if b.readOnly {
		return ErrReadOnly
	}
	return b.Backend.Cancel(ctx, id)
}

// Resend implements tui.Backend.
func (b keyBackend) Resend(ctx context.Context, id string) (string, error) {
	if b.readOnly {
		return "", ErrReadOnly
	}
	return b.Backend.Resend(rb.WithOrigin(ctx, b.origin), id)
}

// keyStats keeps the statistics view of a backend that has one.
type keyStats struct {
	keyBackend
	tui.StatsSource
}
