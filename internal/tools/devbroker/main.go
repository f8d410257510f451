// Command devbroker runs a private RabbitMQ node (Debian's rabbitmq-server)
// on a free loopback port with its own data directory, prints its URL and
// serves until interrupted; then it stops the node and removes its data.
// It is for measurements and manual tries, never for production:
//
//	go run ./internal/tools/devbroker > /tmp/url &
//	RB_AMQP_URL=$(cat /tmp/url) scripts/rbd-idle.sh
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
)

func main() {
	node, err := brokertest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "devbroker:", err)
		os.Exit(1)
	}
	fmt.Println(node.URL())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	<-ctx.Done()
	stop()
	if err := node.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "devbroker:", err)
		os.Exit(1)
	}
}
