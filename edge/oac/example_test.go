package oac_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/strata-cache/strata/edge/oac"
)

func Example() {
	secret := []byte("at least sixteen random bytes, shared")
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return at }

	// The origin refuses what the edge did not sign.
	site := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	v := &oac.Verifier{Keys: map[string][]byte{"edge-2026-03": secret}, Now: clock}
	origin := httptest.NewServer(v.Middleware(site))
	defer origin.Close()

	// The edge signs through its transport.
	edge := &http.Client{Transport: oac.NewTransport(http.DefaultTransport, "edge-2026-03", secret, clock)}
	for _, c := range []*http.Client{edge, http.DefaultClient} {
		resp, err := c.Get(origin.URL + "/index.html")
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %s\n", resp.StatusCode, body)
	}
	// Output:
	// 200 hello
	// 403 oac: request is not signed
}
