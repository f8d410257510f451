package store

import (
	"context"
	"database/sql"
	"time"
)

// ClaimLease is how long a claim on a queued row holds (Claim): long
// enough to publish the row and mark it submitted (the client gives a
// publish 10 s), short enough that a row whose claimant died goes out with
// another process soon.
const ClaimLease = 30 * time.Second

// Claim takes the right to publish the queued MO row id for this Store
// (each Store, so each process, is its own claimant) for ClaimLease, and
// reports whether it got it: false when the row is no longer queued or
// another Store holds a claim on it that has not lapsed. A Store may claim
// a row again that it holds already (the lease starts anew).
//
// Several processes share one history (rbtui in several terminals, rbtui
// send, rbtui serve): each flushes the outbox, and without a claim each
// would publish every queued row. rbd drops the copies by id, but each
// takes a place in the station's outbox.
func (s *Store) Claim(ctx context.Context, id string) (claimed bool, err error) {
	now := s.opts.Now()
	err = s.tx(ctx, "claim "+id, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM outbox_claims WHERE until < ?", ms(now)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO outbox_claims (id, owner, until)
			SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM messages WHERE id = ?1 AND direction = 'mo' AND state = 'queued')
			ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, until = excluded.until
				WHERE outbox_claims.owner = excluded.owner`,
			id, s.owner, ms(now.Add(ClaimLease)))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		claimed = n > 0
		return err
	})
	return claimed, err
}
