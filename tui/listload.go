package tui

import (
	"errors"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/rockblock-station/rockblock-station/rb"
)

// The list's reads: pages of older rows as the selection nears the loaded
// end, and fresh copies of the rows a change names. Every read is a
// command; its result comes back to the list's Update.

// loadPage reads the page of the station shown older than before.
func (l *listModel) loadPage(before rb.Cursor, gen int) tea.Cmd {
	c, limit, station := l.c, l.pageSize, l.c.station
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		rows, next, err := c.b.List(ctx, station, before, limit)
		return pageMsg{gen: gen, rows: rows, next: next, end: len(rows) < limit, err: err}
	}
}

// loadFirst reads the newest page (the start, or another station shown).
func (l *listModel) loadFirst() tea.Cmd { return l.loadPage(rb.Cursor{}, l.gen) }

// loadUntil pages from before until the row at target is loaded, then
// selects it (a search jump to a match beyond the loaded rows).
func (l *listModel) loadUntil(target rb.Cursor) tea.Cmd {
	c, limit, station := l.c, max(l.pageSize, 500), l.c.station
	before, id, gen := l.next, target.ID, l.gen
	l.loading = true
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		var all []rb.Message
		next, end := before, false
		for !end {
			rows, n, err := c.b.List(ctx, station, next, limit)
			if err != nil {
				return pageMsg{gen: gen, err: err}
			}
			all = append(all, rows...)
			next, end = n, len(rows) < limit
			if len(rows) == 0 || n.Before(target) || n == target {
				break
			}
		}
		return pageMsg{gen: gen, rows: all, next: next, end: end, selectID: id}
	}
}

// maybeLoadMore pages older rows when the selection nears the loaded end.
func (l *listModel) maybeLoadMore() tea.Cmd {
	if l.end || l.loading {
		return nil
	}
	if len(l.rows) > 0 && l.sel < len(l.rows)-max(l.h*2, l.pageSize/4) {
		return nil
	}
	l.loading = true
	return l.loadPage(l.next, l.gen)
}

// applyPage applies a page read.
func (l *listModel) applyPage(msg pageMsg) tea.Cmd {
	if msg.gen != l.gen {
		return nil // a reload superseded this page
	}
	l.loading = false
	if msg.err != nil {
		l.c.status.fail(msg.err)
		return nil
	}
	l.appendRows(msg.rows, msg.next, msg.end)
	if msg.selectID != "" {
		if i := l.find(msg.selectID); i >= 0 {
			l.selectIndex(i)
		}
	}
	return l.maybeLoadMore()
}

// readRows reads the rows a change names (all of them: the newest page and
// the open ones), or, while a read is in flight or waits to be made again,
// keeps the change for the read that follows it.
func (l *listModel) readRows(c rb.Change) tea.Cmd {
	if !c.All && len(c.IDs) == 0 {
		return nil
	}
	if l.reading {
		l.pending = l.pending.Merge(c)
		return nil
	}
	l.reading, l.inflight = true, c
	if c.All {
		return l.refresh()
	}
	return l.getMsgs(dedupe(c.IDs))
}

// readDone ends the read in flight and starts the one that waited for it.
func (l *listModel) readDone() tea.Cmd {
	l.reading, l.inflight = false, rb.Change{}
	next := l.pending
	l.pending = rb.Change{}
	return l.readRows(next)
}

// Reads of changed rows that fail are made again after readRetryFirst,
// doubling up to readRetryMax while they keep failing.
const (
	readRetryFirst = 250 * time.Millisecond
	readRetryMax   = 10 * time.Second
)

// readFailed keeps the change of the read that failed for a read made
// again after a while; changes that come meanwhile join it. The list stays
// "reading" until then, so a history that cannot answer is not asked in a
// loop.
func (l *listModel) readFailed() tea.Cmd {
	l.pending = l.inflight.Merge(l.pending)
	l.inflight = rb.Change{}
	l.retry = min(max(2*l.retry, readRetryFirst), readRetryMax)
	gen := l.gen
	return tea.Tick(l.retry, func(time.Time) tea.Msg { return readRetryMsg{gen: gen} })
}

// retryRead makes the failed read again with every change kept since.
func (l *listModel) retryRead(gen int) tea.Cmd {
	if gen != l.gen || !l.reading || !l.inflight.IsZero() {
		return nil // a reload dropped it, or the read is made already
	}
	return l.readDone()
}

// applyRows puts fresh copies of messages in the list; it rings the bell
// (when asked to) for an MT message new to the screen. A read that failed
// (partly) is made again (readFailed).
func (l *listModel) applyRows(gen int, rows []rb.Message, err error) tea.Cmd {
	if gen != l.gen {
		return nil // read before a reload: the reload reads its own rows
	}
	bell := false
	paged := l.paged
	for _, x := range rows {
		x.History = nil
		l.c.status.seen(x)
		if l.upsert(x) && paged && x.Dir == rb.DirMT && !x.Read {
			bell = true
		}
	}
	var ring tea.Cmd
	if bell && l.c.opts.Bell {
		ring = tea.Raw("\a")
	}
	if err != nil {
		l.c.status.fail(err)
		return tea.Batch(ring, l.readFailed(), l.maybeLoadMore())
	}
	l.retry = 0
	return tea.Batch(ring, l.readDone(), l.maybeLoadMore())
}

func (l *listModel) getMsgs(ids []string) tea.Cmd {
	c, gen := l.c, l.gen
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		var out []rb.Message
		for _, id := range ids {
			msg, err := c.b.Get(ctx, id)
			if errors.Is(err, rb.ErrNotFound) {
				continue
			}
			if err != nil {
				return gotMsg{gen: gen, msgs: out, err: err}
			}
			out = append(out, msg)
		}
		return gotMsg{gen: gen, msgs: out}
	}
}

// maxRefreshRows bounds the newest rows one refresh reads again;
// maxRefreshOpen bounds the loaded rows beyond them that it looks at again.
const (
	maxRefreshRows = 2048
	maxRefreshOpen = 256
)

// refresh looks again at what another process may have changed: every
// loaded row from the newest (new rows, also ones that fall between loaded
// rows, such as an MO another client composed that this history learns of
// late; states that moved), up to maxRefreshRows, and every loaded MO row
// beyond that which is not final yet. The loaded rows and the selection
// stay where they are.
func (l *listModel) refresh() tea.Cmd {
	c, station, gen := l.c, l.c.station, l.gen
	limit := min(max(l.pageSize, len(l.rows)), maxRefreshRows)
	var open []string
	for i := limit; i < len(l.rows) && len(open) < maxRefreshOpen; i++ {
		if r := l.rows[i].m; r.Dir == rb.DirMO && !rb.Final(r.State) {
			open = append(open, r.ID)
		}
	}
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		rows, _, err := c.b.List(ctx, station, rb.Cursor{}, limit)
		if err != nil {
			return refreshMsg{gen: gen, err: err}
		}
		for _, id := range open {
			msg, err := c.b.Get(ctx, id)
			if errors.Is(err, rb.ErrNotFound) {
				continue
			}
			if err != nil {
				return refreshMsg{gen: gen, rows: rows, err: err}
			}
			msg.History = nil
			rows = append(rows, msg)
		}
		return refreshMsg{gen: gen, rows: rows}
	}
}

// reset empties the list for a reload from the newest row (another
// station shown); what is read or paged for the old one is dropped.
func (l *listModel) reset() {
	l.gen++
	l.rows, l.sel, l.off, l.newAbove = nil, 0, 0, 0
	l.next, l.end, l.loading = rb.Cursor{}, false, true
	l.pending, l.reading, l.inflight, l.retry = rb.Change{}, false, rb.Change{}, 0
}
