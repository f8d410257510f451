// Package clustertest holds the fleet's tests: several stations (rbd child
// processes, each with a simulated modem on a pseudo-terminal) and several
// clients on one three-node RabbitMQ cluster of private nodes
// (internal/testkit/brokertest.StartCluster), shared by the package's tests through
// TestMain. While MO and MT traffic flows, a node is killed (SIGKILL),
// another stopped cleanly, the third cut off by a partition; every MO must
// reach its gateway exactly once, every MT and status every client, and the
// clients and stations must carry on through the surviving nodes.
//
// BenchmarkFleet measures the same over 20 stations with one node killed
// halfway; TestShovel checks the README's shovel settings between two
// single nodes.
package clustertest
