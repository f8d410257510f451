// Package fswatch tells a waiting loop that a file changed, so that it
// sleeps until then instead of looking at the file on a timer: the client's
// change watch (the history written by another process) and the SSH
// server's authorized keys. An idle station wakes for nothing (issue 24).
package fswatch
