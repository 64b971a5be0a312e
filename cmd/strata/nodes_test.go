package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/strata-cache/strata/internal/testenv"
)

// countingOrigin serves a few cacheable paths with surrogate keys and
// counts the requests (and conditional ones) it gets per path. /slow waits
// for the test before answering.
type countingOrigin struct {
	mu          sync.Mutex
	hits        map[string]int
	conditional map[string]int
	slowIn      chan struct{} // receives when /slow has been asked
	slowGo      chan struct{} // /slow answers when this is closed
}

func (o *countingOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.hits[r.URL.Path]++
	n := o.hits[r.URL.Path]
	if r.Header.Get("If-None-Match") != "" {
		o.conditional[r.URL.Path]++
	}
	o.mu.Unlock()
	etag := `"` + r.URL.Path + `"`
	// No stale-while-revalidate: after a soft purge the next request
	// revalidates in the foreground, so the test can count it.
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("ETag", etag)
	switch r.URL.Path {
	case "/a1", "/a2":
		w.Header().Set("Surrogate-Key", "group-a all")
	case "/b":
		w.Header().Set("Surrogate-Key", "group-b all")
	case "/slow":
		w.Header().Set("Surrogate-Key", "slow")
		if n == 1 {
			o.slowIn <- struct{}{}
			<-o.slowGo
		}
	}
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	fmt.Fprintf(w, "%s #%d", r.URL.Path, n)
}

func (o *countingOrigin) count(path string) (all, conditional int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path], o.conditional[path]
}

// edgeNode is one `strata edge` process on the shared Redis.
type edgeNode struct {
	name, edge, admin string
	p                 *proc
}

func startNode(t *testing.T, name, origin, redisAddr, edgeAddr, adminAddr string) *edgeNode {
	t.Helper()
	p := start(t, "  node", []string{"STRATA_ADMIN_TOKEN=secret"}, "edge", "-origin", origin, "-listen", edgeAddr,
		"-admin-addr", adminAddr, "-data-dir", t.TempDir(), "-redis", "redis://"+redisAddr, "-node", name)
	return &edgeNode{name: name, edge: "http://" + edgeAddr, admin: "http://" + adminAddr, p: p}
}

// get fetches path from the node as the public host every node serves.
func (n *edgeNode) get(t *testing.T, path string) (xcache, body string) {
	t.Helper()
	req, _ := http.NewRequest("GET", n.edge+path, nil)
	req.Host = "shop.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Get("X-Cache"), string(b)
}

type purgeReply struct {
	Status int
	ID     string `json:"id"`
	State  string `json:"status"`
	Nodes  []struct {
		Node string `json:"node"`
		Live bool   `json:"live"`
		Done bool   `json:"done"`
	} `json:"nodes"`
}

// purge posts a purge to the node's admin API and returns the reply.
func (n *edgeNode) purge(t *testing.T, body, token string) purgeReply {
	t.Helper()
	req, _ := http.NewRequest("POST", n.admin+"/purge?wait=30s", strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := purgeReply{Status: resp.StatusCode}
	json.NewDecoder(resp.Body).Decode(&r)
	return r
}

// Several edge processes on one real Redis: every selector removes exactly
// what it names on every node, soft purges revalidate, a purge racing a
// fill wins, bad admin calls change nothing, a dead node does not hold
// purges open and a restarted one serves nothing stale.
func TestEdgeNodesPurgeThroughRedis(t *testing.T) {
	redisAddr := testenv.Redis(t)
	o := &countingOrigin{hits: map[string]int{}, conditional: map[string]int{}, slowIn: make(chan struct{}), slowGo: make(chan struct{})}
	origin := httptest.NewServer(o)
	defer origin.Close()
	addrs := func() (string, string) { return freeAddr(t), freeAddr(t) }
	var nodes []*edgeNode
	for i := range 3 {
		e, a := addrs()
		nodes = append(nodes, startNode(t, fmt.Sprint("node", i+1), origin.URL, redisAddr, e, a))
	}
	warm := func(paths ...string) {
		t.Helper()
		for _, n := range nodes {
			for _, p := range paths {
				n.get(t, p)
				if x, _ := n.get(t, p); !strings.HasPrefix(x, "Hit") {
					t.Fatalf("%s %s second GET: X-Cache %q, want a hit", n.name, p, x)
				}
			}
		}
	}
	want := func(path, xcache string) {
		t.Helper()
		for _, n := range nodes {
			if x, _ := n.get(t, path); !strings.HasPrefix(x, xcache) {
				t.Errorf("%s %s: X-Cache %q, want %s", n.name, path, x, xcache)
			}
		}
	}
	warm("/a1", "/a2", "/b", "/c?x=1")

	// Bad admin calls are refused and purge nothing.
	if r := nodes[0].purge(t, `{"tags":["all"]}`, ""); r.Status != http.StatusUnauthorized {
		t.Errorf("purge without token: %d", r.Status)
	}
	if r := nodes[0].purge(t, `{"tags":["all"]}`, "wrong"); r.Status != http.StatusUnauthorized {
		t.Errorf("purge with a wrong token: %d", r.Status)
	}
	if r := nodes[0].purge(t, `{"tags":`, "secret"); r.Status != http.StatusBadRequest {
		t.Errorf("malformed purge: %d", r.Status)
	}
	if r := nodes[0].purge(t, `{"paths":["no-slash"]}`, "secret"); r.Status != http.StatusBadRequest {
		t.Errorf("purge of a bad path: %d", r.Status)
	}
	want("/a1", "Hit")

	// Surrogate key: exactly the tagged objects, on every node.
	r := nodes[1].purge(t, `{"tags":["group-a"]}`, "secret")
	if r.Status != http.StatusOK || r.State != "Completed" || len(r.Nodes) != 3 {
		t.Fatalf("tag purge: %+v", r)
	}
	want("/a1", "Miss")
	want("/a2", "Miss")
	want("/b", "Hit")

	// Exact URL (with its query), then a path without its query variants.
	if r := nodes[2].purge(t, `{"urls":["http://shop.test/c?x=1"]}`, "secret"); r.State != "Completed" {
		t.Fatalf("URL purge: %+v", r)
	}
	want("/c?x=1", "Miss")
	want("/b", "Hit")
	warm("/c?x=1", "/c?x=2")
	if r := nodes[0].purge(t, `{"paths":["/c"]}`, "secret"); r.State != "Completed" {
		t.Fatalf("path purge: %+v", r)
	}
	want("/c?x=1", "Miss")
	want("/c?x=2", "Miss")
	want("/b", "Hit")

	// Prefix.
	warm("/a1", "/a2")
	if r := nodes[0].purge(t, `{"paths":["/a*"]}`, "secret"); r.State != "Completed" {
		t.Fatalf("prefix purge: %+v", r)
	}
	want("/a1", "Miss")
	want("/a2", "Miss")
	want("/b", "Hit")

	// Soft: the next request revalidates with the origin instead of
	// fetching the object again.
	_, condBefore := o.count("/b")
	if r := nodes[0].purge(t, `{"tags":["group-b"],"soft":true}`, "secret"); r.State != "Completed" {
		t.Fatalf("soft purge: %+v", r)
	}
	for _, n := range nodes {
		n.get(t, "/b")
	}
	for _, n := range nodes { // the revalidation lands; then hits again
		if x, _ := n.get(t, "/b"); !strings.HasPrefix(x, "Hit") {
			t.Errorf("%s /b after the soft purge's revalidation: %q", n.name, x)
		}
	}
	if _, cond := o.count("/b"); cond-condBefore != 3 {
		t.Errorf("conditional requests after a soft purge = %d, want one per node", cond-condBefore)
	}

	// The purge–fill race: node1's fetch of /slow starts, the purge
	// completes while the origin holds the answer, and the answer is not
	// stored.
	done := make(chan struct{})
	go func() { nodes[0].get(t, "/slow"); close(done) }()
	<-o.slowIn
	if r := nodes[1].purge(t, `{"tags":["slow"]}`, "secret"); r.State != "Completed" {
		t.Fatalf("purge during the fill: %+v", r)
	}
	close(o.slowGo)
	<-done
	if x, _ := nodes[0].get(t, "/slow"); strings.HasPrefix(x, "Hit") {
		t.Error("a response fetched before a matching purge was stored")
	}

	// Everything.
	warm("/a1", "/b")
	if r := nodes[2].purge(t, `{"all":true}`, "secret"); r.State != "Completed" {
		t.Fatalf("purge all: %+v", r)
	}
	want("/a1", "Miss")
	want("/b", "Miss")

	// A node that dies does not hold purges open forever; it shows as dead.
	nodes[2].p.cmd.Process.Signal(syscall.SIGKILL)
	nodes[2].p.cmd.Wait()
	warm2 := nodes[:2]
	for _, n := range warm2 {
		n.get(t, "/b")
	}
	r = nodes[0].purge(t, `{"tags":["group-b"]}`, "secret")
	if r.State != "Completed" {
		t.Fatalf("purge with a dead node: %+v", r)
	}
	for _, ns := range r.Nodes {
		if ns.Node == "node3" && ns.Live {
			t.Errorf("killed node reported live: %+v", r.Nodes)
		}
	}
	// Restarted under its name, it serves nothing from before.
	e, a := addrs()
	n3 := startNode(t, "node3", origin.URL, redisAddr, e, a)
	if x, _ := n3.get(t, "/b"); strings.HasPrefix(x, "Hit") {
		t.Error("a restarted node served a response from before it stopped")
	}
}

// The admin API's rate limit is set by flags; over it, 429 and nothing is
// invalidated. (A request larger than the burst is let through when the
// bucket is full, so no request is too large to ever pass; the next one
// then waits.)
func TestAdminRateLimitFlags(t *testing.T) {
	origin := httptest.NewServer(http.NotFoundHandler())
	defer origin.Close()
	adminAddr := freeAddr(t)
	start(t, "  admin", []string{"STRATA_ADMIN_TOKEN=secret"}, "edge", "-origin", origin.URL, "-listen", freeAddr(t),
		"-admin-addr", adminAddr, "-data-dir", t.TempDir(), "-admin-rate-limit", "0.001", "-admin-rate-burst", "2")
	n := &edgeNode{admin: "http://" + adminAddr}
	if r := n.purge(t, `{"tags":["a","b","c"]}`, "secret"); r.Status != http.StatusOK {
		t.Errorf("3 items with the bucket full: %d, want 200", r.Status)
	}
	if r := n.purge(t, `{"tags":["d"]}`, "secret"); r.Status != http.StatusTooManyRequests {
		t.Errorf("1 more item at once: %d, want 429", r.Status)
	}
}
