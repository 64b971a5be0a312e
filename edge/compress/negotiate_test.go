package compress

import (
	"strings"
	"testing"
)

var offered = []string{Brotli, Zstd, Gzip}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		ae   string
		want string
	}{
		{"", Identity},
		{"gzip", Gzip},
		{"GZIP", Gzip},
		{"x-gzip", Gzip},
		{"br", Brotli},
		{"zstd", Zstd},
		{"gzip, deflate, br, zstd", Brotli}, // a browser: ties go to the server's order
		{"gzip, deflate, br", Brotli},
		{"gzip;q=1.0, br;q=0.5", Gzip},
		{"gzip;q=0.5, br;q=0.8, zstd;q=0.9", Zstd},
		{"gzip ; q=0.5 , zstd ; q = 0.4", Gzip},
		{"br;q=0, gzip", Gzip},
		{"deflate", Identity},
		{"compress, deflate", Identity},
		{"*", Brotli},
		{"*;q=0.1, gzip;q=0.5", Gzip},
		{"*, br;q=0", Zstd},
		{"identity", Identity},
		{"identity;q=0", ""},
		{"identity;q=0, gzip", Gzip},
		{"*;q=0", ""},
		{"*;q=0, identity", Identity},
		{"*;q=0, gzip;q=0.2", Gzip},
		{"gzip;q=0.5, identity;q=1", Identity},
		{"gzip;q=1, identity;q=1", Gzip},
		{"gzip;q=0", Identity},
		{"gzip;q=2", Identity},      // malformed q: element ignored
		{"gzip;q=0.0001", Identity}, // too many digits
		{"gzip;q=.5", Identity},     // malformed
		{"gzip;level=9", Gzip},      // other parameters are ignored
		{"gzip;level=9;q=0.1, br;q=0.05", Gzip},
		{" , ,gzip, ", Gzip},
		{"gzip;q=0, gzip;q=1", Identity}, // the first element naming a coding counts
	} {
		if got := Negotiate(tc.ae, offered); got != tc.want {
			t.Errorf("Negotiate(%q) = %q, want %q", tc.ae, got, tc.want)
		}
	}
	if got := Negotiate("gzip, br", []string{Gzip, Brotli}); got != Gzip {
		t.Errorf("server order not honoured: %q", got)
	}
	if got := Negotiate("gzip", nil); got != Identity {
		t.Errorf("nothing offered: %q", got)
	}
}

func TestNegotiateAllocs(t *testing.T) {
	for _, ae := range []string{"gzip, deflate, br, zstd", "gzip;q=0.5, br;q=0.8, *;q=0", ""} {
		if n := testing.AllocsPerRun(100, func() { Negotiate(ae, offered) }); n != 0 {
			t.Errorf("Negotiate(%q) allocates %v times", ae, n)
		}
	}
}

// FuzzNegotiate checks that Negotiate never panics, returns only an offered
// coding, Identity or "", and never returns a coding the field excludes.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "gzip", "gzip, deflate, br, zstd", "identity;q=0", "*;q=0", "br;q=0.5, *;q=0.1", "x-gzip;Q=1.000", "gzip;q=0;level=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ae string) {
		got := Negotiate(ae, offered)
		switch got {
		case "", Identity, Brotli, Zstd, Gzip:
		default:
			t.Fatalf("Negotiate(%q) = %q", ae, got)
		}
		if got != "" && got != Identity {
			q, ok := qFor(ae, got)
			if !ok {
				q, ok = qFor(ae, "*")
			}
			if !ok || q == 0 {
				t.Fatalf("Negotiate(%q) = %q, which the field does not accept (q=%d, named=%v)", ae, got, q, ok)
			}
		}
		if got == "" && !strings.Contains(ae, "0") {
			t.Fatalf("Negotiate(%q) excluded identity without a q=0", ae)
		}
	})
}

func BenchmarkNegotiate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Negotiate("gzip, deflate, br, zstd", offered)
	}
}
