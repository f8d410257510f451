// Command rbtui is the operator's side of a RockBLOCK station: a full-screen
// terminal inbox, a one-line signal glance for tmux, a scriptable send, the
// history for scripts, and the one-command demo.
//
//	rbtui [--station NAME]... | --all [--db PATH] [--debug FILE]
//	rbtui --demo
//	rbtui signal [--format tmux|plain|json] [--station NAME]
//	rbtui send [TEXT | --hex HEX | -] [--wait[=TIMEOUT]] [--station NAME]
//	rbtui history [--json] [--since WHEN] [--station NAME | --all]
//	rbtui version
//	rbtui serve | ssh | dead | completion bash|zsh|fish | help [COMMAND]
//
// tmux runs `rbtui signal` every few seconds, so this binary is kept small:
// it links only the standard library and three small packages of ours, and
// answers `signal` itself from the station's glance file that every rbtui
// keeps beside its SQLite history (paths.Glance). Every other command, and `signal` when there is no
// glance file to read, is carried out by rbtui-app (cmd/rbtui-app), which
// this program runs in its own place (exec): rbtui-app is looked for next
// to rbtui first, then on PATH. `version` is answered here too, so it names
// this binary's build even when rbtui-app is missing.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/internal/config"
	"github.com/rockblock-station/rockblock-station/internal/demos"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/internal/version"
)

// appName is the program that carries out every command but the glance.
const appName = "rbtui-app"

func main() {
	args := os.Args[1:]
	if len(args) == 1 && args[0] == "version" {
		fmt.Println(version.String("rbtui"))
		return
	}
	if len(args) > 0 && args[0] == "signal" {
		if code, done := signal(args[1:], time.Now(), os.Stdout, os.Stderr); done {
			os.Exit(code)
		}
	}
	app, err := findApp()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rbtui:", err)
		os.Exit(1)
	}
	// argv[0] stays "rbtui": messages and usage name the command the operator typed.
	err = syscall.Exec(app, append([]string{"rbtui"}, args...), os.Environ())
	fmt.Fprintf(os.Stderr, "rbtui: run %s: %v\n", app, err)
	os.Exit(1)
}

// findApp returns rbtui-app beside this executable, else the one on PATH.
func findApp() (string, error) {
	self, err := os.Executable()
	if err == nil {
		if self, err = filepath.EvalSymlinks(self); err == nil {
			p := filepath.Join(filepath.Dir(self), appName)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath(appName); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found next to rbtui or on PATH: install both programs (see README)", appName)
}

// signal prints the glance line from the glance file. done is false when
// rbtui-app must answer instead: for help, a usage error (rbtui-app says
// both in the voice of every command), or when the history exists but has
// no glance file yet (or a damaged one), so the reading has to come from
// SQLite itself.
func signal(args []string, now time.Time, stdout, stderr io.Writer) (code int, done bool) {
	flags := flag.NewFlagSet("rbtui signal", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	flags.Usage = func() {}
	format := flags.String("format", glance.FormatTmux, "")
	station := flags.String("station", "", "")
	db := flags.String("db", "", "")
	for _, a := range args {
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			// -format: the flag package takes it, rbtui-app's command
			// line does not; it says so.
			return 0, false
		}
	}
	if err := flags.Parse(args); err != nil || flags.NArg() > 0 || !glance.ValidFormat(*format) {
		return 0, false
	}
	cfg, err := config.Load(*station)
	if err != nil {
		// A blank status bar would say nothing: a short marker says where
		// to look, the error says what.
		fmt.Fprintln(stdout, glance.ConfigMarker(*format))
		fmt.Fprintln(stderr, "rbtui signal:", err)
		return 1, true
	}
	styles, err := glance.StylesFrom(cfg.Extra)
	if err != nil {
		return 0, false
	}
	if *db == "" && *station == "" && !cfg.Named {
		// Nothing names a station: a running demo is what the operator
		// tries, and its glance is the one to show (the newest demo's).
		if d, ok := demos.Newest(); ok {
			if r, err := glance.ReadFile(d.Glance); err == nil {
				fmt.Fprintln(stdout, glance.FormatStyled(r, now, *format, styles))
				return 0, true
			}
		}
	}
	path := *db
	if path == "" {
		path = paths.History()
	}
	r, err := glance.ReadFile(paths.Glance(path, cfg.Station))
	switch {
	case err == nil:
		r.Station = cfg.Station
	case errors.Is(err, fs.ErrNotExist) && !exists(path):
		// No history at all: nothing to ask SQLite. A running demo, if
		// any, is what there is to see; else "no data".
		r = glance.Reading{Station: cfg.Station}
		if *db == "" {
			if old, err := glance.ReadFile(paths.StationHistory(cfg.Station) + ".glance"); err == nil {
				// An rbtui from before the one history still runs: its
				// glance file is the per-station history's.
				old.Station = cfg.Station
				r = old
			} else if d, ok := demos.Newest(); ok {
				if dr, err := glance.ReadFile(d.Glance); err == nil {
					r = dr
				}
			}
		}
	default:
		return 0, false
	}
	fmt.Fprintln(stdout, glance.FormatStyled(r, now, *format, styles))
	return 0, true
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
