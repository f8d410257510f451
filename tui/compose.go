package tui

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/textsafe"
)

// composePane edits an MO message as text or as hex, with a live byte and
// credit count against the modem's MO limit. Its text survives a refused
// send and leaving the pane (a draft).
type composeModel struct {
	c       *common
	keys    composeKeyMap
	ta      textarea.Model
	hex     bool
	replyTo string
	err     string
	w, h    int
	// header holds the modem's MO limit; stations are the fleet's, the
	// stations a message may be sent from.
	header   *headerModel
	stations *stationsModel
	// draft numbers the draft's content: every edit and every reset makes a
	// new one, so a send result only clears the draft it was sent from.
	draft int
	// sending is set while a Send is in flight; another Send is refused
	// until its result arrives, so one key press bills one message.
	sending bool
	// from is the station that sends ("": the default one, or, in the
	// fleet console, not chosen yet).
	from string
}

// nextStation chooses the next station to send from.
func (c *composeModel) nextStation() {
	names := c.stations.names()
	if len(names) == 0 {
		return
	}
	i := 0
	for j, s := range names {
		if s == c.from {
			i = j + 1
		}
	}
	c.from = names[i%len(names)]
	c.err = ""
}

// maxMO is the modem's MO limit.
func (c *composeModel) maxMO() int { return c.header.maxMO() }

func newCompose(cm *common, header *headerModel, stations *stationsModel) composeModel {
	ta := textarea.New()
	ta.ShowLineNumbers = false
	ta.Prompt = "│ "
	ta.Placeholder = "type the message"
	ta.CharLimit = 4096
	ta.KeyMap.InsertNewline = key.NewBinding(key.WithKeys("alt+enter", "ctrl+j"), key.WithHelp("alt+enter", "new line"))
	return composeModel{c: cm, keys: newComposeKeyMap(), ta: ta, header: header, stations: stations}
}

// ShortHelp implements component; the fleet console's has the station key.
func (c *composeModel) ShortHelp() []key.Binding { return c.keys.shortHelp(c.c.fleet) }

// FullHelp implements component.
func (c *composeModel) FullHelp() [][]key.Binding { return [][]key.Binding{c.ShortHelp()} }

func (c *composeModel) setStyles(st Styles) { c.ta.SetStyles(st.Textarea) }

// open readies the editor: label says what the message answers; from is
// the station that sends (the fleet console: the station shown, or the
// replied message's; "" asks).
func (c *composeModel) open(label, from string) {
	c.replyTo = label
	if c.c.fleet && (!c.hasDraft() || from != "") {
		c.from = from // a draft keeps the station chosen for it
	}
	c.ta.Focus()
}

// hasDraft reports whether the editor holds text.
func (c *composeModel) hasDraft() bool { return strings.TrimSpace(c.ta.Value()) != "" }

func (c *composeModel) reset() {
	c.ta.Reset()
	c.hex, c.err, c.replyTo = false, "", ""
	c.draft++
}

// setDraft puts msg in the editor as the draft (hex for a binary payload).
func (c *composeModel) setDraft(msg rb.Message) {
	c.reset()
	if msg.Binary {
		c.ta.SetValue(textsafe.Hex(msg.Data))
		c.hex = true
	} else {
		c.ta.SetValue(msg.Text)
	}
	c.draft++
}

// SetSize implements component.
func (c *composeModel) SetSize(w, h int) {
	c.w, c.h = w, h
	c.ta.SetWidth(max(10, w))
	c.ta.SetHeight(max(1, min(h-5, 12)))
}

// Update implements component: its keys (the rest edit the text), and
// the result of a send. Back, and a send that went through, go back to
// the list.
func (c *composeModel) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case sentMsg:
		return c.applySent(msg), nil
	case tea.KeyPressMsg:
		return c.key(msg)
	}
	return stay, c.edit(msg)
}

// key handles a key of the compose view; the text area takes the rest.
func (c *composeModel) key(k tea.KeyPressMsg) (screen, tea.Cmd) {
	switch {
	case key.Matches(k, c.keys.Back):
		c.ta.Blur()
		if c.ta.Value() != "" {
			c.c.status.info("draft kept: c opens it again")
		}
		return screenList, nil
	case key.Matches(k, c.keys.ToggleHex):
		c.toggleHex()
		return stay, nil
	case c.c.fleet && key.Matches(k, c.keys.Station):
		c.nextStation()
		return stay, nil
	case key.Matches(k, c.keys.Send):
		return stay, c.send()
	}
	return stay, c.edit(k)
}

// send queues the draft through the backend; the result comes back as a
// sentMsg. One send at a time: one key press bills one message.
func (c *composeModel) send() tea.Cmd {
	if c.sending {
		c.c.status.info("still queueing the last message: wait for its result")
		return nil
	}
	data, err := c.payload()
	if err != nil {
		c.err = err.Error()
		return nil
	}
	if c.c.fleet && c.from == "" {
		c.err = "which station sends? " + c.keys.Station.Help().Key + " chooses it"
		return nil
	}
	c.err = ""
	c.sending = true
	cm, text, draft, from := c.c, !c.hex, c.draft, c.from
	c.c.status.info("queueing…")
	return func() tea.Msg {
		ctx, cancel := cm.call()
		defer cancel()
		id, err := cm.b.Send(ctx, from, data, text)
		return sentMsg{draft: draft, id: id, err: err}
	}
}

// applySent applies the result of a send. The draft is cleared only when
// it is still the one that was sent: one the operator has edited or
// started since is kept. It returns the list when the draft was sent.
func (c *composeModel) applySent(msg sentMsg) screen {
	c.sending = false
	current := msg.draft == c.draft
	if msg.err != nil {
		if current {
			// Keep the text: the operator fixes it or tries again.
			c.err = errorText(msg.err)
		}
		c.c.status.fail(msg.err)
		return stay
	}
	c.c.status.announce("queued "+shortID(msg.id)+": it is sent when rbd has the modem and a satellite", msg.id, announceQueued)
	if !current {
		return stay
	}
	c.reset()
	return screenList
}

// edit gives msg to the text area.
func (c *composeModel) edit(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	before := c.ta.Value()
	c.ta, cmd = c.ta.Update(msg)
	if c.ta.Value() != before {
		c.draft++
	}
	if _, ok := msg.(tea.KeyPressMsg); ok {
		c.err = ""
	}
	return cmd
}

// parseHex decodes hex digits, ignoring white space and an optional 0x.
func parseHex(s string) ([]byte, error) {
	var digits strings.Builder
	for _, f := range strings.Fields(s) {
		f = strings.TrimPrefix(strings.TrimPrefix(f, "0x"), "0X")
		digits.WriteString(f)
	}
	d := digits.String()
	for _, r := range d {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return nil, fmt.Errorf("invalid hex: %q is not a hex digit", textsafe.Line(string(r)))
		}
	}
	if len(d)%2 != 0 {
		return nil, fmt.Errorf("invalid hex: odd number of digits (%d)", len(d))
	}
	b, err := hex.DecodeString(d)
	if err != nil {
		return nil, fmt.Errorf("invalid hex: %w", err)
	}
	return b, nil
}

// bytes returns the payload as typed, without the limit checks.
func (c *composeModel) bytes() ([]byte, error) {
	if c.hex {
		return parseHex(c.ta.Value())
	}
	return []byte(c.ta.Value()), nil
}

// payload returns the bytes to send, refusing an empty or oversized message.
func (c *composeModel) payload() ([]byte, error) {
	b, err := c.bytes()
	if err != nil {
		return nil, err
	}
	switch err := rb.CheckMO(b, !c.hex, c.maxMO()); {
	case errors.Is(err, rb.ErrEmpty):
		return nil, fmt.Errorf("nothing to send: %w", err)
	case errors.Is(err, rb.ErrTooLong):
		return nil, fmt.Errorf("%d bytes is %d over the %d-byte limit: %w", len(b), len(b)-c.maxMO(), c.maxMO(), rb.ErrTooLong)
	case err != nil:
		return nil, err
	}
	return b, nil
}

// toggleHex switches between text and hex input, converting the draft. Bytes
// that are not plain text stay in hex.
func (c *composeModel) toggleHex() {
	if !c.hex {
		c.ta.SetValue(textsafe.Hex([]byte(c.ta.Value())))
		c.hex, c.err = true, ""
		c.draft++
		return
	}
	b, err := parseHex(c.ta.Value())
	if err != nil {
		c.err = "fix the hex first: " + err.Error()
		return
	}
	if !utf8.Valid(b) {
		c.err = "these bytes are not UTF-8 text: staying in hex"
		return
	}
	for _, r := range string(b) {
		if r != '\n' && (unicode.IsControl(r) || r == 0x7f) {
			c.err = "these bytes hold control characters: staying in hex"
			return
		}
	}
	c.ta.SetValue(string(b))
	c.hex, c.err = false, ""
	c.draft++
}

// View implements component: exactly h lines.
func (c *composeModel) View() string {
	st, g := &c.c.styles, &c.c.glyphs
	title := "New MO message (station → satellite)"
	if c.replyTo != "" {
		title = "New MO message, " + c.replyTo
	}
	if c.c.fleet {
		from := "from " + textsafe.Line(c.from)
		if c.from == "" {
			from = "from ? (" + c.keys.Station.Help().Key + " chooses the station)"
		}
		title = "New MO message " + from
		if c.replyTo != "" {
			title += ", " + c.replyTo
		}
	}
	mode := "text"
	other := "hex"
	if c.hex {
		mode, other = "hex", "text"
	}
	out := []string{
		ansi.Truncate(st.Title.Render(title), c.w, g.Ellipsis),
		st.Dim.Render(ansi.Truncate("mode: "+mode+"  (ctrl+x: "+other+")", c.w, "")),
	}
	out = append(out, strings.Split(c.ta.View(), "\n")...)

	b, err := c.bytes()
	var counter string
	switch {
	case err != nil:
		counter = st.Bad.Render(g.Warn + " " + err.Error())
	default:
		n := len(b)
		cr := rb.Credits(n)
		counter = fmt.Sprintf("%d/%d bytes%s%d credit%s", n, c.maxMO(), g.Sep, cr, plural(cr))
		if n > c.maxMO() {
			counter = st.Bad.Render(g.Warn + " " + counter + fmt.Sprintf(": %d over the limit", n-c.maxMO()))
		}
	}
	out = append(out, ansi.Truncate(counter, c.w, g.Ellipsis))
	if c.err != "" {
		out = append(out, st.StatusError.Render(ansi.Truncate(g.Warn+" "+c.err, c.w, g.Ellipsis)))
	}
	return joinLines(out, c.h)
}

// composeKeyMap is the compose view's keys (the rest edit the text).
type composeKeyMap struct {
	Send, Newline, ToggleHex, Back, ForceQuit key.Binding
	// Station chooses the station that sends (the fleet console only).
	Station key.Binding
}

func newComposeKeyMap() composeKeyMap {
	return composeKeyMap{
		Send:      bind([]string{"enter"}, "enter", "send"),
		Newline:   bind([]string{"alt+enter", "ctrl+j"}, "alt+enter", "new line"),
		ToggleHex: bind([]string{"ctrl+x"}, "ctrl+x", "text/hex"),
		Back:      bind([]string{"esc"}, "esc", "back"),
		ForceQuit: forceQuitKey,
		Station:   bind([]string{"ctrl+t"}, "ctrl+t", "station"),
	}
}

func (k composeKeyMap) shortHelp(fleet bool) []key.Binding {
	if fleet {
		return []key.Binding{k.Send, k.Station, k.Newline, k.ToggleHex, k.Back, k.ForceQuit}
	}
	return []key.Binding{k.Send, k.Newline, k.ToggleHex, k.Back, k.ForceQuit}
}
