package tui

import (
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/rockblock-station/rockblock-station/rb"
)

// The operator's actions on messages: open, mark read, compose and send,
// cancel and resend, each asked for by a key of the list or detail view.

// confirmation is a y/n question in the status line.
type confirmation struct {
	prompt string
	yes    func() tea.Cmd
	no     string
}

// actionKey handles the keys shared by the list and the detail view.
func (m *Model) actionKey(k tea.KeyPressMsg, ak actionKeys) tea.Cmd {
	if m.refusedWrite(k, ak) {
		return nil
	}
	switch {
	case key.Matches(k, ak.Help):
		m.openHelp()
	case key.Matches(k, ak.Compose):
		m.openCompose("", m.stations.filter)
	case key.Matches(k, ak.Reply):
		label, from := "", m.stations.filter
		if msg, ok := m.current(); ok && msg.Dir == rb.DirMT {
			label = "reply to MT " + m.c.fmtTime(msg.Created) + " " + quote(previewOf(msg, 30, m.c.glyphs))
			from = msg.Station // a reply goes back through the station it came from
		}
		m.openCompose(label, from)
	case key.Matches(k, ak.Cancel):
		return m.askCancel()
	case key.Matches(k, ak.Resend):
		return m.askResend()
	case key.Matches(k, ak.MarkRead):
		if msg, ok := m.current(); ok && !msg.Read {
			return m.markRead(msg.ID)
		}
	case key.Matches(k, ak.MarkAllRead):
		return m.markAllRead()
	case key.Matches(k, ak.Search):
		return m.search.start()
	case key.Matches(k, ak.Next):
		return m.jump(+1)
	case key.Matches(k, ak.Prev):
		return m.jump(-1)
	}
	return nil
}

// current is the message the actions apply to: the open one or the selected one.
func (m *Model) current() (Message, bool) {
	if m.screen == screenDetail && m.detail.loaded {
		return m.detail.m, true
	}
	if r, ok := m.list.selected(); ok {
		return r.m, true
	}
	return Message{}, false
}

func (m *Model) open() tea.Cmd {
	r, ok := m.list.selected()
	if !ok {
		return nil
	}
	m.screen = screenDetail
	m.detail.set(r.m, true)
	cmds := []tea.Cmd{m.getOne(r.m.ID)}
	if !r.m.Read {
		cmds = append(cmds, m.markRead(r.m.ID))
	}
	return tea.Batch(cmds...)
}

// markRead marks id read on screen at once and in the backend.
func (m *Model) markRead(id string) tea.Cmd {
	if i := m.list.find(id); i >= 0 {
		if !m.list.rows[i].m.Read && m.header.header.Unread > 0 {
			m.header.header.Unread--
			m.header.invalidate()
		}
		m.list.rows[i].m.Read = true
	}
	if m.detail.m.ID == id {
		m.detail.m.Read = true
	}
	b := m.b
	return func() tea.Msg {
		ctx, cancel := m.call()
		defer cancel()
		if err := b.MarkRead(ctx, id); err != nil {
			return actionMsg{err: err}
		}
		return nil
	}
}

// markAllRead marks every message read, on screen at once and in the backend.
func (m *Model) markAllRead() tea.Cmd {
	for i := range m.list.rows {
		m.list.rows[i].m.Read = true
	}
	m.detail.m.Read = true
	m.header.header.Unread = 0
	m.header.invalidate()
	b, station := m.b, m.stations.filter
	return func() tea.Msg {
		ctx, cancel := m.call()
		defer cancel()
		n, err := b.MarkAllRead(ctx, station)
		if err != nil {
			return actionMsg{err: err}
		}
		return actionMsg{done: fmt.Sprintf("marked %d read", n)}
	}
}

func (m *Model) askCancel() tea.Cmd {
	msg, ok := m.current()
	if !ok {
		return nil
	}
	if msg.Dir != rb.DirMO {
		m.setError(errors.New("only an MO message (one you sent) can be cancelled"))
		return nil
	}
	if !rb.Cancellable(msg.State) {
		m.setError(fmt.Errorf("cannot cancel: the message is %s", msg.State))
		return nil
	}
	b, id := m.b, msg.ID
	m.confirm = &confirmation{
		prompt: "Cancel MO " + m.c.fmtTime(msg.Created) + " " + quote(previewOf(msg, 30, m.c.glyphs)) + "? y/n",
		no:     "not cancelled",
		yes: func() tea.Cmd {
			m.setInfo("cancelling…")
			return func() tea.Msg {
				ctx, cancel := m.call()
				defer cancel()
				if err := b.Cancel(ctx, id); err != nil {
					return actionMsg{err: err}
				}
				// rbd decides: a session may already carry the message. The
				// state change, if any, arrives as an update.
				return actionMsg{done: "cancel requested for " + shortID(id)}
			}
		},
	}
	return nil
}

func (m *Model) askResend() tea.Cmd {
	msg, ok := m.current()
	if !ok {
		return nil
	}
	if msg.Dir == rb.DirMO && msg.State == rb.StateCancelled {
		return m.draftFrom(msg)
	}
	if msg.Dir != rb.DirMO || !rb.Resendable(msg.State) {
		m.setError(fmt.Errorf("only a failed or unknown MO message can be resent (this one is %s)", msg.State))
		return nil
	}
	b, id := m.b, msg.ID
	if m.resending[id] {
		m.setInfo("the resend of " + shortID(id) + " is in flight: wait for its result")
		return nil
	}
	do := func() tea.Cmd {
		if m.resending[id] {
			return nil
		}
		m.resending[id] = true
		m.setInfo("resending…")
		return func() tea.Msg {
			ctx, cancel := m.call()
			defer cancel()
			nid, err := b.Resend(ctx, id)
			return resentMsg{orig: id, id: nid, err: err}
		}
	}
	if prev, ok := m.resent[id]; ok {
		m.confirm = &confirmation{
			prompt: "Already resent as " + shortID(prev) + ": another copy is billed again. Resend again? y/n",
			no:     "not resent: already resent as " + shortID(prev),
			yes:    do,
		}
		return nil
	}
	if msg.State == rb.StateUnknown {
		m.confirm = &confirmation{
			prompt: "It may have been delivered (and billed) already. Resend anyway? y/n",
			no:     "not resent",
			yes:    do,
		}
		return nil
	}
	return do()
}

// draftFrom opens a cancelled message in compose as a draft, to edit and
// send again (a new message), unless another draft is being written.
func (m *Model) draftFrom(msg Message) tea.Cmd {
	if m.hasDraft() {
		m.setInfo("a draft is open: send or clear it first (c opens it)")
		return nil
	}
	if msg.Data == nil && msg.Text == "" {
		m.setError(errors.New("this client does not have the message's payload (it was sent from another client)"))
		return nil
	}
	m.compose.setDraft(msg)
	m.openCompose("draft from the cancelled MO "+m.c.fmtTime(msg.Created), msg.Station)
	return nil
}

func (m *Model) applyResent(msg resentMsg) {
	delete(m.resending, msg.orig)
	if msg.err != nil {
		m.setError(msg.err)
		return
	}
	m.resent[msg.orig] = msg.id
	m.setInfo("resent as " + shortID(msg.id) + " (queued)")
}

// openCompose opens compose; from is the station that sends (the fleet
// console: the station shown, or the replied message's; "" asks).
func (m *Model) openCompose(label, from string) {
	m.screen = screenCompose
	m.compose.replyTo = label
	if m.fleet {
		m.compose.stations = m.stations.names()
		if !m.hasDraft() || from != "" {
			m.compose.from = from // a draft keeps the station chosen for it
		}
	}
	m.compose.maxMO = m.header.maxMO()
	m.compose.focus()
}

// composeKey handles a key of the compose view; the text area takes the rest.
func (m *Model) composeKey(k tea.KeyPressMsg) tea.Cmd {
	c := &m.compose
	switch {
	case key.Matches(k, c.keys.Back):
		c.blur()
		m.screen = screenList
		if c.ta.Value() != "" {
			m.setInfo("draft kept: c opens it again")
		}
		return nil
	case key.Matches(k, c.keys.ToggleHex):
		c.toggleHex()
		return nil
	case m.fleet && key.Matches(k, c.keys.Station):
		c.nextStation()
		return nil
	case key.Matches(k, c.keys.Send):
		if c.sending {
			m.setInfo("still queueing the last message: wait for its result")
			return nil
		}
		data, err := c.payload()
		if err != nil {
			c.err = err.Error()
			return nil
		}
		if m.fleet && c.from == "" {
			c.err = "which station sends? " + c.keys.Station.Help().Key + " chooses it"
			return nil
		}
		c.err = ""
		c.sending = true
		b, text, draft, from := m.b, !c.hex, c.draft, c.from
		m.setInfo("queueing…")
		return func() tea.Msg {
			ctx, cancel := m.call()
			defer cancel()
			id, err := b.Send(ctx, from, data, text)
			return sentMsg{draft: draft, id: id, err: err}
		}
	}
	return c.update(k)
}

// applySent applies the result of a Send. The draft is cleared only when it
// is still the one that was sent: one the operator has edited or started
// since is kept.
func (m *Model) applySent(msg sentMsg) {
	c := &m.compose
	c.sending = false
	current := msg.draft == c.draft
	if msg.err != nil {
		if current {
			// Keep the text: the operator fixes it or tries again.
			c.err = errorText(msg.err)
		}
		m.setError(msg.err)
		return
	}
	if current {
		c.reset()
		if m.screen == screenCompose {
			m.screen = screenList
		}
	}
	m.setInfo("queued " + shortID(msg.id) + ": it is sent when rbd has the modem and a satellite")
}

// hasDraft reports whether the compose view holds text.
func (m *Model) hasDraft() bool { return strings.TrimSpace(m.compose.ta.Value()) != "" }
