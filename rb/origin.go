package rb

import (
	"context"
	"strings"
	"unicode/utf8"
)

// The ways an MO message comes (Origin.Via).
const (
	// ViaTerminal is the inbox on the station computer's own terminal (rbtui).
	ViaTerminal = "terminal"
	// ViaSSH is the inbox or a command over rbtui ssh.
	ViaSSH = "ssh"
	// ViaWeb is the web chat or another Socket.IO client of rbtui serve.
	ViaWeb = "web"
	// ViaCommand is rbtui send on the station computer.
	ViaCommand = "command"
)

// MaxOriginBy is the longest Origin.By kept, in bytes (a key's comment can
// be long); Clean cuts a longer one.
const MaxOriginBy = 64

// Origin is who composed an MO message and how: By names the SSH key (its
// comment, else its fingerprint) or the local user; Via is one of the Via
// constants. It travels with the Send and is kept in the history.
type Origin struct {
	By  string `json:"by,omitempty"`
	Via string `json:"via,omitempty"`
}

// Clean returns o with By trimmed and cut to MaxOriginBy bytes.
func (o Origin) Clean() Origin {
	o.By = strings.TrimSpace(o.By)
	if len(o.By) > MaxOriginBy {
		cut := MaxOriginBy
		for cut > 0 && !utf8.RuneStart(o.By[cut]) {
			cut--
		}
		o.By = o.By[:cut]
	}
	return o
}

type originKey struct{}

// WithOrigin returns ctx carrying o: whoever composes through ctx (the
// client's Compose and Resend) records o instead of its own default. The
// SSH server sets it per session, so one shared client knows each key.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginOf returns the origin ctx carries, if any.
func OriginOf(ctx context.Context) (Origin, bool) {
	o, ok := ctx.Value(originKey{}).(Origin)
	return o, ok
}
