package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	type body struct{ A int }
	for _, tt := range []struct {
		in      string
		wantErr func(error) bool
	}{
		{`{"A":1}`, func(err error) bool { return err == nil }},
		{`{"A":`, func(err error) bool { return errors.Is(err, ErrBadJSON) }},
		{`{"B":1}`, func(err error) bool { return errors.Is(err, ErrBadJSON) }},
		{`{"A":1} {}`, func(err error) bool { return errors.Is(err, ErrBadJSON) }},
		{`{"A":` + strings.Repeat("1", 100) + `}`, func(err error) bool { var m *http.MaxBytesError; return errors.As(err, &m) }},
	} {
		var v body
		err := DecodeJSON(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(tt.in)), 50, &v)
		if !tt.wantErr(err) {
			t.Errorf("%.20q: err = %v", tt.in, err)
		}
	}
}

func TestBearer(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer tok")
	if !Bearer(r, "tok") || Bearer(r, "other") || Bearer(r, "") {
		t.Error("Bearer disagrees with the header")
	}
	r.Header.Set("Authorization", "Basic tok")
	if Bearer(r, "tok") {
		t.Error("Basic accepted as Bearer")
	}
}
