package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/rockblock-station/rockblock-station/textsafe"
)

// The root model's side of the fleet console: switching to it, filtering
// the inbox by station, and the keys of the station list (stations.go).

// setFleet makes the screen the fleet console: the station list above the
// inbox, each row's station while all are shown, the keys that go with it.
func (m *Model) setFleet() {
	m.fleet = true
	m.list.keys.fleet = true
	m.compose.keys.fleet = true
	m.showStationColumn()
	m.layout()
}

// showStationColumn gives the rows a station column while the inbox shows
// more than one station.
func (m *Model) showStationColumn() {
	if !m.fleet || m.c.station != "" {
		m.list.showStations(0)
		return
	}
	w := 4
	for _, r := range m.stations.rows {
		w = max(w, min(10, ansi.StringWidth(r.Station)))
	}
	m.list.showStations(w)
}

// showStation filters the inbox to one station ("": all of them): the list
// is read again from the newest, the header and the signal of the day are
// the station's.
func (m *Model) showStation(station string) tea.Cmd {
	m.c.station = station
	m.stations.focused = false
	m.footerFor = nil
	m.showStationColumn()
	m.search.clearQuery()
	m.list.reset()
	m.detail.clear()
	m.header.signal = nil
	m.header.invalidate()
	return tea.Batch(m.list.loadFirst(), m.loadHeader(), m.loadSignal())
}

// stationsKey handles a key while the station list has the focus.
func (m *Model) stationsKey(k tea.KeyPressMsg) tea.Cmd {
	s := &m.stations
	switch {
	case s.Update(k):
	case key.Matches(k, s.keys.Show):
		if name := s.selected(); name != "" {
			cmd := m.showStation(name)
			m.c.status.info("showing station " + textsafe.Line(name) + ": S then a shows all")
			return cmd
		}
	case key.Matches(k, s.keys.All):
		cmd := m.showStation("")
		m.c.status.info("showing all stations")
		return cmd
	case key.Matches(k, s.keys.Back):
		s.focused = false
	case key.Matches(k, s.keys.Help):
		m.openHelp()
	}
	return nil
}

// applyStations applies a read of the station list; a second station makes
// the screen the fleet console.
func (m *Model) applyStations(msg stationsMsg) tea.Cmd {
	if msg.err != nil {
		m.c.status.fail(msg.err)
		return nil
	}
	m.stations.setRows(msg.rows)
	if !m.fleet && len(msg.rows) > 1 {
		m.setFleet() // --all: a second station appeared
		return m.loadHeader()
	}
	if m.fleet {
		m.showStationColumn()
		if m.header.loaded {
			// The title's count and summary come from these rows: no
			// second read of the header.
			m.header.setHeader(m.fleetTitle(m.header.header))
		}
		m.layout()
	}
	return nil
}

// fleetTitle is h with the fleet's title and summary when all stations are
// shown (both derived from the station list as last read).
func (m *Model) fleetTitle(h Header) Header {
	if m.fleet && m.c.station == "" {
		h.Station = fmt.Sprintf("fleet (%d stations)", len(m.stations.rows))
		h.Fleet = m.stations.summary()
	}
	return h
}

// stationsHeight is the lines of the station list above the inbox (0 when
// the screen shows one station).
func (m *Model) stationsHeight() int {
	if !m.fleet {
		return 0
	}
	return m.stations.height(m.bodyHeight())
}
