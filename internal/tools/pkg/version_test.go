package main

import (
	"os/exec"
	"testing"
)

func TestDebianVersion(t *testing.T) {
	good := []struct{ in, want string }{
		{"v1.2.0", "1.2.0"},
		{"1.2.0", "1.2.0"},
		{"v1.2.0-3-g3f2a9c1", "1.2.0+git3.3f2a9c1"},
		{"v1.2.0-3-g3f2a9c1-dirty", "1.2.0+git3.3f2a9c1.dirty"},
		{"v1.2.0-dirty", "1.2.0+dirty"},
		{"v1.3.0-rc1", "1.3.0~rc1"},
		{"v1.3.0-rc1-7-gabcdef012345", "1.3.0~rc1+git7.abcdef012345"},
		{"v0.0.0-412-g47a33552cba4\n", "0.0.0+git412.47a33552cba4"},
	}
	for _, tt := range good {
		got, err := DebianVersion(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("DebianVersion(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "47a3355", "main", "v1.2.0 beta", "v1.2_0", "-3-g3f2a9c1"} {
		if got, err := DebianVersion(in); err == nil {
			t.Errorf("DebianVersion(%q) = %q, want an error", in, got)
		}
	}
}

// TestDebianVersionOrder checks with dpkg itself that the versions sort as
// the commits do.
func TestDebianVersionOrder(t *testing.T) {
	order := []string{"v1.2.0-rc1", "v1.2.0", "v1.2.0-3-g3f2a9c1", "v1.2.0-3-g3f2a9c1-dirty", "v1.2.0-12-g0000000", "v1.3.0-rc1", "v1.3.0"}
	compareVersions(t, order)
}

// compareVersions checks with `dpkg --compare-versions` that the Debian
// versions of describes sort in the order given.
func compareVersions(t *testing.T, describes []string) {
	t.Helper()
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skip("dpkg not installed: the order of Debian versions is not checked")
	}
	for i := 1; i < len(describes); i++ {
		a, errA := DebianVersion(describes[i-1])
		b, errB := DebianVersion(describes[i])
		if errA != nil || errB != nil {
			t.Fatalf("%v %v", errA, errB)
		}
		if err := exec.Command(dpkg, "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg: %s is not before %s (%s, %s)", a, b, describes[i-1], describes[i])
		}
	}
}
