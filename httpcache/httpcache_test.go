package httpcache

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want Response
	}{
		{"empty", hdr(), Response{}},
		{"max-age", hdr("Cache-Control", "max-age=60"), Response{MaxAge: time.Minute, HasMaxAge: true}},
		{"case and spaces", hdr("Cache-Control", " Public ,  MAX-AGE=10 "), Response{Public: true, MaxAge: 10 * time.Second, HasMaxAge: true}},
		{"quoted delta", hdr("Cache-Control", `max-age="30"`), Response{MaxAge: 30 * time.Second, HasMaxAge: true}},
		{"invalid delta is stale", hdr("Cache-Control", "max-age=abc"), Response{HasMaxAge: true}},
		{"negative delta is stale", hdr("Cache-Control", "max-age=-5"), Response{HasMaxAge: true}},
		{"conflicting duplicates are stale", hdr("Cache-Control", "max-age=10, max-age=20"), Response{HasMaxAge: true}},
		{"equal duplicates", hdr("Cache-Control", "max-age=10", "Cache-Control", "max-age=10"), Response{MaxAge: 10 * time.Second, HasMaxAge: true}},
		{"huge delta capped", hdr("Cache-Control", "s-maxage=99999999999999999999"), Response{SMaxAge: maxDelta, HasSMaxAge: true}},
		{"no-cache with fields", hdr("Cache-Control", `no-cache="set-cookie, x-foo"`), Response{NoCacheFields: []string{"Set-Cookie", "X-Foo"}}},
		{"private with field and comma in quotes", hdr("Cache-Control", `private="a,b", max-age=5`), Response{PrivateFields: []string{"A", "B"}, MaxAge: 5 * time.Second, HasMaxAge: true}},
		{"bare private", hdr("Cache-Control", "private"), Response{Private: true}},
		{"unknown ignored", hdr("Cache-Control", `foo="bar, baz", no-store`), Response{NoStore: true}},
		{"empty elements", hdr("Cache-Control", ",, ,no-cache,"), Response{NoCache: true}},
		{"many flags", hdr("Cache-Control", "must-revalidate, proxy-revalidate, immutable, must-understand, stale-while-revalidate=5, stale-if-error=9"),
			Response{MustRevalidate: true, ProxyRevalidate: true, Immutable: true, MustUnderstand: true,
				StaleWhileRevalidate: 5 * time.Second, HasStaleWhileRevalidate: true, StaleIfError: 9 * time.Second, HasStaleIfError: true}},
		{"cdn-cache-control wins", hdr("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=5"), Response{MaxAge: 5 * time.Second, HasMaxAge: true, Targeted: true}},
		{"surrogate-control wins", hdr("Cache-Control", "private", "Surrogate-Control", "max-age=7"), Response{MaxAge: 7 * time.Second, HasMaxAge: true, Targeted: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseResponse(tt.h); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseResponse(%v)\n got %+v\nwant %+v", tt.h, got, tt.want)
			}
		})
	}
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want Request
	}{
		{"pragma alone", hdr("Pragma", "no-cache"), Request{NoCache: true}},
		{"pragma ignored with cache-control", hdr("Pragma", "no-cache", "Cache-Control", "max-age=5"), Request{MaxAge: 5 * time.Second, HasMaxAge: true}},
		{"max-stale bare", hdr("Cache-Control", "max-stale"), Request{HasMaxStale: true, MaxStaleUnbounded: true}},
		{"max-stale value", hdr("Cache-Control", "max-stale=10, min-fresh=3"), Request{HasMaxStale: true, MaxStale: 10 * time.Second, MinFresh: 3 * time.Second, HasMinFresh: true}},
		{"flags", hdr("Cache-Control", "no-store, only-if-cached, no-cache"), Request{NoStore: true, OnlyIfCached: true, NoCache: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseRequest(tt.h); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v want %+v", got, tt.want)
			}
		})
	}
}

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestLifetime(t *testing.T) {
	date := t0.Format(http.TimeFormat)
	tests := []struct {
		name      string
		status    int
		h         http.Header
		want      time.Duration
		heuristic bool
	}{
		{"s-maxage over max-age", 200, hdr("Cache-Control", "max-age=10, s-maxage=20"), 20 * time.Second, false},
		{"max-age over expires", 200, hdr("Cache-Control", "max-age=10", "Expires", t0.Add(time.Hour).Format(http.TimeFormat), "Date", date), 10 * time.Second, false},
		{"expires minus date", 200, hdr("Expires", t0.Add(time.Hour).Format(http.TimeFormat), "Date", date), time.Hour, false},
		{"expires in the past", 200, hdr("Expires", t0.Add(-time.Hour).Format(http.TimeFormat), "Date", date), 0, false},
		{"invalid expires", 200, hdr("Expires", "0", "Date", date), 0, false},
		{"expires rfc850", 200, hdr("Expires", "Monday, 23-Nov-26 13:00:00 GMT", "Date", date), time.Hour, false},
		{"expires without date uses response time", 200, hdr("Expires", t0.Add(time.Minute).Format(http.TimeFormat)), time.Minute, false},
		{"heuristic", 200, hdr("Last-Modified", t0.Add(-100*time.Minute).Format(http.TimeFormat), "Date", date), 10 * time.Minute, true},
		{"heuristic capped", 200, hdr("Last-Modified", t0.Add(-1000*time.Hour).Format(http.TimeFormat), "Date", date), HeuristicMax, true},
		{"no heuristic for 302", 302, hdr("Last-Modified", t0.Add(-100*time.Minute).Format(http.TimeFormat), "Date", date), 0, false},
		{"public allows heuristic for 302", 302, hdr("Cache-Control", "public", "Last-Modified", t0.Add(-100*time.Minute).Format(http.TimeFormat), "Date", date), 10 * time.Minute, true},
		{"nothing", 200, hdr(), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, h := Lifetime(tt.status, tt.h, ParseResponse(tt.h), t0)
			if got != tt.want || h != tt.heuristic {
				t.Errorf("Lifetime = %v,%v want %v,%v", got, h, tt.want, tt.heuristic)
			}
		})
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		name   string
		h      http.Header
		timing Timing
		now    time.Time
		want   time.Duration
	}{
		{"resident time only", hdr("Date", t0.Format(http.TimeFormat)), Timing{RequestTime: t0, ResponseTime: t0}, t0.Add(30 * time.Second), 30 * time.Second},
		{"age header plus delay", hdr("Age", "10", "Date", t0.Format(http.TimeFormat)), Timing{RequestTime: t0, ResponseTime: t0.Add(2 * time.Second)}, t0.Add(2 * time.Second), 12 * time.Second},
		{"apparent age from old date", hdr("Date", t0.Add(-time.Minute).Format(http.TimeFormat)), Timing{RequestTime: t0, ResponseTime: t0}, t0, time.Minute},
		{"date in the future", hdr("Date", t0.Add(time.Hour).Format(http.TimeFormat)), Timing{RequestTime: t0, ResponseTime: t0}, t0.Add(time.Second), time.Second},
		{"duplicate age uses first", hdr("Age", "5, 100"), Timing{RequestTime: t0, ResponseTime: t0}, t0, 5 * time.Second},
		{"second age field ignored", hdr("Age", "5", "Age", "100"), Timing{RequestTime: t0, ResponseTime: t0}, t0, 5 * time.Second},
		{"malformed age ignored", hdr("Age", "-3"), Timing{RequestTime: t0, ResponseTime: t0}, t0, 0},
		{"non-numeric age ignored", hdr("Age", "abc"), Timing{RequestTime: t0, ResponseTime: t0}, t0, 0},
		{"huge age capped", hdr("Age", "99999999999999999999"), Timing{RequestTime: t0, ResponseTime: t0}, t0, maxDelta},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Age(tt.h, tt.timing, tt.now); got != tt.want {
				t.Errorf("Age = %v want %v", got, tt.want)
			}
			// Parsing once at receipt gives the same age later.
			received := Received(tt.h, tt.timing.RequestTime, tt.timing.ResponseTime)
			if got := CurrentAge(received, tt.now); got != tt.want {
				t.Errorf("CurrentAge = %v want %v", got, tt.want)
			}
		})
	}
}

func TestStorable(t *testing.T) {
	get := func(kv ...string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
		r.Header = hdr(kv...)
		return r
	}
	post, _ := http.NewRequest(http.MethodPost, "http://x/", nil)
	tests := []struct {
		name   string
		req    *http.Request
		status int
		h      http.Header
		reason string
	}{
		{"plain 200", get(), 200, hdr(), ""},
		{"max-age 302", get(), 302, hdr("Cache-Control", "max-age=5"), ""},
		{"302 without freshness", get(), 302, hdr(), ReasonNoFreshness},
		{"post", post, 200, hdr("Cache-Control", "max-age=5"), ReasonMethod},
		{"206", get(), 206, hdr("Cache-Control", "max-age=5"), ReasonPartial},
		{"no-store", get(), 200, hdr("Cache-Control", "no-store, max-age=5"), ReasonNoStore},
		{"request no-store", get("Cache-Control", "no-store"), 200, hdr("Cache-Control", "max-age=5"), ReasonRequestNoStore},
		{"private", get(), 200, hdr("Cache-Control", "private, max-age=5"), ReasonPrivate},
		{"private with fields is storable", get(), 200, hdr("Cache-Control", `private="Set-Cookie", max-age=5`), ""},
		{"authorization", get("Authorization", "Bearer x"), 200, hdr("Cache-Control", "max-age=5"), ReasonAuthorization},
		{"authorization with public", get("Authorization", "Bearer x"), 200, hdr("Cache-Control", "public, max-age=5"), ""},
		{"authorization with s-maxage", get("Authorization", "Bearer x"), 200, hdr("Cache-Control", "s-maxage=5"), ""},
		{"vary star", get(), 200, hdr("Cache-Control", "max-age=5", "Vary", "Accept, *"), ReasonVaryStar},
		{"must-understand overrides no-store", get(), 200, hdr("Cache-Control", "must-understand, no-store, max-age=5"), ""},
		{"must-understand unknown status", get(), 299, hdr("Cache-Control", "must-understand, no-store, max-age=5"), ReasonMustUnderstand},
		{"cdn-cache-control overrides private", get(), 200, hdr("Cache-Control", "private", "CDN-Cache-Control", "max-age=5"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason := Storable(tt.req, tt.status, tt.h, ParseResponse(tt.h))
			if reason != tt.reason || ok != (tt.reason == "") {
				t.Errorf("Storable = %v %q want %q", ok, reason, tt.reason)
			}
		})
	}
}

func TestNotModified(t *testing.T) {
	stored := hdr("Etag", `"v2"`, "Last-Modified", t0.Format(http.TimeFormat))
	tests := []struct {
		name string
		kv   []string
		want bool
	}{
		{"etag match", []string{"If-None-Match", `"v2"`}, true},
		{"weak match", []string{"If-None-Match", `W/"v2"`}, true},
		{"list match", []string{"If-None-Match", `"a,b", "v2"`}, true},
		{"star", []string{"If-None-Match", `*`}, true},
		{"no match", []string{"If-None-Match", `"v1"`}, false},
		{"inm wins over ims", []string{"If-None-Match", `"v1"`, "If-Modified-Since", t0.Format(http.TimeFormat)}, false},
		{"ims equal", []string{"If-Modified-Since", t0.Format(http.TimeFormat)}, true},
		{"ims older", []string{"If-Modified-Since", t0.Add(-time.Hour).Format(http.TimeFormat)}, false},
		{"ims invalid", []string{"If-Modified-Since", "yesterday"}, false},
		{"unconditional", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
			r.Header = hdr(tt.kv...)
			if got := NotModified(r, stored); got != tt.want {
				t.Errorf("NotModified = %v want %v", got, tt.want)
			}
		})
	}
}

func TestFreshenAndValidators(t *testing.T) {
	stored := hdr("Etag", `"v1"`, "Content-Length", "10", "Cache-Control", "max-age=1", "X-Old", "keep")
	Freshen(stored, hdr("Etag", `"v1"`, "Content-Length", "0", "Cache-Control", "max-age=60"))
	if stored.Get("Cache-Control") != "max-age=60" || stored.Get("Content-Length") != "10" || stored.Get("X-Old") != "keep" {
		t.Errorf("Freshen gave %v", stored)
	}
	out := http.Header{}
	if !Validators(stored, out) || out.Get("If-None-Match") != `"v1"` {
		t.Errorf("Validators gave %v", out)
	}
	if Validators(http.Header{}, http.Header{}) {
		t.Error("Validators reported a validator for an empty header")
	}
}

func TestCacheStatus(t *testing.T) {
	tests := []struct {
		s    CacheStatus
		want string
	}{
		{CacheStatus{Cache: "strata", Hit: true, TTL: 42, HasTTL: true}, "strata; hit; ttl=42"},
		{CacheStatus{Cache: "strata", Fwd: FwdURIMiss, FwdStatus: 200, Stored: true, Collapsed: true}, "strata; fwd=uri-miss; fwd-status=200; stored; collapsed"},
		{CacheStatus{Cache: "strata", Fwd: FwdBypass, FwdStatus: 200, Detail: "private"}, "strata; fwd=bypass; fwd-status=200; detail=private"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("got %q want %q", got, tt.want)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{"max-age=60", `private="a, b", no-cache="c"`, `x="\"`, "s-maxage=99999999999999999999", ",,=,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := hdr("Cache-Control", v, "Age", v, "Expires", v, "Date", v, "Last-Modified", v, "Vary", v)
		cc := ParseResponse(h)
		if cc.MaxAge < 0 || cc.SMaxAge < 0 || cc.MaxAge > maxDelta {
			t.Fatalf("bad durations %+v", cc)
		}
		life, _ := Lifetime(200, h, cc, t0)
		if life < 0 {
			t.Fatalf("negative lifetime %v", life)
		}
		if a := Age(h, Timing{RequestTime: t0, ResponseTime: t0}, t0); a < 0 {
			t.Fatalf("negative age %v", a)
		}
		r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
		r.Header = hdr("Cache-Control", v, "If-None-Match", v, "If-Modified-Since", v)
		ParseRequest(r.Header)
		Storable(r, 200, h, cc)
		NotModified(r, hdr("Etag", v))
	})
}

func TestParseDateStrict(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"Thu, 18 Aug 2050 02:01:18 GMT", true},
		{"Thursday, 18-Aug-50 02:01:18 GMT", true},
		{"Thu Aug 18 02:01:18 2050", true},
		{"Mon Aug  8 02:01:18 2050", true},
		{"Fri, 18 Aug 2050 02:01:18 GMT", true}, // wrong day name: tolerated
		{"thu, 18 aug 2050 02:01:18 gmt", true},
		{"Thu, 18 Aug 2050 02:01:18 gMT", true},
		{"Thu, 18  Aug  2050 02:01:18 GMT", false},
		{"Thu, 18 Aug 2050 2:01:18 GMT", false},
		{"Thu, 18 Aug 2050 02:01:18 UTC", false},
		{"2050-08-18T02:01:18Z", false},
		{"0", false},
		{"", false},
	} {
		if _, ok := parseDate(tt.in); ok != tt.ok {
			t.Errorf("parseDate(%q) ok = %v, want %v", tt.in, ok, tt.ok)
		}
	}
}

func TestTargetedFields(t *testing.T) {
	for _, tt := range []struct {
		name string
		h    http.Header
		want Response
	}{
		{"invalid CDN-Cache-Control is ignored", hdr("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=10000, &&&&&"), Response{NoStore: true}},
		{"string max-age in CDN-Cache-Control is ignored", hdr("Cache-Control", "no-store", "CDN-Cache-Control", `max-age="10000"`), Response{Targeted: true}},
		{"CDN-Cache-Control booleans", hdr("CDN-Cache-Control", "no-store, private=?0"), Response{NoStore: true, Targeted: true}},
		{"surrogate targeted at us", hdr("Cache-Control", "no-store", "Surrogate-Control", "max-age=60;strata"), Response{MaxAge: time.Minute, HasMaxAge: true, Targeted: true}},
		{"surrogate targeted elsewhere", hdr("Cache-Control", "no-store", "Surrogate-Control", "max-age=60;other"), Response{NoStore: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseResponseFor(tt.h, "strata"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func FuzzStructuredDictionary(f *testing.F) {
	for _, s := range []string{`max-age=60, no-store`, `a=(1 2);x=?0`, `b="s\"q"`, `c=:YWJj:`, `d=1.5`, `&&`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ms, err := parseSFDictionary([]string{v})
		if err != nil {
			return
		}
		for _, m := range ms {
			if m.key == "" {
				t.Fatalf("member with empty key from %q", v)
			}
		}
		ParseResponseFor(http.Header{"Cdn-Cache-Control": {v}}, "strata")
	})
}
