//go:build !unix

package sshsrv

import "os"

// inode is 0 where the platform has none: the time and size decide.
func inode(os.FileInfo) uint64 { return 0 }
