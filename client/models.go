package client

import (
	"context"
	"sync"
	"time"
)

// modelTTL is how long a station's modem model read from the history is
// taken as it is. Another process sharing the history may write a new one
// (a modem swapped while this process saw no reading): it shows within this
// time. A reading on the live feed names the model at once anyway.
const modelTTL = time.Minute

// models caches each station's modem model as the history last said it, so
// a station state (read at every change by each front end) costs no meta
// queries for it.
type models struct {
	mu sync.Mutex
	m  map[string]cachedModel
}

type cachedModel struct {
	model string
	at    time.Time
}

// modelOf returns the modem model of station name: the history's meta for it,
// or, for the client's own station, the one written before the fleet
// console (a one-station client's key).
func (c *Client) modelOf(ctx context.Context, name string) string {
	now := c.cfg.Now()
	c.models.mu.Lock()
	cm, ok := c.models.m[name]
	c.models.mu.Unlock()
	if ok && now.Sub(cm.at) >= 0 && now.Sub(cm.at) < modelTTL {
		return cm.model
	}
	model := ""
	if v, ok, err := c.st.Meta(ctx, metaModel+"."+name); err == nil && ok {
		model = v
	} else if err != nil {
		return "" // not cached: try again at the next read
	} else if v, ok, err := c.st.Meta(ctx, metaModel); err == nil && ok && name == c.cfg.Station {
		model = v
	} else if err != nil {
		return ""
	}
	c.setModel(name, model)
	return model
}

// setModel records station name's model as this process wrote or read it.
func (c *Client) setModel(name, model string) {
	c.models.mu.Lock()
	defer c.models.mu.Unlock()
	if c.models.m == nil {
		c.models.m = map[string]cachedModel{}
	}
	c.models.m[name] = cachedModel{model: model, at: c.cfg.Now()}
}
