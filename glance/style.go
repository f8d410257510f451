package glance

import (
	"fmt"
	"strings"
)

// Styles are the tmux styles of the glance, as tmux writes them inside
// #[...] ("bold", "fg=red,bold", "fg=colour208"); "" is the status bar's
// own style, with no markup at all.
type Styles struct {
	// Normal is the lit bars and a good reading (default "").
	Normal string
	// Dim is the unlit cells, "stale" and "no data" (default "dim").
	Dim string
	// Alarm is "no svc", "0/5", "offline" and "no broker" (default "reverse").
	Alarm string
	// Unread is the unread count ✉N (default "bold").
	Unread string
}

// DefaultStyles read on any status bar: no colours, only attributes.
var DefaultStyles = Styles{Dim: "dim", Alarm: "reverse", Unread: "bold"}

// Config keys of the styles (the shared config file, `key = value`).
const (
	KeyStyle       = "glance_style"
	KeyDimStyle    = "glance_dim_style"
	KeyAlarmStyle  = "glance_alarm_style"
	KeyUnreadStyle = "glance_unread_style"
)

// StylesFrom returns DefaultStyles changed by the style keys of a config
// file's other keys (config.Config.Extra). A value of "none" or "" is the
// status bar's own style. A value tmux could take for more than a style
// (a ']' would end the markup) is an error; the defaults stay.
func StylesFrom(kv map[string]string) (Styles, error) {
	st := DefaultStyles
	for _, k := range []struct {
		key string
		to  *string
	}{{KeyStyle, &st.Normal}, {KeyDimStyle, &st.Dim}, {KeyAlarmStyle, &st.Alarm}, {KeyUnreadStyle, &st.Unread}} {
		v, ok := kv[k.key]
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if v == "none" {
			v = ""
		}
		if !ValidStyle(v) {
			return DefaultStyles, fmt.Errorf("config: %s %q: want a tmux style such as bold or fg=red,bold", k.key, v)
		}
		*k.to = v
	}
	return st, nil
}

// ValidStyle reports whether s is made of what tmux styles are made of:
// letters, digits and , = # - _ (so it cannot end the #[...] markup).
func ValidStyle(s string) bool {
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == ',' || r == '=' || r == '#' || r == '-' || r == '_'
		if !ok {
			return false
		}
	}
	return len(s) <= 64
}
