// Package version is what `rbd version`, `rbtui version` and `rbtui-app
// version` print: the release set at build time and the VCS revision that
// the Go toolchain records in the binary. It imports only the standard
// library's runtime/debug and strings, so the tmux front program (cmd/rbtui)
// can answer `version` without growing.
package version

import (
	"runtime/debug"
	"strings"
)

// Version is the release, set by the Makefile from `git describe`:
//
//	go build -ldflags "-X github.com/rockblock-station/rockblock-station/internal/version.Version=v1.2.0"
//
// A plain `go build` leaves it empty and String falls back to the module
// version that `go install …@v1.2.0` records, then to "dev".
var Version string

// String is the one-line answer of `<program> version`, e.g.
// "rbd v1.2.0 (revision 3f2a9c1b7d4e, modified) go1.26.8".
func String(program string) string {
	bi, _ := debug.ReadBuildInfo()
	return format(program, Version, bi)
}

// format builds String's line from the -X version and the build info (nil
// when the binary carries none).
func format(program, release string, bi *debug.BuildInfo) string {
	var b strings.Builder
	b.WriteString(program)
	b.WriteByte(' ')
	switch {
	case release != "":
		b.WriteString(release)
	case bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)":
		b.WriteString(bi.Main.Version)
	default:
		b.WriteString("dev")
	}
	if bi == nil {
		return b.String()
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		b.WriteString(" (revision ")
		b.WriteString(rev)
		if modified == "true" {
			b.WriteString(", modified")
		}
		b.WriteByte(')')
	} else {
		b.WriteString(" (no revision recorded)")
	}
	if bi.GoVersion != "" {
		b.WriteByte(' ')
		b.WriteString(bi.GoVersion)
	}
	return b.String()
}
