package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"sync"

	"github.com/rockblock-station/rockblock-station/internal/durable"
	"github.com/rockblock-station/rockblock-station/rb"
)

// mtEpochs keeps, per modem (IMEI), how often the gateway's 16-bit MTMSN
// counter wrapped and an anchor MTMSN near the last one read, in a file of
// the state directory, so that MT ids stay unique for the life of a station
// (rb.MTIDEpoch): after 65,536 messages MTMSN 3 comes again, and a store
// that has "mt-<imei>-00003" would take the new message for a duplicate.
//
// Every id is a function of the file's content and the MTMSN alone: what
// decides a message's epoch is saved (synced) before the id is handed out,
// and nothing else is kept in memory. So a crash, at any point, can never
// make a message read again get another id, nor a new message the id of an
// older one. The anchor moves only when a message is anchorStep or more away
// from it, so the file is synced once a wrap, once per new modem and once
// per anchorStep messages, not for every message (each sync costs a
// webhook delivery milliseconds on a busy disk).
type mtEpochs struct {
	mu   sync.Mutex
	path string
	m    map[string]*mtEpoch
	// fault, when set (tests), fails the save as a full disk does.
	fault func(path string) error
}

// mtEpoch is one modem's entry. Its JSON names are those of the file's
// first form, whose "last" was the last MTMSN read: a fine anchor.
type mtEpoch struct {
	Epoch int `json:"epoch"`
	Last  int `json:"last"` // the anchor
}

// anchorStep is how far an MTMSN may be from its modem's anchor before the
// anchor moves to it. It is the most by which "more than half the range
// back" (a wrap) is measured from another point than the last MTMSN: a
// small part of the 32,768 half range.
const anchorStep = 256

// halfRange is half the MTMSN counter's range: an MTMSN more than this
// below the anchor comes after a wrap, more than this above it before one.
const halfRange = 32768

func openMTEpochs(path string) (*mtEpochs, error) {
	e := &mtEpochs{path: path, m: map[string]*mtEpoch{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return e, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read MT epochs %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &e.m); err != nil {
		return nil, fmt.Errorf("parse MT epochs %s: %w (an operator must repair or remove it; removing it may reuse MT ids)", path, err)
	}
	return e, nil
}

// id returns the id of the MT message mtmsn of imei. An MTMSN more than
// half the counter's range below the anchor starts a new epoch (a wrap); one
// more than half the range above it is a message from before the last wrap,
// read late (Rock7 delivers again out of order), and keeps that epoch's id;
// in the first epoch there is none before, so the anchor moves to it (and
// the next message starts a new epoch: an epoch skipped, no id reused).
// A new modem, a new epoch or an anchor that moves is saved and synced
// before the id is returned. A save that fails changes nothing, in memory or
// on disk: the message read again later gets the id it would have got.
func (e *mtEpochs) id(imei string, mtmsn int) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur, ok := e.m[imei]
	var next *mtEpoch
	switch {
	case !ok:
		next = &mtEpoch{Last: mtmsn}
	case cur.Last-mtmsn > halfRange:
		next = &mtEpoch{Epoch: cur.Epoch + 1, Last: mtmsn}
	case mtmsn-cur.Last > halfRange && cur.Epoch > 0:
		return rb.MTIDEpoch(imei, cur.Epoch-1, mtmsn), nil
	case mtmsn-cur.Last >= anchorStep || cur.Last-mtmsn >= anchorStep:
		next = &mtEpoch{Epoch: cur.Epoch, Last: mtmsn}
	default:
		return rb.MTIDEpoch(imei, cur.Epoch, mtmsn), nil
	}
	m := maps.Clone(e.m)
	m[imei] = next
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode MT epochs: %w", err)
	}
	if e.fault != nil {
		if err := e.fault(e.path); err != nil {
			return "", fmt.Errorf("save MT epochs: write %s: %w", e.path, err)
		}
	}
	if err := durable.WriteFile(e.path, b); err != nil {
		return "", fmt.Errorf("save MT epochs: %w", err)
	}
	e.m = m
	return rb.MTIDEpoch(imei, next.Epoch, mtmsn), nil
}
