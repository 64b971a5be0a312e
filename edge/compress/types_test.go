package compress

import "testing"

func TestCompressible(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/html":                     true,
		"text/html; charset=utf-8":      true,
		"TEXT/CSS":                      true,
		"text/plain;charset=UTF-8":      true,
		"text/event-stream":             false,
		"application/json":              true,
		"application/problem+json":      true,
		"application/javascript":        true,
		"application/xml":               true,
		"application/atom+xml":          true,
		"application/wasm":              true,
		"image/svg+xml":                 true,
		"image/x-icon":                  true,
		"image/png":                     false,
		"image/jpeg":                    false,
		"image/webp":                    false,
		"image/avif":                    false,
		"video/mp4":                     false,
		"audio/mpeg":                    false,
		"application/zip":               false,
		"application/gzip":              false,
		"application/zstd":              false,
		"application/octet-stream":      false,
		"application/pdf":               false,
		"font/woff2":                    false,
		"font/woff":                     false,
		"font/ttf":                      true,
		"":                              false,
		"text":                          false,
		"text/":                         false,
		"/html":                         false,
		"garbage":                       false,
		"application/vnd.api+json; x=1": true,
	} {
		if got := Compressible(ct); got != want {
			t.Errorf("Compressible(%q) = %v, want %v", ct, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Compressible("text/html; charset=utf-8") }); n != 0 {
		t.Errorf("Compressible allocates %v times", n)
	}
}

func TestNoTransform(t *testing.T) {
	for _, tc := range []struct {
		cc   []string
		want bool
	}{
		{nil, false},
		{[]string{"public, max-age=60"}, false},
		{[]string{"public, no-transform"}, true},
		{[]string{"max-age=60", "No-Transform"}, true},
		{[]string{"no-transformation"}, false},
	} {
		if got := NoTransform(tc.cc); got != tc.want {
			t.Errorf("NoTransform(%q) = %v", tc.cc, got)
		}
	}
}
