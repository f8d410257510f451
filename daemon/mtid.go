package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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
// spooled and a republish after a crash stays a recognisable duplicate.
func (e *mtEpochs) id(imei string, mtmsn int) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur, ok := e.m[imei]
	if !ok {
		cur = &mtEpoch{Last: mtmsn}
		e.m[imei] = cur
	} else if mtmsn == cur.Last {
		return rb.MTIDEpoch(imei, cur.Epoch, mtmsn), nil
	}
	if ok && mtmsn < cur.Last && cur.Last-mtmsn > 32768 {
		cur.Epoch++
	}
	cur.Last = mtmsn
	b, err := json.Marshal(e.m)
	if err != nil {
		return "", fmt.Errorf("encode MT epochs: %w", err)
	}
	if err := writeFileSync(e.path, b); err != nil {
		return "", fmt.Errorf("save MT epochs: %w", err)
	}
	return rb.MTIDEpoch(imei, cur.Epoch, mtmsn), nil
}
