package keyid

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		id   string
		max  int
		want bool
	}{
		{"K2JCJMDEHXQW5F", 64, true},
		{"key-1.a_b", 64, true},
		{"", 64, false},
		{strings.Repeat("a", 64), 64, true},
		{strings.Repeat("a", 65), 64, false},
		{"a b", 64, false},
		{"a/b", 64, false},
		{"a\r\nb", 64, false},
		{"ключ", 64, false},
	} {
		if got := Valid(tc.id, tc.max); got != tc.want {
			t.Errorf("Valid(%q, %d) = %v, want %v", tc.id, tc.max, got, tc.want)
		}
	}
}
