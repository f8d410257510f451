// Command pkg builds the Debian packages of a station (`make package`) from
// packaging/nfpm.yaml with nfpm, one per architecture:
//
//	go run -C internal/tools/pkg . -root "$PWD" -version "$(scripts/version.sh)" \
//	    -bin build -out dist amd64 arm64 arm7
//
// Each architecture's programs are read from <bin>/<arch>/ (the Makefile
// cross-builds them there); arm7 is Debian's armhf. The packages are written
// to <out>/rockblock-station_<version>_<debian arch>.deb and their paths
// printed, one a line.
//
// This tool is a Go module of its own: nfpm brings some forty modules (git,
// OpenPGP, compression, templating) that rbd and rbtui must not carry in their
// module graph, go.sum, `go vet ./...` or vulnerability reports.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "pkg:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pkg", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", ".", "repository root (the paths of the config are relative to it)")
	config := fs.String("config", "packaging/nfpm.yaml", "nfpm configuration, relative to -root")
	version := fs.String("version", "", "`git describe` of the build, e.g. v1.2.0-3-g3f2a9c1 (scripts/version.sh)")
	bin := fs.String("bin", "build", "directory with one directory of programs per architecture, relative to -root")
	out := fs.String("out", "dist", "directory of the packages, relative to -root")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: pkg -version V [flags] ARCH...   (ARCH: amd64, arm64, arm7)\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version == "" {
		return errors.New("no -version (give the output of scripts/version.sh)")
	}
	if fs.NArg() == 0 {
		return errors.New("no architecture (amd64, arm64, arm7)")
	}
	debVersion, err := DebianVersion(*version)
	if err != nil {
		return err
	}
	if err := os.Chdir(*root); err != nil {
		return fmt.Errorf("repository root: %w", err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", *out, err)
	}
	mtime, err := commitTime()
	if err != nil {
		return err
	}
	for _, arch := range fs.Args() {
		if _, ok := debianArch[arch]; !ok {
			return fmt.Errorf("architecture %q: want amd64, arm64 or arm7", arch)
		}
		path, err := build(*config, arch, filepath.Join(*bin, arch), debVersion, mtime, *out)
		if err != nil {
			return fmt.Errorf("package %s: %w", arch, err)
		}
		fmt.Fprintln(stdout, path)
	}
	return nil
}

// debianArch maps the architectures this tool builds (nfpm's names, GOARCH
// plus the ARM version) to Debian's.
var debianArch = map[string]string{"amd64": "amd64", "arm64": "arm64", "arm7": "armhf"}

// build writes the package of one architecture and returns its path.
func build(config, arch, binDir, debVersion string, mtime time.Time, out string) (string, error) {
	for _, p := range []string{"rbd", "rbtui", "rbtui-app"} {
		if _, err := os.Stat(filepath.Join(binDir, p)); err != nil {
			return "", fmt.Errorf("program missing (run make package): %w", err)
		}
	}
	env := map[string]string{"ARCH": arch, "BIN_DIR": binDir, "DEB_VERSION": debVersion}
	cfg, err := nfpm.ParseFileWithEnvMapping(config, func(k string) string { return env[k] })
	if err != nil {
		return "", fmt.Errorf("read %s: %w", config, err)
	}
	info, err := cfg.Get("deb")
	if err != nil {
		return "", fmt.Errorf("read %s: %w", config, err)
	}
	// The same sources make the same package: file times are the commit's.
	info.MTime = mtime
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", fmt.Errorf("check %s: %w", config, err)
	}
	packager, err := nfpm.Get("deb")
	if err != nil {
		return "", err
	}
	path := filepath.Join(out, packager.ConventionalFileName(info))
	info.Target = path
	f, err := os.Create(path + ".part")
	if err != nil {
		return "", fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := packager.Package(info, f); err != nil {
		f.Close()
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}
