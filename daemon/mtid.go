package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"sync"

	"github.com/rockblock-station/rockblock-station/rb"
)

// mtEpochs keeps, per modem (IMEI), how often the gateway's 16-bit MTMSN
// counter wrapped and the last MTMSN read, in a file of the state directory,
// so that MT ids stay unique for the life of a station (rb.MTIDEpoch): after
// 65,536 messages MTMSN 3 comes again, and a store that has
// "mt-<imei>-00003" would take the new message for a duplicate.
type mtEpochs struct {
	mu   sync.Mutex
	path string
	m    map[string]*mtEpoch
	// fault, when set (tests), fails the save as a full disk does.
	fault func(path string) error
}

type mtEpoch struct {
	Epoch int `json:"epoch"`
	Last  int `json:"last"`
}

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

// id returns the id of the MT message mtmsn of imei, starting a new epoch
// when the counter went back by more than half its range (a wrap; a message
// read again keeps its MTMSN and so its id). A new epoch or MTMSN is made
// durable before the id is returned, so the id is fixed when the message is
// spooled and a republish after a crash stays a recognisable duplicate. A
// save that fails changes nothing, in memory or on disk: the message read
// again later gets the id it would have got.
func (e *mtEpochs) id(imei string, mtmsn int) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur, ok := e.m[imei]
	if ok && mtmsn == cur.Last {
		return rb.MTIDEpoch(imei, cur.Epoch, mtmsn), nil
	}
	next := &mtEpoch{Last: mtmsn}
	if ok {
		next.Epoch = cur.Epoch
		if mtmsn < cur.Last && cur.Last-mtmsn > 32768 {
			next.Epoch++
		}
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
	if err := writeFileSync(e.path, b); err != nil {
		return "", fmt.Errorf("save MT epochs: %w", err)
	}
	e.m = m
	return rb.MTIDEpoch(imei, next.Epoch, mtmsn), nil
}
