package queue

import (
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rockblock-station/rockblock-station/internal/redact"
)

// ErrNoURL is returned by ParseURLs for an address list without a URL.
var ErrNoURL = errors.New("no broker URL")

// ParseURLs splits a broker address list (Config.URL, the amqp_url setting:
// one URL or several separated by commas or whitespace, redact.Split) and
// checks every URL. The error names the bad URL redacted and its position,
// never a password.
func ParseURLs(list string) ([]string, error) {
	us := redact.Split(list)
	if len(us) == 0 {
		return nil, ErrNoURL
	}
	for i, u := range us {
		uri, err := amqp.ParseURI(u)
		if err == nil && (uri.Port < 1 || uri.Port > 65535) {
			err = fmt.Errorf("port %d is not a TCP port (1 to 65535)", uri.Port)
		}
		if err != nil {
			if len(us) == 1 {
				return nil, redact.Error(u, err)
			}
			return nil, fmt.Errorf("broker URL %d of %d: %w", i+1, len(us), redact.Error(u, err))
		}
	}
	return us, nil
}
