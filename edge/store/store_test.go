package store

import (
	"strings"
	"testing"
	"time"
)

func newMem(t *testing.T, max uint64) *Memory {
	t.Helper()
	m, err := NewMemory(Options{MaxBytes: max})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func TestNewMemoryNeedsBound(t *testing.T) {
	if _, err := NewMemory(Options{}); err != ErrNoBound {
		t.Fatalf("err = %v, want ErrNoBound", err)
	}
}

func TestSetGetPurge(t *testing.T) {
	m := newMem(t, 1<<20)
	for _, e := range []*Entry{
		{Key: "h/api/a", Path: "/api/a", Tags: []string{"product:1", "products"}, Retain: time.Hour},
		{Key: "h/api/a?x=1", Path: "/api/a", Retain: time.Hour},
		{Key: "h/api/b", Path: "/api/b", Tags: []string{"products"}, Retain: time.Hour},
		{Key: "h/index.html", Path: "/index.html", Retain: time.Hour},
	} {
		m.Set(e)
	}
	if e, ok := m.Get("h/api/a"); !ok || e.Path != "/api/a" {
		t.Fatalf("Get = %v %v", e, ok)
	}
	if n := m.PurgePath("/api/a"); n != 2 {
		t.Errorf("PurgePath exact removed %d, want 2 (every query variant)", n)
	}
	if n := m.PurgeTag("products"); n != 1 {
		t.Errorf("PurgeTag removed %d, want 1", n)
	}
	if n := m.PurgePath("/*"); n != 1 {
		t.Errorf("PurgePath wildcard removed %d, want 1", n)
	}
	if _, ok := m.Get("h/index.html"); ok {
		t.Error("entry survived a wildcard purge")
	}
}

func TestByteBound(t *testing.T) {
	const bound = 64 << 10
	m := newMem(t, bound)
	body := []byte(strings.Repeat("x", 1024))
	for i := range 1000 {
		m.Set(&Entry{Key: string(rune('a'+i%26)) + strings.Repeat("k", i), Body: body, Retain: time.Hour})
	}
	m.c.CleanUp()
	if b := m.Bytes(); b > bound {
		t.Errorf("store holds %d bytes, above its bound %d", b, bound)
	}
	if m.Len() == 0 {
		t.Error("store kept nothing")
	}
}
