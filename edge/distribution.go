package edge

import (
	"crypto"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/strata-cache/strata/edge/config"
	"github.com/strata-cache/strata/edge/oac"
	"github.com/strata-cache/strata/edge/signed"
	"github.com/strata-cache/strata/site"
)

// FromConfigOptions are FromConfig's options; the zero value is usable.
type FromConfigOptions struct {
	// Now dates origin access control signatures. Default time.Now.
	Now func() time.Time
	// Transport, when set, is the transport of a URL origin instead of one
	// built from its ConnectTimeout, ResponseTimeout and MaxConnections.
	// OAC signing and custom headers are still added on top.
	Transport func(o *config.Origin) http.RoundTripper
	// Site, when set, serves a dir origin instead of
	// site.New(site.Config{Dir: o.Dir}).
	Site func(o *config.Origin) (http.Handler, error)
	// ClientIP is the signed URL verifiers' source of the client address
	// (signed.Verifier.ClientIP); nil means r.RemoteAddr.
	ClientIP func(r *http.Request) (netip.Addr, bool)
}

// FromConfig returns the behaviors of a distribution, for Config.Behaviors
// or SetBehaviors: cfg.Behaviors in order, then cfg.Default (named
// "default", matching every path). Each origin is built once and shared by
// the behaviors that use it:
//
//   - a URL origin is URLOrigin over a transport with the origin's connect
//     timeout (dial), response timeout (response headers) and connection
//     cap (per host), adding its Headers to every request (replacing the
//     client's fields of those names) and signing every request with its
//     OAC key (edge/oac) when it has one;
//   - a dir origin is a site.Handler on the directory, served in process
//     (HandlerOrigin);
//   - a group tries its primary and, for GET, HEAD and OPTIONS requests
//     only, its secondary when the primary answers a failover status or,
//     with FailoverOnConnectionError, cannot be reached.
//
// Behaviors with trusted key groups get a signed.Verifier trusting every
// key of their groups. FromConfig starts nothing; the transports' idle
// connections can be closed with CloseIdleConnections when the behaviors
// are replaced.
func FromConfig(cfg *config.Config, opts FromConfigOptions) ([]Behavior, error) {
	if cfg == nil || cfg.Default == nil {
		return nil, fmt.Errorf("%w: no distribution", ErrConfig)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	origins := map[*config.Origin]http.RoundTripper{}
	var originFor func(o *config.Origin) (http.RoundTripper, error)
	originFor = func(o *config.Origin) (http.RoundTripper, error) {
		if rt, ok := origins[o]; ok {
			return rt, nil
		}
		var rt http.RoundTripper
		switch o.Kind {
		case config.OriginURL:
			rt = urlOriginFor(o, opts)
		case config.OriginDir:
			var h http.Handler
			var err error
			if opts.Site != nil {
				h, err = opts.Site(o)
			} else {
				h, err = site.New(site.Config{Dir: o.Dir})
			}
			if err != nil {
				return nil, fmt.Errorf("%w: origin %q: %v", ErrConfig, o.Name, err)
			}
			rt = HandlerOrigin(h)
		case config.OriginGroup:
			if o.Group == nil || o.Group.Primary == nil || o.Group.Secondary == nil {
				return nil, fmt.Errorf("%w: origin group %q needs a primary and a secondary", ErrConfig, o.Name)
			}
			p, err := originFor(o.Group.Primary)
			if err != nil {
				return nil, err
			}
			s, err := originFor(o.Group.Secondary)
			if err != nil {
				return nil, err
			}
			rt = &groupOrigin{primary: p, secondary: s, group: o.Group}
		default:
			return nil, fmt.Errorf("%w: origin %q has unknown kind %v", ErrConfig, o.Name, o.Kind)
		}
		origins[o] = rt
		return rt, nil
	}

	all := append(append([]*config.Behavior(nil), cfg.Behaviors...), cfg.Default)
	bs := make([]Behavior, 0, len(all))
	for i, cb := range all {
		if cb.Origin == nil {
			return nil, fmt.Errorf("%w: behavior %q has no origin", ErrConfig, cb.Path)
		}
		rt, err := originFor(cb.Origin)
		if err != nil {
			return nil, err
		}
		b := Behavior{
			Origin:              rt,
			Name:                cb.Path,
			Compress:            cb.Compress,
			AllowedMethods:      cb.AllowedMethods,
			CachedMethods:       cb.CachedMethods,
			ViewerProtocol:      cb.ViewerProtocol,
			CachePolicy:         cb.CachePolicy,
			OriginRequestPolicy: cb.OriginRequestPolicy,
			ResponseHeaders:     cb.ResponseHeaders,
		}
		if i == len(all)-1 {
			b.Pattern, b.Name = "*", "default"
		} else {
			b.Path = &cb.Pattern
		}
		if len(cb.TrustedKeyGroups) > 0 {
			groups := make([]signed.KeyGroup, len(cb.TrustedKeyGroups))
			for j, g := range cb.TrustedKeyGroups {
				groups[j] = signed.KeyGroup{Name: g.Name, Keys: make(map[string]crypto.PublicKey, len(g.Keys))}
				for _, k := range g.Keys {
					groups[j].Keys[k.ID] = k.Key
				}
			}
			v, err := signed.NewVerifier(groups...)
			if err != nil {
				return nil, fmt.Errorf("%w: behavior %q: %v", ErrConfig, b.Name, err)
			}
			v.ClientIP = opts.ClientIP
			b.Signed = v
		}
		bs = append(bs, b)
	}
	return bs, nil
}

// urlOriginFor builds a URL origin's round tripper.
func urlOriginFor(o *config.Origin, opts FromConfigOptions) http.RoundTripper {
	var rt http.RoundTripper
	if opts.Transport != nil {
		rt = opts.Transport(o)
	} else {
		t := NewTransport()
		if o.ConnectTimeout > 0 {
			t.DialContext = (&net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
		}
		t.ResponseHeaderTimeout = o.ResponseTimeout
		t.MaxConnsPerHost = o.MaxConnections
		if o.MaxConnections > 0 {
			t.MaxIdleConnsPerHost = min(t.MaxIdleConnsPerHost, o.MaxConnections)
		}
		rt = t
	}
	if o.OAC != nil {
		rt = oac.NewTransport(rt, o.OAC.KeyID, o.OAC.Secret, opts.Now)
	}
	if len(o.Headers) > 0 {
		rt = &headerTransport{next: rt, h: o.Headers}
	}
	return URLOrigin(o.URL, rt)
}

// headerTransport sets fixed fields on every request it sends.
type headerTransport struct {
	next http.RoundTripper
	h    http.Header
}

func (t *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	for k, vs := range t.h {
		out.Header[k] = vs[:len(vs):len(vs)]
	}
	return t.next.RoundTrip(out)
}

func (t *headerTransport) CloseIdleConnections() { closeIdle(t.next) }

// groupOrigin is an origin group: a primary and a secondary.
type groupOrigin struct {
	primary, secondary http.RoundTripper
	group              *config.OriginGroupConfig
}

// RoundTrip sends r to the primary and, for GET, HEAD and OPTIONS as in
// CloudFront, to the secondary when the primary's status fails over or,
// when the group says so, it could not be reached. A client that went
// away is not failed over.
func (o *groupOrigin) RoundTrip(r *http.Request) (*http.Response, error) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return o.primary.RoundTrip(r)
	}
	resp, err := o.primary.RoundTrip(r)
	switch {
	case err != nil:
		if !o.group.FailoverOnConnectionError || r.Context().Err() != nil {
			return nil, err
		}
	case o.group.FailsOver(resp.StatusCode):
		resp.Body.Close()
	default:
		return resp, nil
	}
	return o.secondary.RoundTrip(r)
}

func (o *groupOrigin) CloseIdleConnections() {
	closeIdle(o.primary)
	closeIdle(o.secondary)
}

func (o *urlOrigin) CloseIdleConnections() { closeIdle(o.transport) }

func closeIdle(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// CloseIdleConnections closes the idle origin connections of bs's origins
// (those FromConfig builds, and any origin with a CloseIdleConnections
// method). Call it on the old behaviors after SetBehaviors replaced them.
func CloseIdleConnections(bs []Behavior) {
	for i := range bs {
		closeIdle(bs[i].Origin)
	}
}
