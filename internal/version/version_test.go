package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	rev := "3f2a9c1b7d4e5f60718293a4b5c6d7e8f9a0b1c2"
	info := func(mainVersion string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: mainVersion}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	tests := []struct {
		name    string
		release string
		bi      *debug.BuildInfo
		want    string
	}{
		{"release and revision", "v1.2.0", info("(devel)", "vcs.revision", rev, "vcs.modified", "false"),
			"rbd v1.2.0 (revision 3f2a9c1b7d4e) go1.26.8"},
		{"modified tree", "v1.2.0-3-g3f2a9c1-dirty", info("(devel)", "vcs.revision", rev, "vcs.modified", "true"),
			"rbd v1.2.0-3-g3f2a9c1-dirty (revision 3f2a9c1b7d4e, modified) go1.26.8"},
		{"go install of a tag", "", info("v1.3.0"), "rbd v1.3.0 (no revision recorded) go1.26.8"},
		{"plain go build", "", info("(devel)"), "rbd dev (no revision recorded) go1.26.8"},
		{"short revision kept whole", "v1", info("", "vcs.revision", "abc"), "rbd v1 (revision abc) go1.26.8"},
		{"no build info", "", nil, "rbd dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := format("rbd", tt.release, tt.bi); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestProgramsPrintTheirBuild builds the three programs the way the Makefile
// does (-X version, VCS stamping on) and checks what `version` prints
// against what the toolchain recorded in each binary and against git.
func TestProgramsPrintTheirBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three programs")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	head := ""
	if out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output(); err == nil {
		head = strings.TrimSpace(string(out))
	}
	const release = "v9.8.7-test"
	bin := t.TempDir()
	build := exec.Command("go", "build", "-buildvcs=auto",
		"-ldflags", "-X github.com/rockblock-station/rockblock-station/internal/version.Version="+release,
		"-o", bin+"/", "./cmd/rbd", "./cmd/rbtui", "./cmd/rbtui-app")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, tc := range []struct{ file, program string }{
		{"rbd", "rbd"}, {"rbtui", "rbtui"}, {"rbtui-app", "rbtui"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(bin, tc.file)
			cmd := exec.Command(path, "version")
			cmd.Env = append(os.Environ(), "RB_CONFIG=/nonexistent")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s version: %v", tc.file, err)
			}
			line := strings.TrimSpace(string(out))
			if !strings.HasPrefix(line, tc.program+" "+release+" ") {
				t.Fatalf("%s version = %q, want it to start with %q", tc.file, line, tc.program+" "+release)
			}
			bi, err := readBuildInfo(path)
			if err != nil {
				t.Fatal(err)
			}
			if want := format(tc.program, release, bi); line != want {
				t.Fatalf("%s version = %q, want %q (from the binary's build info)", tc.file, line, want)
			}
			rev := setting(bi, "vcs.revision")
			if rev != "" && head != "" && rev != head {
				t.Fatalf("recorded revision %s, git HEAD is %s", rev, head)
			}
			t.Logf("%s", line)
		})
	}
}

// readBuildInfo reads the build info a binary carries, as `go version -m`
// prints it.
func readBuildInfo(path string) (*debug.BuildInfo, error) {
	out, err := exec.Command("go", "version", "-m", path).Output()
	if err != nil {
		return nil, err
	}
	// The first line is "<path>: go1.x"; the rest is debug.BuildInfo's text form.
	_, rest, _ := strings.Cut(string(out), "\n")
	bi, err := debug.ParseBuildInfo(strings.ReplaceAll(rest, "\n\t", "\n"))
	if err != nil {
		return nil, err
	}
	first, _, _ := strings.Cut(string(out), "\n")
	_, bi.GoVersion, _ = strings.Cut(first, ": ")
	return bi, nil
}

func setting(bi *debug.BuildInfo, key string) string {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}
