package tui

// readOrder keeps a component's reads in the order they were asked for.
// Commands run concurrently, so a read started before a change (the
// archivist writing an MT) can answer after the read the change started;
// applying it would show the older state until the next change.
type readOrder struct {
	asked, applied uint64
}

// next numbers a new read; call it from Update, where the read is made.
func (o *readOrder) next() uint64 {
	o.asked++
	return o.asked
}

// fresh reports whether the answer of read n is newer than every answer
// applied so far, and records it as applied when it is.
func (o *readOrder) fresh(n uint64) bool {
	if n < o.applied {
		return false
	}
	o.applied = n
	return true
}
