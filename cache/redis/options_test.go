package redis

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/strata-cache/strata/internal/testenv"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url    string
		addrs  []string
		master string
		tls    bool
		db     int
		user   string
		pass   string
	}{
		{url: "localhost:6379", addrs: []string{"localhost:6379"}},
		{url: "10.0.0.1", addrs: []string{"10.0.0.1:6379"}},
		{url: "a:7000, b:7001 ,c", addrs: []string{"a:7000", "b:7001", "c:6379"}},
		{url: "[::1]:7000,[::1]", addrs: []string{"[::1]:7000", "[::1]:6379"}},
		{url: "redis://localhost:6380/2", addrs: []string{"localhost:6380"}, db: 2},
		{url: "redis://u:p%40ss@h1:7000,h2:7001,h3/0", addrs: []string{"h1:7000", "h2:7001", "h3:6379"}, user: "u", pass: "p@ss"},
		{url: "rediss://cache.example.com", addrs: []string{"cache.example.com:6379"}, tls: true},
		{url: "redis://s1:26379,s2:26379?master_set=mymaster", addrs: []string{"s1:26379", "s2:26379"}, master: "mymaster"},
		{url: "redis://h1?addr=h2:7000", addrs: []string{"h1:6379", "h2:7000"}},
		{url: "unix:///run/redis.sock?db=3", addrs: []string{"/run/redis.sock"}, db: 3},
	} {
		opt, err := ParseURL(tc.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.url, err)
			continue
		}
		if !slices.Equal(opt.InitAddress, tc.addrs) || opt.Sentinel.MasterSet != tc.master ||
			(opt.TLSConfig != nil) != tc.tls || opt.SelectDB != tc.db || opt.Username != tc.user || opt.Password != tc.pass {
			t.Errorf("ParseURL(%q) = addrs %q master %q tls %v db %d user %q pass %q", tc.url,
				opt.InitAddress, opt.Sentinel.MasterSet, opt.TLSConfig != nil, opt.SelectDB, opt.Username, opt.Password)
		}
		if opt.DisableCache || opt.AlwaysRESP2 {
			t.Errorf("ParseURL(%q) turned client-side caching off", tc.url)
		}
	}
	for _, bad := range []string{"", "http://x", "a:1,,b:2", "redis://a:1,b:x", "a:b:c", "redis://u:secret@h/x/y"} {
		_, err := ParseURL(bad)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseURL(%q): error shows the password: %v", bad, err)
		}
	}
}

func TestNewClient(t *testing.T) {
	addr := testenv.Redis(t)
	for _, url := range []string{addr, "redis://" + addr + "/0"} {
		c, err := NewClient(url)
		if err != nil {
			t.Fatalf("NewClient(%q): %v", url, err)
		}
		tier := newTier[string](t, c, Options{})
		mustFill(t, tier, "k", entry("v", 1, "tag"))
		if _, ok := mustGet(t, tier, "k"); !ok {
			t.Errorf("%q: miss after fill", url)
		}
		// Client-side caching is on: the second read of the tag
		// tombstone is served locally.
		c.DoCache(context.Background(), c.B().Get().Key(tier.tagKey("tag")).Cache(), tier.opts.MaxTTL)
		if r := c.DoCache(context.Background(), c.B().Get().Key(tier.tagKey("tag")).Cache(), tier.opts.MaxTTL); !r.IsCacheHit() {
			t.Errorf("%q: client-side caching is off", url)
		}
		tier.Close()
		c.Close()
	}
}
