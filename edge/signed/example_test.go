package signed_test

import (
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/strata-cache/strata/edge/signed"
)

func Example() {
	// In production the private key lives with the application that hands
	// out links, and only the public key is configured on the edge.
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	signer := signed.Signer{KeyID: "2026-03", Key: priv}
	verifier, err := signed.NewVerifier(signed.KeyGroup{
		Name: "downloads",
		Keys: map[string]crypto.PublicKey{"2026-03": priv.Public()},
	})
	if err != nil {
		panic(err)
	}

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	link, err := signer.SignURL("https://cdn.example.com/report.pdf", signed.Policy{Expires: now.Add(time.Hour)})
	if err != nil {
		panic(err)
	}

	r := httptest.NewRequest("GET", link, nil)
	fmt.Println("now:", verifier.Verify(r, now))
	err = verifier.Verify(r, now.Add(2*time.Hour))
	fmt.Println("later:", err, errors.Is(err, signed.ErrExpired))

	signed.StripParams(r.URL) // before the cache key is computed
	fmt.Println(r.URL)
	// Output:
	// now: <nil>
	// later: signed: expired at 2026-03-01T13:00:00Z true
	// https://cdn.example.com/report.pdf
}
