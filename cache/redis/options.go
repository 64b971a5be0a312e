package redis

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
	"github.com/strata-cache/strata/cache"
	"github.com/strata-cache/strata/cache/codec"
)

// Defaults for Options' zero fields.
const (
	DefaultHoldOff      = 5 * time.Second
	DefaultMaxTTL       = time.Hour
	DefaultStreamMaxLen = 100_000
)

// Options configure a Tier. Zero values take the defaults named.
type Options struct {
	// Namespace prefixes every key the tier writes, e.g. "strata:products".
	// Required. It may not contain '{' or '}', which would change the
	// Cluster hash tags of the keys (see the package documentation). Tiers
	// of one namespace share entries, tombstones, leases and notices, so
	// they must agree on the value type and on MaxTTL and HoldOff.
	Namespace string

	// Format encodes values: the zero Format is msgpack, with S2 for
	// payloads of 1 KiB or more, at most 16 MiB. Entries written with any
	// codec or compression stay readable when it changes.
	Format codec.Format

	// HoldOff is how long tombstones outlive the entries they contradict.
	// Default 5s.
	HoldOff time.Duration

	// MaxTTL is the longest entry lifetime (Expires minus now) the tier
	// stores; longer fills are stored for MaxTTL. Tombstones (of keys, tags
	// and the whole namespace) live MaxTTL+HoldOff, which must exceed the
	// longest a fill can take to arrive after its load started (the cache's
	// LoadTimeout, 30s by default). Default 1h.
	MaxTTL time.Duration

	// StreamMaxLen is the approximate length the invalidation stream is
	// trimmed to (XADD MAXLEN ~). A subscriber that falls further behind
	// than that misses events, notices, and flushes its L1. Default 100 000.
	StreamMaxLen int64

	// Logger receives the rare events worth a line: undecodable entries,
	// lost subscriptions. Default slog.Default().
	Logger *slog.Logger
}

func (o *Options) setDefaults() error {
	switch {
	case o.Namespace == "":
		return fmt.Errorf("%w: redis: Namespace is required", cache.ErrOptions)
	case strings.ContainsAny(o.Namespace, "{}"):
		return fmt.Errorf("%w: redis: Namespace %q contains '{' or '}', which would change the Cluster hash tags of its keys", cache.ErrOptions, o.Namespace)
	case o.HoldOff < 0 || o.MaxTTL < 0 || o.StreamMaxLen < 0:
		return fmt.Errorf("%w: redis: HoldOff, MaxTTL and StreamMaxLen must not be negative", cache.ErrOptions)
	case o.MaxTTL > 0 && o.MaxTTL < time.Millisecond:
		return fmt.Errorf("%w: redis: MaxTTL %v is below Redis's resolution of 1ms", cache.ErrOptions, o.MaxTTL)
	}
	if err := o.Format.Validate(); err != nil {
		return fmt.Errorf("%w: redis: %w", cache.ErrOptions, err)
	}
	if o.HoldOff == 0 {
		o.HoldOff = DefaultHoldOff
	}
	if o.MaxTTL == 0 {
		o.MaxTTL = DefaultMaxTTL
	}
	if o.StreamMaxLen == 0 {
		o.StreamMaxLen = DefaultStreamMaxLen
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// NewClient returns a rueidis client for url, with client-side caching on
// (RESP3, which the tier uses to read tag tombstones and the flush floor
// without a round trip). It accepts:
//
//   - redis://[user:password@]host[:port][/db], and rediss:// for TLS;
//   - unix://[user:password@]/path/to/redis.sock[?db=N];
//   - Sentinel: redis://sentinel1:26379,sentinel2:26379?master_set=mymaster,
//     the addresses being the sentinels';
//   - Cluster: several addresses, as host1:6379,host2:6379 or
//     redis://host1:6379,host2:6379 (one node of a Cluster is enough:
//     rueidis asks it for the others);
//   - a bare host:port.
//
// The query parameters are those of rueidis.ParseURL (db, dial_timeout,
// write_timeout, skip_verify, client_name, protocol, client_cache,
// max_retries, master_set, addr). client_cache=0 or protocol=2 turn
// client-side caching off, which costs a round trip on every read of an
// entry that has tags. The caller owns the client and closes it.
func NewClient(url string) (rueidis.Client, error) {
	opt, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("redis: connect to %s: %w", redactURL(url), err)
	}
	return c, nil
}

// ParseURL is NewClient's parser: it returns the rueidis options for url
// without connecting.
func ParseURL(url string) (rueidis.ClientOption, error) {
	url = strings.TrimSpace(url)
	if url == "" {
		return rueidis.ClientOption{}, fmt.Errorf("redis: empty URL")
	}
	scheme, rest, hasScheme := strings.Cut(url, "://")
	if !hasScheme {
		// host:port[,host:port...]
		var opt rueidis.ClientOption
		for _, a := range strings.Split(url, ",") {
			addr, err := hostPort(a)
			if err != nil {
				return rueidis.ClientOption{}, err
			}
			opt.InitAddress = append(opt.InitAddress, addr)
		}
		return opt, nil
	}
	// rueidis.ParseURL takes one host; more, comma-separated, become
	// InitAddress entries after it (net/url rejects the list as a port).
	var extra []string
	if scheme != "unix" {
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		auth := rest[:end]
		at := strings.LastIndexByte(auth, '@') + 1
		if hosts := strings.Split(auth[at:], ","); len(hosts) > 1 {
			for _, h := range hosts[1:] {
				addr, err := hostPort(h)
				if err != nil {
					return rueidis.ClientOption{}, err
				}
				extra = append(extra, addr)
			}
			rest = auth[:at] + hosts[0] + rest[end:]
		}
	}
	opt, err := rueidis.ParseURL(scheme + "://" + rest)
	if err != nil {
		return rueidis.ClientOption{}, fmt.Errorf("redis: parse %s: %w", redactURL(url), err)
	}
	opt.InitAddress = append(opt.InitAddress, extra...)
	return opt, nil
}

// hostPort checks an address of a list and adds the default port.
func hostPort(a string) (string, error) {
	a = strings.TrimSpace(a)
	if a == "" {
		return "", fmt.Errorf("redis: empty address in a comma-separated list")
	}
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return net.JoinHostPort(strings.Trim(a, "[]"), "6379"), nil
		}
		return "", fmt.Errorf("redis: address %q: %w", a, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("redis: address %q: bad port", a)
	}
	return a, nil
}

// redactURL hides a password in url, for error messages.
func redactURL(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 {
		return url
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return url
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}
