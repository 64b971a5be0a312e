package signed

import (
	"crypto"
	"net/netip"
	"testing"
	"time"
)

// go test -run='^$' -bench=. -benchmem ./edge/signed
func BenchmarkVerify(b *testing.B) {
	v, err := NewVerifier(KeyGroup{Name: "g", Keys: map[string]crypto.PublicKey{
		"ed": edKey(1).Public(), "rsa": &rsaKey().PublicKey,
	}})
	if err != nil {
		b.Fatal(err)
	}
	custom := Policy{Resource: "https://cdn.example.com/v/*", Expires: now.Add(time.Hour), IPRange: netip.MustParsePrefix("192.0.2.0/24")}
	for _, c := range []struct {
		name string
		s    Signer
		p    Policy
	}{
		{"alg=ed25519/policy=canned", Signer{KeyID: "ed", Key: edKey(1)}, Policy{Expires: now.Add(time.Hour)}},
		{"alg=ed25519/policy=custom", Signer{KeyID: "ed", Key: edKey(1)}, custom},
		{"alg=rsa2048/policy=canned", Signer{KeyID: "rsa", Key: rsaKey()}, Policy{Expires: now.Add(time.Hour)}},
		{"alg=rsa2048/policy=custom", Signer{KeyID: "rsa", Key: rsaKey()}, custom},
	} {
		u, err := c.s.SignURL("https://cdn.example.com/v/segment-00042.ts?quality=1080p", c.p)
		if err != nil {
			b.Fatal(err)
		}
		r := request(u, "192.0.2.7:40000")
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Verify(r, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSignURL(b *testing.B) {
	for _, c := range []struct {
		name string
		s    Signer
	}{
		{"alg=ed25519", Signer{KeyID: "ed", Key: edKey(1)}},
		{"alg=rsa2048", Signer{KeyID: "rsa", Key: rsaKey()}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.s.SignURL("https://cdn.example.com/v/segment-00042.ts", Policy{Expires: now.Add(time.Hour)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
