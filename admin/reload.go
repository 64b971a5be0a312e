package admin

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// ReloadSummary is what a successful POST /config/reload answers.
type ReloadSummary struct {
	Reloaded bool `json:"reloaded"`
	// Behaviors counts the path behaviors now in force, the default one
	// included.
	Behaviors int `json:"behaviors"`
	// Source is the file that was read.
	Source string `json:"source"`
	// Warnings are things in the new file that are valid but probably
	// not meant.
	Warnings []string `json:"warnings,omitempty"`
}

// ConfigProblem is one problem in a configuration file.
type ConfigProblem struct {
	// Pos is "file:line:col", or the file alone when the problem concerns
	// the file as a whole.
	Pos     string `json:"pos"`
	Message string `json:"message"`
}

// InvalidConfigError is what a Reload hook returns when the new file cannot
// be used; the running configuration stays. POST /config/reload answers it
// with 400 and every problem.
type InvalidConfigError struct {
	Source   string
	Problems []ConfigProblem
}

func (e *InvalidConfigError) Error() string {
	return fmt.Sprintf("admin: %s: %d problem(s); the running configuration is unchanged", e.Source, len(e.Problems))
}

type callerKey struct{}

// Caller returns who asked for the call whose context ctx is: "admin@" and
// the remote address for a call to the admin API, "" otherwise.
func Caller(ctx context.Context) string {
	s, _ := ctx.Value(callerKey{}).(string)
	return s
}

func (h *handler) reload(w http.ResponseWriter, r *http.Request, lg *callLog) error {
	if h.cfg.Reload == nil {
		return fmt.Errorf("%w: this process has no configuration file to reload (it was started without -config)", errNotFound)
	}
	sum, err := h.cfg.Reload(context.WithValue(r.Context(), callerKey{}, who(r)))
	if err != nil {
		return err
	}
	lg.add(slog.String("source", sum.Source), slog.Int("behaviors", sum.Behaviors))
	writeJSON(w, http.StatusOK, sum)
	return nil
}

// explain builds the request GET /explain describes and answers what the
// Explain hook says of it. The query holds url (an absolute http or https
// URL), header (repeatable, "Name: value") and method (default GET).
func (h *handler) explain(w http.ResponseWriter, r *http.Request, lg *callLog) error {
	if h.cfg.Explain == nil {
		return fmt.Errorf("%w: this process explains no requests", errNotFound)
	}
	req, err := explainRequest(r)
	if err != nil {
		return err
	}
	lg.add(slog.String("method", req.Method), slog.String("url", req.URL.String()))
	writeJSON(w, http.StatusOK, h.cfg.Explain(req))
	return nil
}

// explainRequest makes the synthetic request of GET /explain as a server
// would have received it: Host, RequestURI and, for https, TLS are set.
func explainRequest(r *http.Request) (*http.Request, error) {
	q := r.URL.Query()
	raw := q.Get("url")
	if raw == "" {
		return nil, fmt.Errorf("%w: url is required: /explain?url=https://host/path&header=Name:value", errBadRequest)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: url %q must be an absolute http:// or https:// URL without a fragment", errBadRequest, raw)
	}
	method := q.Get("method")
	if method == "" {
		method = http.MethodGet
	}
	if !isToken(method) {
		return nil, fmt.Errorf("%w: method %q is not an HTTP method", errBadRequest, method)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	for _, hv := range q["header"] {
		name, value, ok := strings.Cut(hv, ":")
		value = strings.TrimSpace(value)
		if !ok || !isToken(name) || !validFieldValue(value) {
			return nil, fmt.Errorf("%w: header %q must be Name:value with a valid name and value", errBadRequest, hv)
		}
		if strings.EqualFold(name, "Host") {
			req.Host = value
			continue
		}
		req.Header.Add(name, value)
	}
	req.RequestURI = u.RequestURI()
	req.RemoteAddr = r.RemoteAddr
	if u.Scheme == "https" {
		req.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: u.Hostname()}
	}
	return req, nil
}

// isToken reports whether s is an RFC 9110 token (method and header names).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// validFieldValue reports whether s may be a header value: visible ASCII,
// spaces, tabs and obs-text; no control characters.
func validFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
