package client

import (
	"context"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/tui"
)

var _ tui.StatsSource = (*Backend)(nil)

// SessionStats implements tui.StatsSource: the session statistics of the
// history (rbd's session reports and the credits of the messages).
func (b *Backend) SessionStats(ctx context.Context, since, until time.Time) (rb.SessionStats, error) {
	return b.c.st.SessionStats(ctx, b.c.filter(""), since, until)
}
