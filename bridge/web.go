package bridge

import (
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
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
func (s *Server) static() http.Handler {
	if s.cfg.WebRoot != "" {
		return spa(os.DirFS(s.cfg.WebRoot))
	}
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embed is part of the binary
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", webCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// spa serves the files of root, and root's index.html for any other path
// that looks like a page (no extension), so the UI's routes load.
func spa(root fs.FS) http.Handler {
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		p := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if p == "" {
			p = "."
		}
		if _, err := fs.Stat(root, p); errors.Is(err, fs.ErrNotExist) && path.Ext(p) == "" {
			http.ServeFileFS(w, r, root, "index.html")
			return
		}
		files.ServeHTTP(w, r)
	})
}
