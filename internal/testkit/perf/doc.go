// Package perf holds benchmarks that measure whole paths across packages
// (store, client, tui): what the operator waits for, not one function.
package perf
