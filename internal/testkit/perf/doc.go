// Package perf holds benchmarks that measure whole paths across packages
// (store, client, tui): what the operator waits for, not one function;
// idle.go measures what a process costs while it waits (CPU, wake-ups).
package perf
