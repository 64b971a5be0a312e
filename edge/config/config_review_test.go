package config

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReviewHeaderValueControlBytes: a header value with a control byte
// other than a line break or NUL passed the check, and then every origin
// request failed in net/http ("invalid header field value"): check-config
// must refuse the file instead.
func TestReviewHeaderValueControlBytes(t *testing.T) {
	// What net/http does with such a value on an origin request.
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("X-A", "a\x01b")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("net/http sent a header value with a control byte; the test's premise is wrong")
	}
	for _, tc := range []struct{ name, yaml string }{
		{"origin headers", "origins:\n  o:\n    url: http://x\n    headers: {X-A: \"a\\x01b\"}\ndefault_behavior: {origin: o}\n"},
		{"origin headers DEL", "origins:\n  o:\n    url: http://x\n    headers: {X-A: \"a\\x7fb\"}\ndefault_behavior: {origin: o}\n"},
		{"response headers", "origins:\n  o:\n    url: http://x\ndefault_behavior:\n  origin: o\n  response_headers: {X-A: \"a\\x1bb\"}\n"},
	} {
		_, err := Parse("t.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), "X-A") {
			t.Errorf("%s: Parse = %v, want an error naming X-A", tc.name, err)
		}
	}
	// A tab is allowed in a field value.
	if _, err := Parse("t.yaml", []byte("origins:\n  o:\n    url: http://x\n    headers: {X-A: \"a\\tb\"}\ndefault_behavior: {origin: o}\n")); err != nil {
		t.Errorf("tab refused: %v", err)
	}
}
