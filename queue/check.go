package queue

import (
	"errors"
	"fmt"
	"mime"

	"github.com/rockblock-station/rockblock-station/rb"
)

// ErrInvalid is returned by Publish for a message the broker can never take:
// an AMQP short string (message_id, correlation_id, type, routing key) over
// 255 bytes, or a body over rb.MaxBody. It is permanent: trying again cannot
// help, so a caller parks the message (marks it failed, keeps it for the
// operator) instead of retrying. Such a message never reaches the wire, so it
// never costs the connection.
var ErrInvalid = errors.New("message the broker cannot take")

// ContentType is the content type of every body on the bus.
const ContentType = "application/json"

// maxShortString is AMQP 0-9-1's limit on a short string (one length byte).
const maxShortString = 255

// checkPublishing refuses, with ErrInvalid, what the broker could never take.
func checkPublishing(key, typ, messageID, correlationID string, body []byte) error {
	for _, f := range []struct{ name, v string }{
		{"routing key", key}, {"type", typ}, {"message_id", messageID}, {"correlation_id", correlationID},
	} {
		if len(f.v) > maxShortString {
			return fmt.Errorf("%w: %s is %d bytes, AMQP allows %d", ErrInvalid, f.name, len(f.v), maxShortString)
		}
	}
	if len(body) > rb.MaxBody {
		return fmt.Errorf("%w: body is %d bytes, the limit is %d", ErrInvalid, len(body), rb.MaxBody)
	}
	return nil
}

// checkDelivery refuses, before any decoding, a delivery no consumer should
// parse: a body over rb.MaxBody or one that is not JSON. The error wraps
// rb.ErrMalformed, so it is dead-lettered like any malformed body.
func checkDelivery(contentType string, body []byte) error {
	if len(body) > rb.MaxBody {
		return fmt.Errorf("%w: body is %d bytes, the limit is %d", rb.ErrMalformed, len(body), rb.MaxBody)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != ContentType {
		return fmt.Errorf("%w: content type %q, want %s", rb.ErrMalformed, contentType, ContentType)
	}
	return nil
}
