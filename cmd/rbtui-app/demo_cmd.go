package main

import (
	"bufio"
	"context"
	be "encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/internal/config"
	"github.com/rockblock-station/rockblock-station/internal/demos"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sshsrv"
)

// The commands run beside a demo act on it: `rbtui send` and `rbtui
// history`, when nothing names a station or a history (no --station, --all
// or --db, no RB_STATION, no station in the config file), are carried out
// by the newest running demo over its command socket (demos.Demo.Socket),
// as rbtui ssh carries out a session's command: the message goes into the
// demo's history and out through its simulated modem, never into the real
// history where a later rbtui would send it for real. A demo that does not
// answer is a one-line refusal that names it.

// demoRequest opens a command on a demo's socket: one JSON line, then the
// command's standard input until the client closes its side.
type demoRequest struct {
	Args []string `json:"args"`
}

// Frames of the answer: a kind byte, a big-endian uint32 length, the data.
const (
	frameStdout = 'o'
	frameStderr = 'e'
	frameExit   = 'x' // the data is the exit code, a big-endian uint32
)

// demoCommands are the commands a demo carries out for its neighbours.
var demoCommands = []string{"send", "history"}

// besideDemo returns the demo that a command with args (after its name)
// acts on: the newest running demo, when the arguments name no station,
// history or help and neither does the environment or the config file.
func besideDemo(args []string) (demos.Demo, bool) {
	for _, a := range args {
		if a == "--" {
			break
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "station" || name == "db" || name == "all" || name == "h" || name == "help") {
			return demos.Demo{}, false
		}
	}
	d, ok := demos.Newest()
	if !ok {
		return d, false
	}
	if cfg, err := config.LoadStations(nil); err != nil || cfg.Named {
		return d, false
	}
	return d, true
}

// forwardToDemo carries out args (the command and its arguments) in demo d
// and returns its exit status; stdin goes to the demo as the command reads it.
func forwardToDemo(ctx context.Context, d demos.Demo, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	refuse := func(err error) error {
		return exitf(exitFailed, "%s: a demo runs (rbtui --demo, pid %d) and does not answer at %s (%v); nothing was done: quit the demo, or name a real station with --station",
			args[0], d.PID, d.Socket, err)
	}
	var dialer net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	conn, err := dialer.DialContext(dctx, "unix", d.Socket)
	cancel()
	if err != nil {
		return refuse(err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	fmt.Fprintf(stderr, "rbtui: %s acts on the running demo (rbtui --demo, pid %d): its simulated station, not a real one (name one with --station, RB_STATION or the config file)\n", args[0], d.PID)
	req, _ := json.Marshal(demoRequest{Args: args})
	if _, err := conn.Write(append(req, '\n')); err != nil {
		return refuse(err)
	}
	go func() {
		io.Copy(conn, stdin)
		if uc, ok := conn.(*net.UnixConn); ok {
			uc.CloseWrite()
		}
	}()
	r := bufio.NewReader(conn)
	for {
		kind, data, err := readFrame(r)
		if err != nil {
			if ctx.Err() != nil {
				return exitf(exitTimeout, "%s: interrupted", args[0])
			}
			return exitf(exitFailed, "%s: the demo (pid %d) ended before the command did: %v", args[0], d.PID, err)
		}
		switch kind {
		case frameStdout:
			stdout.Write(data)
		case frameStderr:
			stderr.Write(data)
		case frameExit:
			if len(data) != 4 {
				return exitf(exitFailed, "%s: the demo's answer is garbled", args[0])
			}
			if code := int(be.BigEndian.Uint32(data)); code != exitOK {
				return &cli.ExitError{Code: code, Err: cli.ErrQuiet}
			}
			return nil
		}
	}
}

func readFrame(r *bufio.Reader) (byte, []byte, error) {
	var head [5]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, err
	}
	n := be.BigEndian.Uint32(head[1:])
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	data := make([]byte, n)
	_, err := io.ReadFull(r, data)
	return head[0], data, err
}

// frameWriter writes frames of one kind to a shared connection; a failed
// write (the neighbour went away) cancels the command.
type frameWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	kind   byte
	cancel context.CancelFunc
}

func (f frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for rest := p; len(rest) > 0; {
		chunk := rest[:min(len(rest), 1<<16)]
		rest = rest[len(chunk):]
		var head [5]byte
		head[0] = f.kind
		be.BigEndian.PutUint32(head[1:], uint32(len(chunk)))
		if _, err := f.w.Write(append(head[:], chunk...)); err != nil {
			f.cancel()
			return 0, err
		}
	}
	return len(p), nil
}

// serveDemo answers the commands of the demo's neighbours on ln with h
// (the demo's configuration, history and client) until ctx ends.
func serveDemo(ctx context.Context, ln net.Listener, h *host, log *slog.Logger) {
	context.AfterFunc(ctx, func() { ln.Close() })
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("demo: command socket", "err", err)
			}
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			h.serveConn(ctx, conn)
		}()
	}
}

// serveConn carries out one neighbour's command.
func (h *host) serveConn(ctx context.Context, conn net.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	r := bufio.NewReader(conn)
	var mu sync.Mutex
	stdout := frameWriter{mu: &mu, w: conn, kind: frameStdout, cancel: cancel}
	stderr := frameWriter{mu: &mu, w: conn, kind: frameStderr, cancel: cancel}
	code := exitUsage
	line, err := r.ReadBytes('\n')
	var req demoRequest
	switch {
	case err != nil:
		h.log.Debug("demo: command request", "err", err)
		return
	case json.Unmarshal(line, &req) != nil || len(req.Args) == 0:
		fmt.Fprintln(stderr, "rbtui: the demo could not read the command")
	default:
		hk := *h
		hk.key = sshsrv.Key{Name: localOrigin(rb.ViaCommand).By, Role: sshsrv.RoleSend}
		code = hk.runHere(rb.WithOrigin(ctx, localOrigin(rb.ViaCommand)), req.Args, r, stdout, stderr)
	}
	var b [4]byte
	be.BigEndian.PutUint32(b[:], uint32(code))
	frameWriter{mu: &mu, w: conn, kind: frameExit, cancel: cancel}.Write(b[:])
}

// runHere carries out a neighbour's command in the demo, with the exit
// code and output of the local command; only demoCommands are carried out.
func (h *host) runHere(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var cmd *cobra.Command
	switch args[0] {
	case "send":
		cmd = newSendCmd(h)
	case "history":
		cmd = newHistoryCmd(h)
	default:
		fmt.Fprintf(stderr, "rbtui: %q is not a command the demo carries out (%s)\n", args[0], strings.Join(demoCommands, ", "))
		return exitUsage
	}
	// Under an rbtui of its own, so that help and errors name the command
	// as the neighbour typed it (rbtui send).
	root := &cobra.Command{Use: "rbtui", SilenceUsage: true}
	root.AddCommand(cmd)
	return cli.Execute(ctx, root, cli.Program{}, args, stdin, stdout, stderr)
}
