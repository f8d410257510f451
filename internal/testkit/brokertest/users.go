package brokertest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// AddRoleUser makes broker user user with password pass and the permissions
// of role (rbd, client or bridge) by running the repository's
// scripts/broker-users.sh against the node, as an operator runs it against
// a station's broker, and returns the node's AMQP URL for that user.
// Stations, when given, limit the user to them (the script's -s).
func (n *Node) AddRoleUser(role, user, pass string, stations ...string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("add role user: cannot find the repository")
	}
	script := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "broker-users.sh")
	wrapper := filepath.Join(n.dir, "rabbitmqctl-node")
	if _, err := os.Stat(wrapper); err != nil {
		// rabbitmqctl of this node, in its environment (HOME holds the
		// Erlang cookie).
		var b strings.Builder
		b.WriteString("#!/bin/sh\n")
		for _, kv := range n.env()[len(os.Environ()):] {
			k, v, _ := strings.Cut(kv, "=")
			fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(v, "'", `'\''`))
		}
		fmt.Fprintf(&b, "exec '%s' -n '%s' \"$@\"\n", filepath.Join(n.bin, "rabbitmqctl"), n.name)
		if err := os.WriteFile(wrapper, []byte(b.String()), 0o700); err != nil {
			return "", fmt.Errorf("add role user: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{script}
	for _, st := range stations {
		args = append(args, "-s", st)
	}
	cmd := exec.CommandContext(ctx, "sh", append(args, role, user)...)
	cmd.Env = append(os.Environ(), "RABBITMQCTL="+wrapper, "RB_BROKER_PASSWORD="+pass)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("broker-users.sh %v %s %s: %w: %s", stations, role, user, err, strings.TrimSpace(string(out)))
	}
	return n.URLFor(user, pass), nil
}

// URLFor is the node's AMQP URL for a user and password.
func (n *Node) URLFor(user, pass string) string {
	u := url.URL{Scheme: "amqp", User: url.UserPassword(user, pass), Host: fmt.Sprintf("127.0.0.1:%d", n.port), Path: "/"}
	return u.String()
}
