// Package layering holds the dependency rules of docs/architecture.md
// (Dependency rules) as a test, so a forbidden import fails the build's
// tests instead of a review.
package layering

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/rockblock-station/rockblock-station"

// deps returns every package that pkg depends on, itself excluded.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", mod+"/"+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var ds []string
	for _, d := range strings.Fields(string(out)) {
		if d != mod+"/"+pkg {
			ds = append(ds, d)
		}
	}
	return ds
}

// TestNoTestSupportInProduct checks that no product package (anything built
// into rbd, rbtui or rbtui-app) depends on internal/testkit: the harnesses
// import everything, so the product must never import them.
func TestNoTestSupportInProduct(t *testing.T) {
	for _, cmd := range []string{"cmd/rbd", "cmd/rbtui", "cmd/rbtui-app"} {
		for _, d := range deps(t, cmd) {
			if strings.HasPrefix(d, mod+"/internal/testkit") {
				t.Errorf("%s depends on %s: product code must not import test support", cmd, d)
			}
		}
	}
}

func TestRules(t *testing.T) {
	rules := []struct {
		pkg    string
		forbid []string // prefixes; mod-relative when they start without a dot
		why    string
	}{
		{"sbd", []string{mod + "/"}, "the driver imports nothing of ours"},
		// rb may use the leaf rules it describes (glance: the one rule for a
		// reading's state; textsafe: inert text), nothing that moves data.
		{"rb", []string{mod + "/sbd", mod + "/queue", mod + "/store", mod + "/client", mod + "/daemon", mod + "/tui", mod + "/bridge", mod + "/sshsrv", mod + "/rock7", mod + "/internal/", "github.com/rabbitmq/", "modernc.org/", "charm.land/"}, "vocabulary, not transport"},
		{"glance", []string{mod + "/rb", mod + "/sbd", mod + "/queue", mod + "/store", mod + "/client", mod + "/daemon", mod + "/tui", mod + "/bridge", "github.com/rabbitmq/", "modernc.org/", "charm.land/"}, "a leaf rule rb builds on: it imports no vocabulary or transport"},
		{"tui", []string{mod + "/sbd", mod + "/queue", mod + "/store", mod + "/daemon", mod + "/client", "github.com/rabbitmq/", "modernc.org/sqlite"}, "the screen talks to small interfaces"},
		{"store", []string{"github.com/rabbitmq/", mod + "/queue", mod + "/sbd", mod + "/tui"}, "the history does not link the AMQP client"},
		{"queue", []string{mod + "/sbd", mod + "/store", mod + "/tui", mod + "/daemon", mod + "/client"}, "the bus knows no modem, history or screen"},
		{"daemon", []string{mod + "/tui", mod + "/store", mod + "/client", "charm.land/"}, "the daemon has no screen or history"},
		{"client", []string{mod + "/tui", mod + "/bridge", mod + "/sshsrv", "charm.land/", "github.com/zishang520/"}, "the client serves every front end through one API and knows none of them"},
		{"rock7", []string{mod + "/tui", mod + "/store", mod + "/client", mod + "/bridge", "charm.land/"}, "a station without a modem is a station: no screen or history"},
		{"sshsrv", []string{mod + "/store", mod + "/queue", mod + "/client", mod + "/sbd", mod + "/daemon", "github.com/rabbitmq/", "modernc.org/sqlite"}, "the SSH server serves the screen's interfaces; it reads no history of its own"},
	}
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			for _, d := range deps(t, r.pkg) {
				for _, f := range r.forbid {
					if strings.HasPrefix(d, f) && !(f == mod+"/" && strings.HasPrefix(d, mod+"/"+r.pkg+"/")) {
						t.Errorf("%s depends on %s (%s)", r.pkg, d, r.why)
					}
				}
			}
		})
	}
}

// imports returns the packages pkg imports itself (not their imports).
func imports(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, mod+"/"+pkg).Output()
	if err != nil {
		t.Fatalf("go list -f .Imports %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestFrontEndsReadThroughTheClient checks that no front end reads the
// history itself: they take the client's read model (rb.Message,
// rb.StationState) as it is, so no row is converted twice.
func TestFrontEndsReadThroughTheClient(t *testing.T) {
	for _, pkg := range []string{"tui", "bridge"} {
		for _, d := range imports(t, pkg) {
			if d == mod+"/store" {
				t.Errorf("%s imports %s: a front end reads through the client", pkg, d)
			}
		}
	}
}
