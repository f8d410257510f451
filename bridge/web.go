package bridge

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// webFiles is the embedded web chat, served at / without --web-root. It
// needs nothing from the internet: the Socket.IO client is in vendor/.
//
//go:embed web
var webFiles embed.FS

// webCSP keeps the embedded page to its own files and its own bridge.
const webCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// static serves the UI at /: the folder of WebRoot (an SPA: unknown paths
// get its index.html, for the app's own routes), or the embedded chat.
func (s *Server) static() (http.Handler, error) {
	if s.cfg.WebRoot != "" {
		root, err := os.OpenRoot(s.cfg.WebRoot)
		if err != nil {
			return nil, fmt.Errorf("web root: %w", err)
		}
		s.webRoot = root
		files := &fileServer{fsys: root.FS(), spa: true}
		if s.cfg.TokenFile != "" {
			fi, err := os.Stat(s.cfg.TokenFile)
			if err != nil {
				root.Close()
				return nil, fmt.Errorf("token file: %w", err)
			}
			files.never = fi
		}
		return files, nil
	}
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embed is part of the binary
	}
	files := &fileServer{fsys: sub}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", webCSP)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}), nil
}

// fileServer serves the regular files of fsys and nothing else: no
// directory listings, no special files. With fsys an os.Root's, a symbolic
// link is followed only as long as it stays inside the root.
type fileServer struct {
	fsys fs.FS
	// spa serves index.html for a path that looks like a page (no
	// extension) and names nothing, so the UI's routes load.
	spa bool
	// never is a file never served, wherever it appears (the token file).
	never os.FileInfo
}

func (f *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	name, ok := filePath(r.URL.Path)
	if !ok {
		http.Error(w, "malformed path", http.StatusBadRequest)
		return
	}
	if name == "" {
		name = "index.html"
	}
	file, fi, err := f.open(name)
	if errors.Is(err, fs.ErrNotExist) && f.spa && path.Ext(name) == "" {
		file, fi, err = f.open("index.html")
	}
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	defer file.Close()
	rs, ok := file.(io.ReadSeeker)
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), rs)
}

// errNotServed is a name that exists but is no file to serve.
var errNotServed = errors.New("not a file to serve")

// open opens name if it is a regular file that may be served.
func (f *fileServer) open(name string) (fs.File, fs.FileInfo, error) {
	file, err := f.fsys.Open(name)
	if err != nil {
		return nil, nil, err
	}
	fi, err := file.Stat()
	if err == nil && (!fi.Mode().IsRegular() || (f.never != nil && os.SameFile(fi, f.never))) {
		err = errNotServed
	}
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	return file, fi, nil
}

// filePath turns a request's path into a name in the served tree ("" for
// the root); false when it is malformed: not UTF-8, a control character
// (NUL among them), or no valid name once cleaned.
func filePath(p string) (string, bool) {
	if !utf8.ValidString(p) || strings.ContainsFunc(p, unicode.IsControl) || strings.Contains(p, "\\") {
		return "", false
	}
	name := strings.TrimPrefix(path.Clean("/"+p), "/")
	if name == "" {
		return "", true
	}
	return name, fs.ValidPath(name)
}
