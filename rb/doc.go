// Package rb is the station's vocabulary, written once and imported by every
// other package: the JSON bodies (version 1) that travel between rbd and its
// clients, the states of an MO message and the rules between them (final,
// cancellable, resendable, supersedes), directions, credits and limits, the
// names that become AMQP properties or file names (stations, ids), the error
// kinds that cross packages, and the change notice from a client to a screen.
//
// It is vocabulary, not transport: it imports nothing of this module and no
// AMQP, SQL or terminal library, so the history (store), the screen (tui),
// the bus (queue), the daemon and the bridge can all speak it.
package rb
