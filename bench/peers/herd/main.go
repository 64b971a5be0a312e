// Command herd fires -n concurrent GETs at one URL, released together, and
// prints one line of key=value results:
//
//	n=200 ok=200 err=0 p50_ms=101.3 p99_ms=104.8 max_ms=105.2 statuses=200:200 tally=HIT:199,MISS:1
//
// Every request uses its own connection, dialled before the release, so the
// herd reaches the server at once and the latencies measure the cache, not
// connection setup. -tally names a response header whose values are counted
// (with -tally-fields, the number of space-separated fields in it).
// It uses the standard library only.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

type result struct {
	status int
	tally  string
	d      time.Duration
	err    error
}

func main() {
	url := flag.String("url", "", "URL to GET (required)")
	n := flag.Int("n", 200, "concurrent requests")
	tally := flag.String("tally", "", "response header whose values to count")
	fields := flag.Bool("tally-fields", false, "count the number of space-separated fields of the -tally header instead of its values (e.g. X-Varnish: one id on a miss, two on a hit)")
	timeout := flag.Duration("timeout", 30*time.Second, "time limit per request")
	flag.Parse()
	if *url == "" || *n < 1 {
		flag.Usage()
		os.Exit(2)
	}

	results := make([]result, *n)
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	for i := 0; i < *n; i++ {
		ready.Add(1)
		done.Add(1)
		go func(i int) {
			defer done.Done()
			results[i] = one(*url, *tally, *fields, *timeout, start, &ready)
		}(i)
	}
	ready.Wait()
	close(start)
	done.Wait()

	var lat []time.Duration
	statuses := map[string]int{}
	tallies := map[string]int{}
	errs := 0
	var firstErr error
	for _, r := range results {
		if r.err != nil {
			errs++
			if firstErr == nil {
				firstErr = r.err
			}
			continue
		}
		statuses[fmt.Sprint(r.status)]++
		if *tally != "" {
			tallies[r.tally]++
		}
		lat = append(lat, r.d)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ok := statuses["200"]
	fmt.Printf("n=%d ok=%d err=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f statuses=%s",
		*n, ok, errs, ms(pct(lat, 50)), ms(pct(lat, 99)), ms(pct(lat, 100)), join(statuses))
	if *tally != "" {
		fmt.Printf(" tally=%s", join(tallies))
	}
	fmt.Println()
	if firstErr != nil {
		fmt.Fprintf(os.Stderr, "herd: %d requests failed, first: %v\n", errs, firstErr)
	}
}

// one dials its own connection, signals ready, waits for start, then times a
// single GET over that connection.
func one(url, tally string, fields bool, timeout time.Duration, start <-chan struct{}, ready *sync.WaitGroup) result {
	var once sync.Once
	signal := func() { once.Do(ready.Done) }
	defer signal()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return result{err: err}
	}
	var d net.Dialer
	conn, err := d.Dial("tcp", req.URL.Host)
	if err != nil {
		return result{err: err}
	}
	pre := make(chan net.Conn, 1)
	pre <- conn
	tr := &http.Transport{
		DisableCompression: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			select {
			case c := <-pre:
				return c, nil
			default:
				return d.DialContext(ctx, network, addr)
			}
		},
	}
	defer tr.CloseIdleConnections()
	signal()
	<-start
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	t0 := time.Now()
	resp, err := tr.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return result{err: err}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	el := time.Since(t0)
	if err != nil {
		return result{err: err}
	}
	r := result{status: resp.StatusCode, d: el}
	if tally != "" {
		r.tally = resp.Header.Get(tally)
		switch {
		case r.tally == "":
			r.tally = "(none)"
		case fields:
			r.tally = fmt.Sprintf("%d-fields", len(strings.Fields(r.tally)))
		}
	}
	return r
}

// pct returns the p-th percentile (nearest rank) of sorted durations.
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted) + 99) / 100
	if i < 1 {
		i = 1
	}
	return sorted[i-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// join renders counts as k:v pairs, largest first, with spaces and commas in
// keys replaced so the output stays one whitespace-free field.
func join(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	clean := strings.NewReplacer(" ", "_", ",", ";", "=", "~")
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", clean.Replace(k), m[k])
	}
	return strings.Join(parts, ",")
}
