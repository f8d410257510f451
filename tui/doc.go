// Package tui is rbtui's full-screen inbox: the message list with unread
// markers and delivery-state glyphs, a detail pane, compose with a live byte
// and credit count, a header with signal, service, modem and broker state,
// search and help. It is built on Bubble Tea v2.
//
// The package knows nothing of SQL or AMQP: it talks to a Backend, which the
// program makes over the client (NewBackend over client.Client, which hands
// out the messages and station states every front end shares).
// Every string that came from the satellite is passed through textsafe
// before it reaches the terminal.
//
// The screen is made of components (soft-serve's pkg/ui/common, gh-dash's
// ui/components): the header, the station list, the message list, the
// detail view, compose, the search line, help and the statistics each own
// their state, key map, short and full help, size, view and Update, and
// make their own Backend calls (as commands). The list and the detail view
// share their action keys (actions.go); every component reports to the
// status line (status.go). The root Model only routes: keys and pastes to
// the component in focus, each command's result to the component that asked
// for it, the live feed's changes to the components that read again. It
// lays them out (layout.go): from SplitWidth columns the list and the detail
// view side by side (split.go); with more than one station the station list
// above the inbox filters it (the fleet console), and every Backend call
// names the station shown. It switches the view a component's Update
// returns, and holds the global keys (ctrl+c; ? through the views that
// offer it).
//
// The components' tests run over the real client (package tui_test, beside
// them), through the harness in internal/testkit/screentest.
package tui
