package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestPatternMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		yes, no []string
	}{
		{"/api/*", []string{"/api/", "/api/x", "/api/a/b/c"}, []string{"/api", "/API/x", "/apix", "api/x"}},
		{"api/*", []string{"/api/x"}, []string{"/apix"}},
		{"/*", []string{"/", "/anything/at/all"}, []string{""}},
		{"*", []string{"/", "/x"}, []string{""}},
		{"/images/*.jpg", []string{"/images/a.jpg", "/images/a/b.jpg", "/images/.jpg"}, []string{"/images/a.JPG", "/images/a.jpeg", "/img/a.jpg"}},
		{"*.jpg", []string{"/a.jpg", "/x/y.jpg"}, []string{"/a.png"}},
		{"/v?/status", []string{"/v1/status", "/v9/status"}, []string{"/v10/status", "/v/status"}},
		{"/exact", []string{"/exact"}, []string{"/exact/", "/Exact", "/exac"}},
		{"/a*b*c", []string{"/abc", "/aXbYc", "/abbbc", "/a/b/c"}, []string{"/acb", "/ab", "/abcd"}},
		{"/*/*/end", []string{"/a/b/end", "/a/b/c/end"}, []string{"/a/end"}},
		{"/??", []string{"/ab"}, []string{"/a", "/abc"}},
		{"/a*?", []string{"/ab", "/abc"}, []string{"/a"}},
		{"/**", []string{"/", "/x"}, nil},
	} {
		p, err := CompilePattern(tc.pattern)
		if err != nil {
			t.Fatalf("CompilePattern(%q): %v", tc.pattern, err)
		}
		for _, path := range tc.yes {
			if !p.Match(path) {
				t.Errorf("%q does not match %q", tc.pattern, path)
			}
		}
		for _, path := range tc.no {
			if p.Match(path) {
				t.Errorf("%q matches %q", tc.pattern, path)
			}
		}
	}
}

func TestCompilePatternErrors(t *testing.T) {
	for _, s := range []string{"", "/a b", "/a\x00", "/é", "/q?x=1", "/" + strings.Repeat("a", MaxPatternLen)} {
		if _, err := CompilePattern(s); err == nil {
			t.Errorf("CompilePattern(%q) succeeded", s)
		}
	}
}

func TestPatternCovers(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"/api/*", "/api/*", true},
		{"/*", "/anything", true},
		{"*", "/x/*.jpg", true},
		{"/api/*", "/api/v1/*", true},
		{"/api/*", "/api/v?", true},
		{"/api/*", "/apiv1", false},
		{"/api*", "/api/v1", true},
		{"/*.jpg", "/img/*.jpg", true},
		{"/*.jpg", "/img/*", false},
		{"/*.jpg", "/img/a.jpg", true},
		{"/a*a", "/a", false}, // "/a" is too short for "/a*a"
		{"/a*a", "/aa", true},
		{"/x", "/x", true},
		{"/x", "/x*", false},
		{"/img/*", "/*", false},
		{"/v?/*", "/v1/x", false}, // not decided for patterns with ?: never reported
	} {
		a, b := compilePattern(tc.a), compilePattern(tc.b)
		if got := a.covers(&b); got != tc.want {
			t.Errorf("%q covers %q = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestPatternMatchDoesNotAllocate(t *testing.T) {
	p := compilePattern("/a*b?c*d")
	allocs := testing.AllocsPerRun(100, func() {
		p.Match("/aXXbYcZZZd")
	})
	if allocs != 0 {
		t.Errorf("Match allocates %v times", allocs)
	}
}

// matchRef is the obvious recursive matcher, as reference.
func matchRef(pattern, name string) bool {
	if pattern == "" {
		return name == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(name); i++ {
			if matchRef(pattern[1:], name[i:]) {
				return true
			}
		}
		return false
	case '?':
		return name != "" && matchRef(pattern[1:], name[1:])
	}
	return name != "" && name[0] == pattern[0] && matchRef(pattern[1:], name[1:])
}

func FuzzPattern(f *testing.F) {
	for _, s := range [][2]string{
		{"/api/*", "/api/x"}, {"*.jpg", "/a/b.jpg"}, {"/v?/x", "/v1/x"}, {"/a*b*c", "/aXbYc"},
		{"/a*?", "/ab"}, {"/**?*", "/"}, {"/exact", "/exact"}, {"?", "/"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		if len(pattern) > 64 || len(path) > 64 || strings.Count(pattern, "*") > 8 {
			t.Skip() // keep the reference matcher's backtracking cheap
		}
		p := compilePattern(pattern)
		norm := pattern
		if !strings.HasPrefix(norm, "/") {
			norm = "/" + norm
		}
		if p.String() != norm {
			t.Fatalf("String() = %q, want %q", p.String(), norm)
		}
		if got, want := p.Match(path), matchRef(norm, path); got != want {
			t.Fatalf("%q.Match(%q) = %v, reference says %v", norm, path, got, want)
		}
		// covers never claims more than is true: when it says b is shadowed
		// by p, every path b matches, p matches.
		b := compilePattern(path)
		if p.covers(&b) && matchRef(b.String(), b.String()) && !p.Match(b.String()) {
			t.Fatalf("%q covers %q but does not match %q", norm, b.String(), b.String())
		}
	})
}

var sink bool

// go test -run=^$ -bench=Pattern -benchmem ./edge/config
func BenchmarkPatternMatch(b *testing.B) {
	for _, bc := range []struct{ pattern, path string }{
		{"/api/*", "/api/products/42"},
		{"/exact/path.html", "/exact/path.html"},
		{"/images/*.jpg", "/images/2024/summer/beach.jpg"},
		{"/v?/*/status", "/v2/orders/12345/status"},
		{"/a*b*c*d*e", "/a-long-path-that/b/almost/c/matches/d/but-ends-in/x"},
	} {
		p := MustCompilePattern(bc.pattern)
		b.Run(strings.Trim(strings.NewReplacer("*", "STAR", "?", "Q", "/", "_").Replace(bc.pattern), "_"), func(b *testing.B) {
			for b.Loop() {
				sink = p.Match(bc.path)
			}
		})
	}
}

var sinkBehavior *Behavior

// go test -run=^$ -bench=BehaviorSelect -benchmem ./edge/config
func BenchmarkBehaviorSelect(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("origins: {o: {url: \"http://o\"}}\nbehaviors:\n")
	for i := range 18 {
		fmt.Fprintf(&sb, "  - {path: /section%d/*, origin: o}\n", i)
	}
	sb.WriteString("  - {path: /img/*.jpg, origin: o}\n  - {path: /v?/status, origin: o}\ndefault_behavior: {origin: o}\n")
	cfg, err := Parse("bench.yaml", []byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	if len(cfg.Behaviors) != 20 {
		b.Fatalf("%d behaviors", len(cfg.Behaviors))
	}
	for _, bc := range []struct{ name, path string }{
		{"first", "/section0/index.html"},
		{"middle", "/section9/a/b/c"},
		{"last", "/v2/status"},
		{"default", "/about/team.html"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				sinkBehavior = cfg.Select(bc.path)
			}
		})
	}
}
