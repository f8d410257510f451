package tui

import (
	"context"
	"errors"
	"fmt"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// Run shows the screen on the terminal (in the alternate screen) until the
// operator quits or ctx ends. With opts.NoColor the ASCII colour profile is
// forced. Extra program options (input, output, window size) are for tests
// and embedding.
func Run(ctx context.Context, b Backend, opts Options, extra ...tea.ProgramOption) error {
	p := NewProgram(ctx, b, opts, extra...)
	if _, err := p.Run(); err != nil {
		if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
			return nil // stopped by ctx: a clean end
		}
		return fmt.Errorf("run screen: %w", err)
	}
	return nil
}

// NewProgram is the screen as a Bubble Tea program that its caller runs:
// the SSH server (package sshsrv) runs one per session, over the session's
// input and output, and sends it the session's window changes.
func NewProgram(ctx context.Context, b Backend, opts Options, extra ...tea.ProgramOption) *tea.Program {
	m := New(b, opts)
	m.c.ctx = ctx
	po := []tea.ProgramOption{tea.WithContext(ctx)}
	if opts.NoColor {
		po = append(po, tea.WithColorProfile(colorprofile.Ascii))
	}
	return tea.NewProgram(m, append(po, extra...)...)
}
