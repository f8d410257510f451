package main

import (
	"testing"

	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/internal/testkit/readme"
)

// TestREADMEFlags: README's synopses of rbtui (sections rbtui, Dead
// letters, rbtui serve, rbtui ssh) name every command and flag of rbtui's
// tree, and no other.
func TestREADMEFlags(t *testing.T) {
	blocks, err := readme.CommandBlocks(readme.Path, "rbtui", "Dead letters", "rbtui serve", "rbtui ssh")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range readme.Compare(cli.Tree(newRoot(), program()), blocks, "rbtui completion", "rbtui help") {
		t.Error(p)
	}
}
