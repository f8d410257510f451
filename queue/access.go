package queue

import (
	"errors"
	"fmt"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Why the broker refused: each wraps ErrRefused where a publish is concerned,
// so a caller that only asks errors.Is(err, ErrRefused) still sees a refusal,
// and one that says why asks for the kind.
var (
	// ErrAccessRefused: the broker refused this user: a bad user name or
	// password, no access to the virtual host, or (on a publish or a
	// declare) a permission the user's role does not hold (architecture.md,
	// broker users by role; scripts/broker-users.sh). Trying again does not
	// help until the broker's users change.
	ErrAccessRefused = errors.New("broker refused access")
	// ErrOutboxFull: the queue a publish routes to refused it (a nack: the
	// station's outbox at its bound, or the queue unavailable).
	ErrOutboxFull = errors.New("outbox full or unavailable")
	// ErrNoOutbox: no queue is bound for the routing key (a basic.return of
	// a mandatory message): for an MO, no rbd ever declared the station's
	// outbox (a misspelt station, or its rbd never ran on this broker).
	ErrNoOutbox = errors.New("no queue bound for its routing key (for an MO: the station has no outbox on this broker)")
)

// accessRefused reports whether err is the broker refusing this user: an
// AMQP 403 ACCESS_REFUSED (login, or a permission of a channel operation) or
// a 530 NOT_ALLOWED that refuses the virtual host to the user.
func accessRefused(err error) bool {
	var ae *amqp.Error
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Code {
	case amqp.AccessRefused:
		return true
	case amqp.NotAllowed:
		return strings.Contains(ae.Reason, "refused for user")
	}
	return false
}

// refusedPublish reports whether the channel closed with e because the
// broker refused this publish: an ACCESS_REFUSED whose text names the
// exchange and, for a topic permission, the routing key. RabbitMQ 3.10
// words them "access to exchange 'X' in vhost …" and "access to topic 'KEY'
// in exchange 'X' in vhost …"; the default exchange is "amq.default".
// tries counts the publish's earlier channels that the broker closed with
// 403 as well: at the third, the refusal is taken as this publish's whatever
// the words (another version may word it otherwise).
func refusedPublish(e *amqp.Error, exchange, key string, tries int) bool {
	if e == nil || e.Code != amqp.AccessRefused {
		return false
	}
	if tries >= 3 {
		return true
	}
	if exchange == "" {
		exchange = "amq.default"
	}
	if !strings.Contains(e.Reason, "exchange '"+exchange+"'") {
		return false
	}
	return !strings.Contains(e.Reason, "topic '") || strings.Contains(e.Reason, "topic '"+key+"'")
}

// accessError adds ErrAccessRefused to a connection or declare error that
// is the broker refusing this user, with the words an operator needs.
func accessError(err error) error {
	if err == nil || !accessRefused(err) || errors.Is(err, ErrAccessRefused) {
		return err
	}
	var ae *amqp.Error
	errors.As(err, &ae)
	why := "403: a permission this broker user lacks"
	switch {
	case ae.Code == amqp.NotAllowed:
		why = "530: this broker user may not use the virtual host"
	case strings.Contains(ae.Reason, "Login was refused") || ae == amqp.ErrCredentials:
		why = "403: bad user name or password"
	}
	return fmt.Errorf("%w (%s): %w", ErrAccessRefused, why, err)
}
