package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

var seedWords = strings.Fields(`position fix battery nominal wind north east south west heading
	speed knots camp water fuel weather storm clear all good arrived departing delayed resupply
	medical ok signal check reply later tomorrow morning evening ice crevasse summit base relay
	sensor reading temperature pressure humidity solar panel charge low high station alpha bravo`)

// Seed fills the store with n synthetic messages in one transaction through
// prepared statements (about one message a minute, ending at the clock's
// now; MT and MO alternate, MO ones sent, every tenth MT unread), for
// benchmarks and demos. Seeded ids start with "seed-"; seeding again skips
// the ids already there.
func (s *Store) Seed(ctx context.Context, n int) error {
	if n < 0 {
		return fmt.Errorf("store seed: negative count %d", n)
	}
	end := ms(s.opts.Now())
	return s.tx(ctx, "seed", func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO messages
			(id, direction, station, data, text, bytes, state, created_at, updated_at, momsn, mtmsn,
			 attempts, read, credits, billed_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer ins.Close()
		var b strings.Builder
		for i := range n {
			if i%1024 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			b.Reset()
			words := 3 + i%9
			for w := range words {
				if w > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(seedWords[(i*7+w*13+w*i)%len(seedWords)])
			}
			fmt.Fprintf(&b, " #%d", i)
			text := b.String()
			at := end - int64(n-1-i)*int64(time.Minute/time.Millisecond)
			credits := rb.Credits(len(text))
			if i%2 == 0 {
				_, err = ins.ExecContext(ctx, fmt.Sprintf("seed-%08d", i), rb.DirMT, rb.DefaultStation, []byte(text), text,
					len(text), rb.StateReceived, at, at, nil, i/2%65536, 0, i%20 != 0, credits, at)
			} else {
				_, err = ins.ExecContext(ctx, fmt.Sprintf("seed-%08d", i), rb.DirMO, rb.DefaultStation, []byte(text), text,
					len(text), rb.StateSent, at, at, i/2%65536, nil, 1, true, credits, at)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}
