package store

import (
	"strings"

	"github.com/rockblock-station/rockblock-station/rb"
)

// openStatesSQL is rb.OpenStates as an SQL list, as in the messages_open index.
var openStatesSQL = "('" + strings.Join(rb.OpenStates, "', '") + "')"
