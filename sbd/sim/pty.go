//go:build linux

package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// PTY is a pseudo-terminal served by a Modem and linked at a stable path, so
// any program opens the simulated RockBLOCK like a serial device.
type PTY struct {
	m      *Modem  // nil when serving a Replay
	r      *Replay // nil when serving a Modem
	log    *slog.Logger
	link   string
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	path   string
	master *os.File
	slave  *os.File
}

// OpenPTY creates a pseudo-terminal, puts it in raw mode at 19200 baud,
// symlinks its slave at link (replacing a stale symlink, never another kind
// of file) and serves the master with m until ctx ends or Close. After
// FaultUnplug the pty and the link disappear; FaultNone brings a new pty back
// at the same link.
func OpenPTY(ctx context.Context, m *Modem, link string) (*PTY, error) {
	return openPTY(ctx, &PTY{m: m, log: m.cfg.Logger, link: link, done: make(chan struct{})})
}

// OpenReplayPTY is OpenPTY for a Replay: the trace's modem side is played
// to the program that opens link. The pty stays until ctx ends or Close,
// also after the replay ended or diverged.
func OpenReplayPTY(ctx context.Context, r *Replay, link string) (*PTY, error) {
	return openPTY(ctx, &PTY{r: r, log: r.log, link: link, done: make(chan struct{})})
}

func openPTY(ctx context.Context, p *PTY) (*PTY, error) {
	if err := p.open(); err != nil {
		return nil, err
	}
	ctx, p.cancel = context.WithCancel(ctx)
	go p.run(ctx)
	return p, nil
}

// Path returns the current slave device path (e.g. /dev/pts/3).
func (p *PTY) Path() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.path
}

// Link returns the symlink path.
func (p *PTY) Link() string { return p.link }

// Close stops serving, closes the pty and removes the link.
func (p *PTY) Close() error {
	p.cancel()
	<-p.done
	return nil
}

func (p *PTY) open() error {
	master, slave, err := pty.Open()
	if err != nil {
		return fmt.Errorf("open pty: %w", err)
	}
	if master, err = pollable(master); err != nil {
		slave.Close()
		return err
	}
	if err := rawMode(slave); err != nil {
		master.Close()
		slave.Close()
		return fmt.Errorf("raw mode on %s: %w", slave.Name(), err)
	}
	if fi, err := os.Lstat(p.link); err == nil {
		if fi.Mode()&os.ModeSymlink == 0 {
			master.Close()
			slave.Close()
			return fmt.Errorf("link %s exists and is not a symlink", p.link)
		}
		if err := os.Remove(p.link); err != nil {
			master.Close()
			slave.Close()
			return fmt.Errorf("remove stale link: %w", err)
		}
	}
	if err := os.Symlink(slave.Name(), p.link); err != nil {
		master.Close()
		slave.Close()
		return fmt.Errorf("link pty: %w", err)
	}
	p.mu.Lock()
	p.master, p.slave, p.path = master, slave, slave.Name()
	p.mu.Unlock()
	p.log.Info("pty ready", "link", p.link, "device", slave.Name())
	return nil
}

// shut closes the pty and removes the link if it still points at it.
func (p *PTY) shut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.master == nil {
		return
	}
	if target, err := os.Readlink(p.link); err == nil && target == p.path {
		os.Remove(p.link)
	}
	p.master.Close()
	p.slave.Close() // we held the slave open so the master never sees a hangup between host opens
	p.master, p.slave = nil, nil
}

func (p *PTY) run(ctx context.Context) {
	defer close(p.done)
	defer p.shut()
	for {
		p.mu.Lock()
		master := p.master
		p.mu.Unlock()
		if p.r != nil {
			p.r.serve(ctx, master)
			return
		}
		err := p.m.Serve(ctx, master)
		if ctx.Err() != nil {
			return
		}
		if !errors.Is(err, ErrUnplugged) {
			p.m.cfg.Logger.Error("pty serving stopped", "err", err)
			return
		}
		p.shut()
		for {
			p.m.mu.Lock()
			unplugged, replug := p.m.unplugged, p.m.replugC
			p.m.mu.Unlock()
			if !unplugged {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-p.m.ctx.Done():
				return
			case <-replug:
			}
		}
		if err := p.open(); err != nil {
			p.m.cfg.Logger.Error("reopen pty", "err", err)
			return
		}
	}
}

// rawMode makes the tty 8N1 raw at 19200 baud, like the RockBLOCK's UART.
func rawMode(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	err = rc.Control(func(fd uintptr) {
		t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			opErr = err
			return
		}
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CBAUD
		t.Cflag |= unix.CS8 | unix.B19200
		t.Ispeed, t.Ospeed = unix.B19200, unix.B19200
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
		opErr = unix.IoctlSetTermios(int(fd), unix.TCSETS, t)
	})
	if err != nil {
		return err
	}
	return opErr
}

// pollable returns a non-blocking copy of f that Go's poller serves, and
// closes f. pty.Open hands the master out in blocking mode, where Close
// cannot interrupt a pending Read: the fd then stays open, and a host that
// only reads never sees the hang-up of an unplugged modem.
func pollable(f *os.File) (*os.File, error) {
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("dup pty master: %w", err)
	}
	f.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pty master non-blocking: %w", err)
	}
	unix.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "/dev/ptmx"), nil
}
