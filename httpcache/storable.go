package httpcache

import (
	"net/http"
	"strings"
)

// Reasons a response is not stored, as returned by Storable. They are stable
// strings: they appear in the Cache-Status "detail" parameter and in metrics.
const (
	ReasonMethod         = "method"           // only GET responses are stored
	ReasonStatus         = "status"           // status code not understood or not final
	ReasonRequestNoStore = "request-no-store" // the request said no-store
	ReasonNoStore        = "no-store"
	ReasonPrivate        = "private"
	ReasonAuthorization  = "authorization" // request had Authorization, response did not allow sharing
	ReasonVaryStar       = "vary-star"
	ReasonNoFreshness    = "no-freshness" // nothing makes the response reusable
	ReasonPartial        = "partial"      // 206 and 304 are not stored as such
	ReasonMustUnderstand = "must-understand"
)

// understood lists the final status codes this cache understands; with
// must-understand, only these may be stored.
func understood(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 302, 303, 307, 308,
		400, 403, 404, 405, 410, 414, 451, 500, 501, 502, 503, 504:
		return true
	}
	return false
}

// Storable reports whether a shared cache may store the response (status,
// header h, directives cc = ParseResponse(h)) to the request req, following
// RFC 9111 section 3 and section 3.5 for requests with Authorization. When it
// may not, reason is one of the Reason constants.
func Storable(req *http.Request, status int, h http.Header, cc Response) (ok bool, reason string) {
	if req.Method != http.MethodGet {
		return false, ReasonMethod
	}
	if status == http.StatusPartialContent || status == http.StatusNotModified {
		return false, ReasonPartial
	}
	if status < 200 || status > 599 {
		return false, ReasonStatus
	}
	if ParseRequest(req.Header).NoStore {
		return false, ReasonRequestNoStore
	}
	if cc.MustUnderstand {
		if !understood(status) {
			return false, ReasonMustUnderstand
		}
	} else if cc.NoStore {
		return false, ReasonNoStore
	}
	if cc.Private {
		return false, ReasonPrivate
	}
	if req.Header.Get("Authorization") != "" && !(cc.Public || cc.MustRevalidate || cc.HasSMaxAge) {
		return false, ReasonAuthorization
	}
	if VaryStar(h) {
		return false, ReasonVaryStar
	}
	if cc.Public || hasExplicitExpiry(h, cc) || HeuristicallyCacheable(status) {
		return true, ""
	}
	return false, ReasonNoFreshness
}

// VaryStar reports whether the response varies on "*", which means a stored
// copy could never be reused.
func VaryStar(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.TrimSpace(f) == "*" {
				return true
			}
		}
	}
	return false
}

// StripUnshared removes from h, in place, the fields a shared cache must not
// store or reuse without revalidation: those named by private="..." and
// no-cache="...", and the targeted Surrogate-Control field.
func StripUnshared(h http.Header, cc Response) {
	for _, f := range cc.PrivateFields {
		h.Del(f)
	}
	for _, f := range cc.NoCacheFields {
		h.Del(f)
	}
	h.Del("Surrogate-Control")
}
