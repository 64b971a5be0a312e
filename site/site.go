package site

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/strata-cache/strata/edge/oac"
)

//go:embed static
var embedded embed.FS

// Config configures a Handler.
type Config struct {
	// Dir serves files from this directory; empty serves the embedded
	// sample site.
	Dir string
	// MaxAge is the max-age of responses. Default 5 minutes.
	MaxAge time.Duration
	// OAC, when set, makes the site refuse (403, plain text) every request
	// that does not carry a valid origin access control signature
	// (edge/oac), so that only edges holding one of its keys can fetch
	// from it. Nil serves everyone.
	OAC *oac.Verifier
}

// Handler serves a static site.
type Handler struct {
	files  http.Handler
	fsys   fs.FS
	etags  map[string]string // embedded only: path → ETag
	maxAge string
	oac    http.Handler // cfg.OAC's middleware around serve; nil without
}

// New returns a Handler for cfg. It fails when Dir is not a readable
// directory.
func New(cfg Config) (*Handler, error) {
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 5 * time.Minute
	}
	h := &Handler{maxAge: "public, max-age=" + strconv.Itoa(int(cfg.MaxAge/time.Second))}
	if cfg.Dir == "" {
		sub, err := fs.Sub(embedded, "static")
		if err != nil {
			return nil, err
		}
		h.fsys = sub
		h.etags = map[string]string{}
		err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(sub, p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			h.etags["/"+p] = `"` + hex.EncodeToString(sum[:8]) + `"`
			return nil
		})
		if err != nil {
			return nil, err
		}
	} else {
		st, err := os.Stat(cfg.Dir)
		if err != nil {
			return nil, fmt.Errorf("site: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("site: %s is not a directory", cfg.Dir)
		}
		h.fsys = os.DirFS(cfg.Dir)
	}
	h.files = http.FileServer(http.FS(h.fsys))
	if cfg.OAC != nil {
		h.oac = cfg.OAC.Middleware(http.HandlerFunc(h.serve))
	}
	return h, nil
}

// ServeHTTP serves a file; a path ending in "/" serves its index.html, and
// directories without one are 404, never listed. With Config.OAC, unsigned
// requests get 403 first.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.oac != nil {
		h.oac.ServeHTTP(w, r)
		return
	}
	h.serve(w, r)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean("/" + r.URL.Path)
	if strings.HasSuffix(r.URL.Path, "/") {
		p = path.Join(p, "index.html")
	}
	name := strings.TrimPrefix(p, "/")
	if st, err := fs.Stat(h.fsys, name); err != nil || st.IsDir() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", h.maxAge)
	if etag, ok := h.etags[p]; ok {
		w.Header().Set("Etag", etag)
	}
	// FileServer redirects /index.html to /; serve index files directly.
	if path.Base(p) == "index.html" {
		f, err := h.fsys.Open(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		rs, ok := f.(io.ReadSeeker)
		if err != nil || !ok {
			http.Error(w, "cannot read file", http.StatusInternalServerError)
			return
		}
		http.ServeContent(w, r, name, st.ModTime(), rs)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = p
	h.files.ServeHTTP(w, r2)
}
