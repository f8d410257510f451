package tui

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/rockblock-station/rockblock-station/rb"
)

// actions are the operator's acts on a message, asked for by a key of the
// list or of the detail view alike: open, mark read, compose and reply,
// cancel and resend, search and step through its matches. They reach the
// parts of the screen they change; the list and the detail view share one.
type actions struct {
	c       *common
	list    *listModel
	detail  *detailModel
	header  *headerModel
	compose *composeModel
	search  *searchModel
	// resending holds the originals whose resend is in flight; resent maps
	// an original to the copy this session queued, so a second R asks
	// before billing another copy.
	resending map[string]bool
	resent    map[string]string
	// reads are the read states asked for and not yet written.
	reads readIntents
}

// readIntents serialise the writes of a message's read state: enter (mark
// read) and m (unread) right after it run as two commands at once, and
// each writes the state asked for last, so the history ends as the screen
// shows it whichever runs first.
type readIntents struct {
	mu   sync.Mutex
	want map[string]bool
}

// set notes that id should be read (or not); the model calls it.
func (r *readIntents) set(id string, read bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.want == nil {
		r.want = map[string]bool{}
	}
	r.want[id] = read
}

// write writes the state last asked for id, if not written yet; a command calls it.
func (r *readIntents) write(ctx context.Context, b Backend, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	read, ok := r.want[id]
	if !ok {
		return nil // written by the other command already
	}
	delete(r.want, id)
	if read {
		return b.MarkRead(ctx, id)
	}
	return b.MarkUnread(ctx, id)
}

// key handles a key of ak on msg, the message in view (ok false: none). It
// returns the view to switch to.
func (a *actions) key(k tea.KeyPressMsg, ak actionKeys, msg rb.Message, ok bool) (screen, tea.Cmd) {
	if a.refusedWrite(k, ak) {
		return stay, nil
	}
	switch {
	case key.Matches(k, ak.Help):
		return screenHelp, nil
	case key.Matches(k, ak.Compose):
		return a.openCompose("", a.c.station), nil
	case key.Matches(k, ak.Reply):
		label, from := "", a.c.station
		if ok && msg.Dir == rb.DirMT {
			label = "reply to MT " + a.c.fmtTime(msg.Created) + " " + quote(previewOf(msg, 30, a.c.glyphs))
			from = msg.Station // a reply goes back through the station it came from
		}
		return a.openCompose(label, from), nil
	case key.Matches(k, ak.Cancel):
		if ok {
			a.askCancel(msg)
		}
	case key.Matches(k, ak.Resend):
		if ok {
			return a.askResend(msg)
		}
	case key.Matches(k, ak.MarkRead):
		switch {
		case !ok:
		case !msg.Read:
			return stay, a.markRead(msg.ID)
		case msg.Dir != rb.DirMT:
			a.c.status.fail(errors.New("only a received (MT) message can be marked unread"))
		default:
			return stay, a.markUnread(msg.ID)
		}
	case key.Matches(k, ak.MarkAllRead):
		return stay, a.markAllRead()
	case key.Matches(k, ak.Search):
		return stay, a.search.start()
	case key.Matches(k, ak.Next):
		return a.search.jump(+1)
	case key.Matches(k, ak.Prev):
		return a.search.jump(-1)
	}
	return stay, nil
}

// open shows the selected message in the detail view, reads it in full
// (its history) and marks it read.
func (a *actions) open() (screen, tea.Cmd) {
	r, ok := a.list.selected()
	if !ok {
		return stay, nil
	}
	a.detail.set(r.m, true)
	cmds := []tea.Cmd{a.detail.getOne(r.m.ID)}
	if !r.m.Read {
		cmds = append(cmds, a.markRead(r.m.ID))
	}
	return screenDetail, tea.Batch(cmds...)
}

// markRead marks id read on screen at once and in the backend.
func (a *actions) markRead(id string) tea.Cmd {
	if i := a.list.find(id); i >= 0 {
		if !a.list.rows[i].m.Read && a.header.header.Unread > 0 {
			a.header.header.Unread--
			a.header.invalidate()
		}
		a.list.rows[i].m.Read = true
	}
	if a.detail.m.ID == id {
		a.detail.m.Read = true
	}
	a.reads.set(id, true)
	return a.writeRead(id)
}

// markUnread marks id unread again, on screen at once and in the backend.
func (a *actions) markUnread(id string) tea.Cmd {
	if i := a.list.find(id); i >= 0 && a.list.rows[i].m.Read {
		a.list.rows[i].m.Read = false
		a.header.header.Unread++
		a.header.invalidate()
	}
	if a.detail.m.ID == id {
		a.detail.m.Read = false
		a.detail.rebuild()
	}
	a.c.status.info("marked " + shortID(id) + " unread")
	a.reads.set(id, false)
	return a.writeRead(id)
}

// writeRead writes id's read flag, as the screen now shows it, to the backend.
func (a *actions) writeRead(id string) tea.Cmd {
	b := a.c.b
	return func() tea.Msg {
		ctx, cancel := a.c.call()
		defer cancel()
		if err := a.reads.write(ctx, b, id); err != nil {
			return actionMsg{err: err}
		}
		return nil
	}
}

// step opens the message n rows away from the open one in the list (J:
// the next, older one; K: the previous, newer one), as enter opens it.
func (a *actions) step(n int) (screen, tea.Cmd) {
	if i := a.list.find(a.detail.m.ID); i >= 0 && a.detail.loaded {
		a.list.selectIndex(i)
	}
	before := a.list.sel
	a.list.move(n)
	if a.list.sel == before {
		if n > 0 {
			a.c.status.info("no older message loaded")
		} else {
			a.c.status.info("no newer message")
		}
		return stay, a.list.maybeLoadMore()
	}
	s, cmd := a.open()
	if s == stay {
		s = screenDetail
	}
	return s, tea.Batch(cmd, a.list.maybeLoadMore())
}

// markAllRead marks every message read, on screen at once and in the backend.
func (a *actions) markAllRead() tea.Cmd {
	for i := range a.list.rows {
		a.list.rows[i].m.Read = true
	}
	a.detail.m.Read = true
	a.header.header.Unread = 0
	a.header.invalidate()
	b, station := a.c.b, a.c.station
	return func() tea.Msg {
		ctx, cancel := a.c.call()
		defer cancel()
		n, err := b.MarkAllRead(ctx, station)
		if err != nil {
			return actionMsg{err: err}
		}
		return actionMsg{done: fmt.Sprintf("marked %d read", n)}
	}
}

func (a *actions) askCancel(msg rb.Message) {
	if msg.Dir != rb.DirMO {
		a.c.status.fail(errors.New("only an MO message (one you sent) can be cancelled"))
		return
	}
	if !rb.Cancellable(msg.State) {
		a.c.status.fail(fmt.Errorf("cannot cancel: the message is %s", msg.State))
		return
	}
	b, id := a.c.b, msg.ID
	a.c.status.ask(&confirmation{
		prompt: "Cancel MO " + a.c.fmtTime(msg.Created) + " " + quote(previewOf(msg, 30, a.c.glyphs)) + "? y/n",
		no:     "not cancelled",
		yes: func() tea.Cmd {
			a.c.status.info("cancelling…")
			return func() tea.Msg {
				ctx, cancel := a.c.call()
				defer cancel()
				if err := b.Cancel(ctx, id); err != nil {
					return actionMsg{err: err}
				}
				// rbd decides: a session may already carry the message. The
				// state change, if any, arrives as an update.
				return actionMsg{done: "cancel requested for " + shortID(id), about: id, kind: announceCancel}
			}
		},
	})
}

func (a *actions) askResend(msg rb.Message) (screen, tea.Cmd) {
	if msg.Dir == rb.DirMO && msg.State == rb.StateCancelled {
		return a.draftFrom(msg)
	}
	if msg.Dir != rb.DirMO || !rb.Resendable(msg.State) {
		a.c.status.fail(fmt.Errorf("only a failed or unknown MO message can be resent (this one is %s)", msg.State))
		return stay, nil
	}
	b, id := a.c.b, msg.ID
	if a.resending[id] {
		a.c.status.info("the resend of " + shortID(id) + " is in flight: wait for its result")
		return stay, nil
	}
	do := func() tea.Cmd {
		if a.resending[id] {
			return nil
		}
		a.resending[id] = true
		a.c.status.info("resending…")
		return func() tea.Msg {
			ctx, cancel := a.c.call()
			defer cancel()
			nid, err := b.Resend(ctx, id)
			return resentMsg{orig: id, id: nid, err: err}
		}
	}
	if prev, ok := a.resent[id]; ok {
		a.c.status.ask(&confirmation{
			prompt: "Already resent as " + shortID(prev) + ": another copy is billed again. Resend again? y/n",
			no:     "not resent: already resent as " + shortID(prev),
			yes:    do,
		})
		return stay, nil
	}
	if msg.State == rb.StateUnknown {
		a.c.status.ask(&confirmation{
			prompt: "It may have been delivered (and billed) already. Resend anyway? y/n",
			no:     "not resent",
			yes:    do,
		})
		return stay, nil
	}
	return stay, do()
}

// draftFrom opens a cancelled message in compose as a draft, to edit and
// send again (a new message), unless another draft is being written.
func (a *actions) draftFrom(msg rb.Message) (screen, tea.Cmd) {
	if a.compose.hasDraft() {
		a.c.status.info("a draft is open: send or clear it first (c opens it)")
		return stay, nil
	}
	if msg.Data == nil && msg.Text == "" {
		a.c.status.fail(errors.New("this client does not have the message's payload (it was sent from another client)"))
		return stay, nil
	}
	a.compose.setDraft(msg)
	return a.openCompose("draft from the cancelled MO "+a.c.fmtTime(msg.Created), msg.Station), nil
}

// apply applies the result of an action.
func (a *actions) apply(msg tea.Msg) {
	switch msg := msg.(type) {
	case actionMsg:
		switch {
		case msg.err != nil:
			a.c.status.fail(msg.err)
		case msg.about != "":
			a.c.status.announce(msg.done, msg.about, msg.kind)
			// The state may have moved on before the answer came.
			if i := a.list.find(msg.about); i >= 0 {
				a.c.status.seen(a.list.rows[i].m)
			}
		case msg.done != "":
			a.c.status.info(msg.done)
		}
	case resentMsg:
		a.applyResent(msg)
	}
}

func (a *actions) applyResent(msg resentMsg) {
	delete(a.resending, msg.orig)
	if msg.err != nil {
		a.c.status.fail(msg.err)
		return
	}
	a.resent[msg.orig] = msg.id
	a.c.status.info("resent as " + shortID(msg.id) + " (queued)")
}

// openCompose opens compose; from is the station that sends (the fleet
// console: the station shown, or the replied message's; "" asks).
func (a *actions) openCompose(label, from string) screen {
	a.compose.open(label, from)
	return screenCompose
}
