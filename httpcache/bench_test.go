package httpcache

import (
	"net/http"
	"testing"
	"time"
)

// go test -run='^$' -bench=. -benchmem ./httpcache
func BenchmarkParseResponse(b *testing.B) {
	h := http.Header{"Cache-Control": {`public, max-age=60, s-maxage=300, stale-while-revalidate=30, private="Set-Cookie"`}}
	b.ReportAllocs()
	for b.Loop() {
		ParseResponse(h)
	}
}

// BenchmarkCurrentAge is what a cache hit pays: arithmetic on a Timing
// parsed once when the response was received.
func BenchmarkCurrentAge(b *testing.B) {
	now := time.Now()
	tm := Received(http.Header{"Age": {"12"}, "Date": {now.UTC().Format(http.TimeFormat)}}, now, now)
	b.ReportAllocs()
	for b.Loop() {
		CurrentAge(tm, now)
	}
}

func BenchmarkAge(b *testing.B) {
	now := time.Now()
	h := http.Header{"Age": {"12"}, "Date": {now.UTC().Format(http.TimeFormat)}}
	tm := Timing{RequestTime: now, ResponseTime: now}
	b.ReportAllocs()
	for b.Loop() {
		Age(h, tm, now)
	}
}
