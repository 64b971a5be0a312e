package httpcache

// Regression tests for the third review (Structured Fields, dates).

import (
	"net/http"
	"testing"
	"time"
)

func TestSFDictionaryAcceptsRealValues(t *testing.T) {
	for _, v := range []string{
		`max-age=60, stale-while-revalidate=30`, `no-store`, `max-age=60,no-store`, `max-age=60 ,  no-store`,
		`private="set-cookie"`, `a=(1 2);x=?0`, `a=( 1  2 )`, `d=-1.5`, `b=:YWJj:`, `t=foo/bar:baz`, ``, `*x=1`,
		`max-age=60;a;b=2`, `k=?1;p`, `max-age=60, max-age=30`, `a=()`,
	} {
		if _, err := parseSFDictionary([]string{v}); err != nil {
			t.Errorf("rejected valid %q", v)
		}
	}
	// Two field lines.
	if _, err := parseSFDictionary([]string{"max-age=60", "no-store"}); err != nil {
		t.Errorf("rejected two lines")
	}
}

// RFC 8941 4.2.2: a repeated dictionary key overwrites the earlier value.
func TestSFDuplicateKeyLastWins(t *testing.T) {
	r := ParseResponseFor(http.Header{"Cdn-Cache-Control": {"max-age=60, max-age=30"}}, "strata")
	if !r.HasMaxAge || r.MaxAge != 30*time.Second {
		t.Errorf("max-age=60, max-age=30: MaxAge=%v has=%v, want 30s (last value wins)", r.MaxAge, r.HasMaxAge)
	}
	r = ParseResponseFor(http.Header{"Cdn-Cache-Control": {"no-store, max-age=60", "no-store=?0"}}, "strata")
	if r.NoStore {
		t.Errorf("no-store then no-store=?0: NoStore=true, want false (last value wins)")
	}
}

func TestParseDateAcceptsValidForms(t *testing.T) {
	for _, s := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994",
		"Sun Nov 06 08:49:37 1994", // date3 = month SP ( 2DIGIT / ( SP DIGIT ) )
		"Sun Nov 16 08:49:37 1994",
	} {
		if _, ok := parseDate(s); !ok {
			t.Errorf("parseDate(%q) rejected a valid HTTP-date", s)
		}
	}
}

func FuzzReviewParseDate(f *testing.F) {
	f.Add("Sun Nov  6 08:49:37 1994")
	f.Add("gmt")
	f.Fuzz(func(t *testing.T, s string) { parseDate(s) })
}

func TestEmptyCDNCacheControlIgnored(t *testing.T) {
	r := ParseResponseFor(http.Header{"Cache-Control": {"private, no-store"}, "Cdn-Cache-Control": {""}}, "strata")
	if !r.NoStore || !r.Private || r.Targeted {
		t.Errorf("empty CDN-Cache-Control replaced Cache-Control: %+v", r)
	}
}
