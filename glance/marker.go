package glance

import "encoding/json"

// ConfigMarkerText is the glance line when the config file cannot be read
// (a malformed line, a bad URL, a file readable by others): a status bar
// that shows it says where to look instead of going blank.
const ConfigMarkerText = "rb: config?"

// ConfigMarker renders ConfigMarkerText in format, with the alarm style of
// DefaultStyles for tmux (the config's own styles cannot be read).
func ConfigMarker(format string) string {
	switch format {
	case FormatTmux:
		return "#[" + DefaultStyles.Alarm + "]" + ConfigMarkerText + "#[default]"
	case FormatJSON:
		b, _ := json.Marshal(struct {
			State string `json:"state"`
		}{"config?"})
		return string(b)
	}
	return ConfigMarkerText
}
