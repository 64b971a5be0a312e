package testenv_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/rueidis"

	"github.com/strata-cache/strata/internal/testenv"
)

func TestRequired(t *testing.T) {
	for _, tc := range []struct {
		val  string
		want bool
	}{
		{"", false},
		{"0", false},
		{"optional", false},
		{"require", true},
	} {
		t.Setenv(testenv.EnvIntegration, tc.val)
		if got := testenv.Required(); got != tc.want {
			t.Errorf("Required() with %s=%q = %v, want %v", testenv.EnvIntegration, tc.val, got, tc.want)
		}
	}
}

func TestFreePort(t *testing.T) {
	port := testenv.FreePort(t)
	if port <= 0 || port > 65535 {
		t.Fatalf("FreePort() = %d, want a valid TCP port", port)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("port %d from FreePort is not bindable: %v", port, err)
	}
	l.Close()
}

func TestRedis(t *testing.T) {
	t.Parallel()
	addr := testenv.Redis(t)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("Redis() = %q, want 127.0.0.1:PORT", addr)
	}

	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatalf("rueidis.NewClient(%s): %v", addr, err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	pong, err := client.Do(ctx, client.B().Ping().Build()).ToString()
	if err != nil || pong != "PONG" {
		t.Fatalf("PING = %q, %v; want PONG", pong, err)
	}
	if err := client.Do(ctx, client.B().Set().Key("testenv:k").Value("hello strata").Build()).Error(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	got, err := client.Do(ctx, client.B().Get().Key("testenv:k").Build()).ToString()
	if err != nil || got != "hello strata" {
		t.Fatalf("GET = %q, %v; want %q", got, err, "hello strata")
	}
	// Persistence is off, as the package promises.
	cfg, err := client.Do(ctx, client.B().ConfigGet().Parameter("appendonly").Build()).AsStrMap()
	if err != nil || cfg["appendonly"] != "no" {
		t.Fatalf("CONFIG GET appendonly = %v, %v; want no", cfg, err)
	}
}

// TestRedisIsolated checks that two servers started by one test are
// distinct: a key written to one is absent from the other.
func TestRedisIsolated(t *testing.T) {
	t.Parallel()
	a, b := testenv.Redis(t), testenv.Redis(t)
	if a == b {
		t.Fatalf("two Redis() calls returned the same address %s", a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{a}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{b}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	if err := ca.Do(ctx, ca.B().Set().Key("only-a").Value("1").Build()).Error(); err != nil {
		t.Fatalf("SET on %s: %v", a, err)
	}
	if err := cb.Do(ctx, cb.B().Get().Key("only-a").Build()).Error(); !rueidis.IsRedisNil(err) {
		t.Fatalf("GET only-a on %s: err = %v, want redis nil", b, err)
	}
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	url := testenv.Postgres(t)
	if !strings.HasPrefix(url, "postgres://strata@127.0.0.1:") || !strings.HasSuffix(url, "/strata?sslmode=disable") {
		t.Fatalf("Postgres() = %q, want postgres://strata@127.0.0.1:PORT/strata?sslmode=disable", url)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgx.Connect(%s): %v", url, err)
	}
	defer conn.Close(context.Background())

	var db, usr string
	if err := conn.QueryRow(ctx, "SELECT current_database(), current_user").Scan(&db, &usr); err != nil {
		t.Fatalf("select current_database: %v", err)
	}
	if db != "strata" || usr != "strata" {
		t.Fatalf("connected to database %q as %q, want strata as strata", db, usr)
	}

	if _, err := conn.Exec(ctx, `CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, size int NOT NULL)`); err != nil {
		t.Fatalf("create table: %v", err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO items (id, name, size) VALUES ($1, $2, $3)`, 42, "héllo ✓", 1234); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var (
		name string
		size int
	)
	if err := conn.QueryRow(ctx, `SELECT name, size FROM items WHERE id = $1`, 42).Scan(&name, &size); err != nil {
		t.Fatalf("select: %v", err)
	}
	if name != "héllo ✓" || size != 1234 {
		t.Fatalf("row = (%q, %d), want (%q, %d)", name, size, "héllo ✓", 1234)
	}
	var enc string
	if err := conn.QueryRow(ctx, `SHOW server_encoding`).Scan(&enc); err != nil || enc != "UTF8" {
		t.Fatalf("server_encoding = %q, %v; want UTF8", enc, err)
	}
}
