package rb

import "fmt"

// DefaultStation is the station name of a single-modem setup.
const DefaultStation = "default"

// MaxNameLen is the longest station name or message id. Both end up in AMQP
// short strings (routing keys, message_id "<id>:<state>:<attempt>", queue
// names), which hold at most 255 bytes, and in file names.
const MaxNameLen = 64

// MaxFleet is the most stations a client that follows every station on the
// bus (rbtui --all) takes on: each becomes rows, a glance file and a line on
// the screen, so a publisher that invents station names must not grow them
// without end.
const MaxFleet = 256

// MaxIDLen is the longest message id: a status's message_id adds the state
// and attempt to it and must stay within AMQP's 255-byte short string.
const MaxIDLen = 128

// nameByte reports the bytes allowed in a station name or id: letters,
// digits, '-' and '_' (and '.' in ids). Anything else could be a topic
// wildcard, a path separator, a control character or a space.
func nameByte(c byte, dot bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		return true
	case c == '.':
		return dot
	}
	return false
}

// CheckStation reports a station name that cannot be a routing-key word, a
// queue name's suffix or a file name: it must be 1 to MaxNameLen bytes of
// letters, digits, '-' and '_'.
func CheckStation(s string) error {
	return checkName("station", s, MaxNameLen, false)
}

// CheckClientID reports a client id (the suffix of a client's inbox queue)
// under the rules of CheckStation.
func CheckClientID(s string) error {
	return checkName("client id", s, MaxNameLen, false)
}

// CheckID reports a message id that cannot become an AMQP message_id or
// correlation_id: it must be 1 to MaxIDLen bytes of letters, digits, '-',
// '_' and '.'.
func CheckID(s string) error {
	return checkName("id", s, MaxIDLen, true)
}

func checkName(kind, s string, max int, dot bool) error {
	if s == "" {
		return fmt.Errorf("empty %s", kind)
	}
	if len(s) > max {
		return fmt.Errorf("%s of %d bytes, over the limit of %d", kind, len(s), max)
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i], dot) {
			return fmt.Errorf("bad %s %.40q: only letters, digits, '-' and '_'%s are allowed", kind, s, map[bool]string{true: " and '.'"}[dot])
		}
	}
	return nil
}
