package main

import (
	"testing"

	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/internal/testkit/readme"
)

// TestREADMEFlags: README's synopsis of rbd (section rbd) names every
// command and flag of rbd's tree, and no other.
func TestREADMEFlags(t *testing.T) {
	blocks, err := readme.CommandBlocks(readme.Path, "rbd")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range readme.Compare(cli.Tree(newRoot(), program()), blocks, "rbd completion", "rbd help") {
		t.Error(p)
	}
}
