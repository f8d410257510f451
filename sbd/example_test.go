package sbd_test

import (
	"context"
	"fmt"

	"github.com/rockblock-station/rockblock-station/sbd"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// A send and receive against the simulator's in-memory link; on hardware,
// use sbd.Open("/dev/ttyUSB0", 0, opts) instead of sbd.New.
func Example() {
	s, err := sim.New(sim.Config{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	m := sbd.New(s.Pipe(), sbd.Options{Model: "9603"})
	defer m.Close()
	ctx := context.Background()

	id, err := m.Init(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("IMEI", id.IMEI, "limits", id.Limits.MaxMO, id.Limits.MaxMT)

	if _, err := s.Gateway().QueueMT([]byte("hello station")); err != nil {
		panic(err)
	}
	if err := m.WriteMO(ctx, []byte("hello world")); err != nil {
		panic(err)
	}
	res, err := m.Session(ctx, sbd.SessionOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println("sent:", res.MOSuccess(), "MT waiting:", res.MTReceived())
	if res.MTReceived() {
		data, err := m.ReadMT(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Printf("received %q\n", data)
	}
	// After a success, clear the MO buffer so a later mailbox check does not
	// send (and bill) the same message again.
	if err := m.Clear(ctx, sbd.BufferMO); err != nil {
		panic(err)
	}
	fmt.Println(sbd.SessionResult{MOStatus: 32}.Advice(1).WaitForService)
	// Output:
	// IMEI 300234010753370 limits 340 270
	// sent: true MT waiting: true
	// received "hello station"
	// true
}
