package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/strata-cache/strata/admin"
	"github.com/strata-cache/strata/inval"
)

// listFlag collects a flag given as a comma-separated list, repeatedly.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func runInvalidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runInvalidation(ctx, "invalidate", args, stdout, stderr)
}

// runPurge is invalidate that always waits: it answers once every live node
// has applied the purge.
func runPurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runInvalidation(ctx, "purge", args, stdout, stderr)
}

func runInvalidation(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	var paths, urls, tags listFlag
	fs.Var(&paths, "paths", "paths, comma-separated; a trailing * is a prefix wildcard (e.g. '/api/*'); a path matches every query string")
	fs.Var(&urls, "urls", "exact URLs, comma-separated (e.g. 'http://shop.example/api/products?page=2')")
	fs.Var(&tags, "tags", "surrogate keys, comma-separated (e.g. 'product:42')")
	all := fs.Bool("all", false, "everything, on every edge node")
	soft := fs.Bool("soft", false, "mark matching entries stale (revalidated, and served stale where stale-while-revalidate allows) instead of removing them")
	adminURL := fs.String("admin", envOr("STRATA_ADMIN_URL", "http://127.0.0.1:9090"), "admin API URL (default $STRATA_ADMIN_URL)")
	token := fs.String("admin-token", "", "admin bearer token (default $STRATA_ADMIN_TOKEN, else the token in -data-dir)")
	dataDir := fs.String("data-dir", "./strata-data", "data dir holding a generated admin token")
	ref := fs.String("caller-reference", "", "idempotency key: repeating it with the same batch returns the same invalidation (default random)")
	wait := cmd == "purge"
	if cmd == "invalidate" {
		fs.BoolVar(&wait, "wait", false, "return only when the invalidation is Completed on every live node")
	}
	timeout := fs.Duration("timeout", 5*time.Minute, "when waiting, give up after this long")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if len(paths)+len(urls)+len(tags) == 0 && !*all {
		return fmt.Errorf("%w: %s: give -paths, -urls, -tags or -all", errUsage, cmd)
	}
	if *all && len(paths)+len(urls)+len(tags) > 0 {
		return fmt.Errorf("%w: %s: -all goes alone", errUsage, cmd)
	}
	base, err := url.Parse(*adminURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("%w: %s: -admin %q is not an http(s) URL", errUsage, cmd, *adminURL)
	}
	tok := *token
	if tok == "" {
		tok = os.Getenv("STRATA_ADMIN_TOKEN")
	}
	if tok == "" {
		b, err := os.ReadFile(filepath.Join(*dataDir, admin.TokenFile))
		if err != nil {
			return fmt.Errorf("%w: %s: no admin token: give -admin-token or STRATA_ADMIN_TOKEN (%v)", errUsage, cmd, err)
		}
		tok = strings.TrimSpace(string(b))
	}
	if *ref == "" {
		var b [8]byte
		rand.Read(b[:])
		*ref = "strata-cli-" + hex.EncodeToString(b[:])
	}
	c := &adminClient{base: strings.TrimRight(base.String(), "/"), token: tok}
	body, _ := json.Marshal(admin.CreateRequest{Paths: paths, URLs: urls, Tags: tags, All: *all, Soft: *soft, CallerReference: *ref})
	var inv inval.Invalidation
	if err := c.do(ctx, http.MethodPost, "/invalidations", body, &inv); err != nil {
		return err
	}
	if wait && inv.Status != inval.StatusCompleted {
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		for inv.Status != inval.StatusCompleted {
			// Each request long-polls on the server: no client-side sleeping.
			err := c.do(ctx, http.MethodGet, "/invalidations/"+url.PathEscape(inv.ID)+"?wait=30s", nil, &inv)
			if err != nil {
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return fmt.Errorf("%s: %s still %s after %v", cmd, inv.ID, inv.Status, *timeout)
				}
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "%s %s\n", inv.ID, inv.Status)
	for _, n := range inv.Nodes {
		state := "pending"
		switch {
		case n.Done:
			state = "applied"
		case !n.Live:
			state = "dead (not waited for)"
		}
		fmt.Fprintf(stdout, "  node %s: %s\n", n.Node, state)
	}
	return nil
}

// httpClient bounds each admin request; status requests long-poll for 30s.
var httpClient = &http.Client{Timeout: 45 * time.Second}

type adminClient struct {
	base, token string
}

func (c *adminClient) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("invalidate: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("invalidate: reading response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		json.Unmarshal(b, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return fmt.Errorf("invalidate: %s %s: %s: %s", method, path, resp.Status, e.Error)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("invalidate: bad response: %w", err)
	}
	return nil
}
