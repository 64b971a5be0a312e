package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-cache/strata/internal/testenv"
)

// apiNode is one `strata api` process.
type apiNode struct {
	name, api, admin string
	args             []string
	p                *proc
}

func startAPI(t *testing.T, name, dsn, redisAddr string) *apiNode {
	t.Helper()
	n := &apiNode{name: name, api: freeAddr(t), admin: freeAddr(t)}
	n.args = []string{"api", "-db", dsn, "-redis", "redis://" + redisAddr, "-listen", n.api, "-admin-addr", n.admin,
		"-data-dir", t.TempDir(), "-node", name, "-relay-poll", "200ms"}
	n.p = start(t, "node", []string{"STRATA_ADMIN_TOKEN=secret"}, n.args...)
	return n
}

func (n *apiNode) restart(t *testing.T) {
	t.Helper()
	n.p = start(t, "node", []string{"STRATA_ADMIN_TOKEN=secret"}, n.args...)
}

// psql runs SQL with the psql binary, as any other client of the database
// would, and returns its unaligned output.
func psql(t *testing.T, dsn, sql string) string {
	t.Helper()
	bin, err := exec.LookPath("psql")
	if err != nil {
		matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/psql")
		if len(matches) == 0 {
			t.Skip("psql not installed")
		}
		bin = matches[0]
	}
	out, err := exec.Command(bin, "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

type invRecord struct {
	ID      string   `json:"id"`
	Status  string   `json:"status"`
	Keys    []string `json:"keys"`
	Version uint64   `json:"version"`
	All     bool     `json:"all"`
	Flush   bool     `json:"flush"`
	Nodes   []struct {
		Node string `json:"node"`
		Live bool   `json:"live"`
		Done bool   `json:"done"`
	} `json:"nodes"`
}

// waitInvalidation waits until the invalidation covering data version v
// exists, then until it is Completed, through the admin API at admin, and
// returns it.
func waitInvalidation(t *testing.T, admin string, v uint64) invRecord {
	admin = strings.TrimPrefix(admin, "http://")
	t.Helper()
	c := client{t}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := c.do("GET", "http://"+admin+"/invalidations?limit=50", "", "Authorization", "Bearer secret")
		var list struct {
			Invalidations []invRecord `json:"invalidations"`
		}
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("invalidations: %v: %s", err, body)
		}
		for _, inv := range list.Invalidations {
			if inv.Version >= v {
				resp, body := c.do("GET", "http://"+admin+"/invalidations/"+inv.ID+"?wait=30s", "", "Authorization", "Bearer secret")
				var got invRecord
				json.Unmarshal([]byte(body), &got)
				if resp.StatusCode != 200 || got.Status != "Completed" {
					t.Fatalf("invalidation %s: %d %s", inv.ID, resp.StatusCode, body)
				}
				return got
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no invalidation for data version %d in 30s: %s", v, body)
		}
		time.Sleep(20 * time.Millisecond) // polling another process's API: no signal to wait on
	}
}

// price reads product id's price through base (an edge or an API).
func price(t *testing.T, base string, id int) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/products/"+strconv.Itoa(id), nil)
	req.Host = "shop.test" // the host edgeNode.get asks for
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s product %d: %d %s", base, id, resp.StatusCode, body)
	}
	var p struct {
		PriceCents int `json:"price_cents"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("GET %s product %d: %v: %s", base, id, err, body)
	}
	return p.PriceCents
}

// The scale-out pipeline end to end, as separate processes on real servers:
// 2 edge nodes, 2 API instances, redis-server and PostgreSQL. A price
// changed with plain SQL through psql is visible through both edges and
// both APIs once its invalidation is Completed, and never the old one after
// that; an edge node or an API instance killed and restarted loses no
// invalidation.
func TestScaleOutPipeline(t *testing.T) {
	redisAddr := testenv.Redis(t)
	dsn := testenv.Postgres(t)
	apis := []*apiNode{startAPI(t, "api1", dsn, redisAddr), startAPI(t, "api2", dsn, redisAddr)}
	var edges []*edgeNode
	for i, a := range apis {
		edges = append(edges, startNode(t, fmt.Sprint("edge", i+1), "http://"+a.api, redisAddr, freeAddr(t), freeAddr(t)))
	}
	const id = 5
	var bases []string
	for _, e := range edges {
		bases = append(bases, e.edge)
	}
	for _, a := range apis {
		bases = append(bases, "http://"+a.api)
	}
	// Every tier holds product 5: each edge, each API's L1, the L2.
	for _, b := range bases {
		price(t, b, id)
		price(t, b, id)
	}
	for _, e := range edges {
		if x, _ := e.get(t, "/api/products/"+strconv.Itoa(id)); !strings.HasPrefix(x, "Hit") {
			t.Fatalf("%s: X-Cache %q, want a hit before the update", e.name, x)
		}
	}

	update := func(cents int) uint64 {
		t.Helper()
		out := psql(t, dsn, fmt.Sprintf("UPDATE products SET price_cents = %d WHERE id = %d; SELECT max(seq) FROM outbox", cents, id))
		v, err := strconv.ParseUint(out, 10, 64)
		if err != nil {
			t.Fatalf("psql output %q", out)
		}
		return v
	}
	check := func(bases []string, want int) {
		t.Helper()
		for _, b := range bases {
			if got := price(t, b, id); got != want {
				t.Errorf("%s serves price %d after the invalidation completed; want %d", b, got, want)
			}
		}
	}

	// 1. An update made with psql reaches every tier.
	v := update(4242)
	inv := waitInvalidation(t, edges[0].admin, v)
	if !slices.Contains(inv.Keys, "product:"+strconv.Itoa(id)) {
		t.Errorf("invalidation keys %v do not name the product", inv.Keys)
	}
	var acked []string
	for _, n := range inv.Nodes {
		if n.Live && n.Done {
			acked = append(acked, n.Node)
		}
	}
	slices.Sort(acked)
	if !slices.Equal(acked, []string{"api1", "api2", "edge1", "edge2"}) {
		t.Errorf("acknowledged by %v, want every API instance and edge node", acked)
	}
	check(bases, 4242)

	// A malformed outbox row (a cached table, no key: nothing says which
	// rows changed) is not dropped: it empties every cache, and the rows
	// after it are relayed as usual.
	out := psql(t, dsn, "SELECT outbox_append('products', '', 0, '', '', '')") // returns the row's sequence
	mv, err := strconv.ParseUint(out, 10, 64)
	if err != nil {
		t.Fatalf("psql output %q", out)
	}
	flush := waitInvalidation(t, edges[0].admin, mv)
	if flush.Version != mv || !flush.Flush || !flush.All {
		t.Errorf("invalidation of the malformed row: %+v; want a flush of everything at version %d", flush, mv)
	}
	if x, _ := edges[0].get(t, "/api/products/"+strconv.Itoa(id)); strings.HasPrefix(x, "Hit") {
		t.Errorf("after the flush, edge1 still had the product (X-Cache %q)", x)
	}
	check(bases, 4242)

	// 2. An edge node killed while an update happens serves nothing stale
	// after it restarts.
	edges[1].p.cmd.Process.Signal(syscall.SIGKILL)
	edges[1].p.cmd.Wait()
	v = update(4343)
	waitInvalidation(t, edges[0].admin, v) // edge2 is dead: it stops holding it open
	edges[1] = startNode(t, "edge2", "http://"+apis[1].api, redisAddr, edges[1].edge[len("http://"):], edges[1].admin[len("http://"):])
	check(bases, 4343)

	// 3. An API instance killed (perhaps the relay's leader) while an
	// update happens: the other takes over the relay and nothing is lost;
	// the restarted instance serves nothing stale.
	for _, a := range apis {
		// Refill every tier with the current price first.
		price(t, "http://"+a.api, id)
	}
	apis[0].p.cmd.Process.Signal(syscall.SIGKILL)
	apis[0].p.cmd.Wait()
	v = update(4444)
	waitInvalidation(t, apis[1].admin, v)
	check([]string{edges[1].edge, "http://" + apis[1].api}, 4444)
	apis[0].restart(t)
	check(bases, 4444)

	// Writes through the API answer once every tier has applied them.
	resp, body := client{t}.do("PUT", "http://"+apis[0].api+"/api/products/"+strconv.Itoa(id), `{"price_cents": 4545}`,
		"Authorization", "Bearer secret")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Invalidation") != "completed" || resp.Header.Get("X-Data-Version") == "" {
		t.Fatalf("PUT: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	check(bases, 4545)
}

// strata serve runs the whole pipeline in one process against real
// PostgreSQL and Redis: a change made through psql reaches its edge and its
// caches, woken by PostgreSQL's notification.
func TestServeOnPostgresAndRedis(t *testing.T) {
	redisAddr := testenv.Redis(t)
	dsn := testenv.Postgres(t)
	edgeAddr, apiAddr, adminAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	start(t, "admin", []string{"STRATA_ADMIN_TOKEN=secret"}, "serve", "-db", dsn, "-redis", "redis://"+redisAddr,
		"-edge-addr", edgeAddr, "-api-addr", apiAddr, "-admin-addr", adminAddr, "-data-dir", t.TempDir(), "-relay-poll", "1h")
	bases := []string{"http://" + edgeAddr, "http://" + apiAddr}
	const id = 3
	for _, b := range bases {
		price(t, b, id)
	}
	// -relay-poll 1h: only the notification can wake the relay in time.
	out := psql(t, dsn, fmt.Sprintf("UPDATE products SET price_cents = 777 WHERE id = %d; SELECT max(seq) FROM outbox", id))
	v, err := strconv.ParseUint(out, 10, 64)
	if err != nil {
		t.Fatalf("psql output %q", out)
	}
	waitInvalidation(t, adminAddr, v)
	for _, b := range bases {
		if got := price(t, b, id); got != 777 {
			t.Errorf("%s serves price %d after the invalidation completed; want 777", b, got)
		}
	}
	resp, body := client{t}.do("PUT", "http://"+edgeAddr+"/api/products/"+strconv.Itoa(id), `{"price_cents": 778}`,
		"Authorization", "Bearer secret")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Invalidation") != "completed" {
		t.Fatalf("PUT: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	for _, b := range bases {
		if got := price(t, b, id); got != 778 {
			t.Errorf("%s serves price %d after the PUT; want 778", b, got)
		}
	}
}
