package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	describeSuffix = regexp.MustCompile(`-([0-9]+)-g([0-9a-f]{4,40})$`)
	debianUpstream = regexp.MustCompile(`^[0-9]+(\.[0-9]+)+([~+.][0-9A-Za-z.+~]*)?$`)
)

// DebianVersion turns `git describe --tags --dirty` output into a Debian
// version that sorts the way the commits do:
//
//	v1.2.0                  1.2.0
//	v1.2.0-3-g3f2a9c1       1.2.0+git3.3f2a9c1    (after 1.2.0)
//	v1.3.0-rc1              1.3.0~rc1             (before 1.3.0)
//	v1.2.0-3-g3f2a9c1-dirty 1.2.0+git3.3f2a9c1.dirty
func DebianVersion(describe string) (string, error) {
	s, dirty := strings.CutSuffix(strings.TrimSpace(describe), "-dirty")
	var git string
	if m := describeSuffix.FindStringSubmatch(s); m != nil {
		git = "+git" + m[1] + "." + m[2]
		s = s[:len(s)-len(m[0])]
	}
	s = strings.TrimPrefix(s, "v")
	s = strings.Replace(s, "-", "~", 1) // a pre-release sorts before its release
	v := s + git
	if dirty {
		if git == "" {
			v += "+dirty"
		} else {
			v += ".dirty"
		}
	}
	if !debianUpstream.MatchString(v) {
		return "", fmt.Errorf("version %q: want git describe output of a tag vX.Y.Z (got Debian version %q)", describe, v)
	}
	return v, nil
}

// commitTime is the time of the commit being packaged (SOURCE_DATE_EPOCH
// when set), so that packaging the same commit twice gives the same files.
func commitTime() (time.Time, error) {
	if e := os.Getenv("SOURCE_DATE_EPOCH"); e != "" {
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", e, err)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	out, err := exec.Command("git", "log", "-1", "--format=%ct").Output()
	if err != nil {
		// Not a git checkout (a source tarball): the time of the build.
		return time.Now().UTC().Truncate(time.Second), nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("commit time %q: %w", out, err)
	}
	return time.Unix(n, 0).UTC(), nil
}
