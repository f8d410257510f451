package readme

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Path is README.md from a package two folders below the root (cmd/rbd).
const Path = "../../README.md"

// CommandBlocks are the synopses of README.md's command sections: the
// first fenced block after each heading that is one of headings (or starts
// with one and a colon: "rbtui serve: the web chat").
func CommandBlocks(path string, headings ...string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var blocks []string
	lines := strings.Split(string(raw), "\n")
	for i, line := range lines {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		if !slices.ContainsFunc(headings, func(h string) bool { return title == h || strings.HasPrefix(title, h+":") }) {
			continue
		}
		start := -1
		for j := i + 1; j < len(lines) && !strings.HasPrefix(lines[j], "#"); j++ {
			if strings.HasPrefix(lines[j], "```") {
				if start >= 0 {
					blocks = append(blocks, strings.Join(lines[start:j], "\n"))
					break
				}
				start = j + 1
			}
		}
		if start < 0 {
			return nil, fmt.Errorf("%s: section %q has no fenced synopsis", path, title)
		}
	}
	if len(blocks) != len(headings) {
		return nil, fmt.Errorf("%s: found %d of the sections %q", path, len(blocks), headings)
	}
	return blocks, nil
}

var flagRe = regexp.MustCompile(`(?:^|[\s\[|(])--([a-z][a-z0-9-]*)`)

// Synopses are the flags that README's synopsis lines give each command of
// root's tree, by command path. A line that starts with the program's name
// begins a command's synopsis (the longest command path it starts with),
// and indented lines continue it.
func Synopses(root *cobra.Command, blocks []string) map[string][]string {
	var paths []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		paths = append(paths, c.CommandPath())
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	// Longest first: "rbtui dead requeue" before "rbtui dead".
	slices.SortFunc(paths, func(a, b string) int { return len(b) - len(a) })
	got := map[string][]string{}
	for _, block := range blocks {
		cur := ""
		for _, line := range strings.Split(block, "\n") {
			if strings.HasPrefix(line, root.Name()+" ") || line == root.Name() {
				cur = root.Name()
				for _, p := range paths {
					if line == p || strings.HasPrefix(line, p+" ") {
						cur = p
						break
					}
				}
				if _, ok := got[cur]; !ok {
					got[cur] = []string{}
				}
			} else if !strings.HasPrefix(line, " ") {
				cur = "" // another program's line (ssh, sudo, ...)
			}
			if cur == "" {
				continue
			}
			// The text after a run of spaces is a comment, not a flag.
			if i := strings.Index(line, "   "); i > 0 && strings.TrimSpace(line[:i]) != "" {
				line = line[:i]
			}
			for _, m := range flagRe.FindAllStringSubmatch(line, -1) {
				if !slices.Contains(got[cur], m[1]) {
					got[cur] = append(got[cur], m[1])
				}
			}
		}
	}
	for _, f := range got {
		slices.Sort(f)
	}
	return got
}

// Flags are the flags of every command of root's tree that an operator
// uses, by command path: help, version and completion's are left out, as
// are the commands help, completion (and its shells) and hidden ones.
func Flags(root *cobra.Command) map[string][]string {
	got := map[string][]string{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		var names []string
		add := func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" || f.Name == "version" || slices.Contains(names, f.Name) {
				return
			}
			names = append(names, f.Name)
		}
		c.LocalFlags().VisitAll(add)
		c.InheritedFlags().VisitAll(add)
		slices.Sort(names)
		got[c.CommandPath()] = names
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	return got
}

// Compare says where root's flags and README's synopses disagree: a
// command without a synopsis, a flag the synopsis lacks, a flag it gives
// that the command does not have. also are further commands that need a
// synopsis (completion).
func Compare(root *cobra.Command, blocks []string, also ...string) []string {
	flags, syn := Flags(root), Synopses(root, blocks)
	var problems []string
	paths := make([]string, 0, len(flags))
	for p := range flags {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range append(paths, also...) {
		got, ok := syn[p]
		if !ok {
			problems = append(problems, fmt.Sprintf("README.md has no synopsis of %s", p))
			continue
		}
		for _, f := range flags[p] {
			if !slices.Contains(got, f) {
				problems = append(problems, fmt.Sprintf("README.md's synopsis of %s lacks --%s", p, f))
			}
		}
		for _, f := range got {
			if !slices.Contains(flags[p], f) {
				problems = append(problems, fmt.Sprintf("README.md's synopsis of %s gives --%s, which %s does not have", p, f, p))
			}
		}
	}
	return problems
}
