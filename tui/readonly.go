package tui

import (
	"errors"
	"slices"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// errReadOnly is what a read-only screen (Options.ReadOnly) says to a key it
// refuses.
var errReadOnly = errors.New("read only: this key may not compose, reply, cancel or resend")

// writes are the actions that change the outbox: a read-only screen hides
// and refuses them.
func (a *actionKeys) writes() []*key.Binding {
	return []*key.Binding{&a.Compose, &a.Reply, &a.Cancel, &a.Resend, &a.Redraft, &a.ResendOrRedraft}
}

// hideWrites takes the writing actions out of the footer and the help.
func (a *actionKeys) hideWrites() {
	for _, b := range a.writes() {
		b.SetEnabled(false)
	}
}

// refusedWrite reports whether k asks a read-only screen for a writing
// action, and says in the status line that it may not.
func (a *actions) refusedWrite(k tea.KeyPressMsg, ak actionKeys) bool {
	if !a.c.opts.ReadOnly {
		return false
	}
	for _, b := range ak.writes() {
		if slices.Contains(b.Keys(), k.String()) {
			a.c.status.fail(errReadOnly)
			return true
		}
	}
	return false
}
