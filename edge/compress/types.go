package compress

import "strings"

// Compressible reports whether a response of the given Content-Type is
// worth compressing: text (except event streams, which must not be
// buffered), SVG, JSON, JavaScript, XML and their +json/+xml relatives,
// WebAssembly, uncompressed fonts and a few other textual formats. It
// answers false for an empty or unknown type and for formats that are
// already compressed (other images, video, audio, archives, woff/woff2,
// PDF): compressing them again costs CPU and saves nothing. Parameters
// (";charset=...") are ignored and case does not matter. It does not
// allocate.
func Compressible(contentType string) bool {
	mt := contentType
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = strings.TrimSpace(mt)
	slash := strings.IndexByte(mt, '/')
	if slash <= 0 || slash == len(mt)-1 {
		return false
	}
	top, sub := mt[:slash], mt[slash+1:]
	switch {
	case strings.EqualFold(top, "text"):
		return !strings.EqualFold(sub, "event-stream")
	case hasSuffixFold(sub, "+json") || hasSuffixFold(sub, "+xml"):
		// application/ld+json, image/svg+xml, application/atom+xml...
		return true
	case strings.EqualFold(top, "application"):
		return anyFold(sub, compressibleApplication)
	case strings.EqualFold(top, "image"):
		return anyFold(sub, compressibleImage)
	case strings.EqualFold(top, "font"):
		return strings.EqualFold(sub, "ttf") || strings.EqualFold(sub, "otf") || strings.EqualFold(sub, "collection")
	}
	return false
}

// compressibleApplication are the application/ subtypes that are text or
// otherwise compress well.
var compressibleApplication = []string{
	"json", "javascript", "x-javascript", "ecmascript", "xml", "wasm",
	"x-www-form-urlencoded", "graphql", "yaml", "x-yaml", "toml", "x-sh",
	"rtf", "x-tar", "vnd.ms-fontobject", "x-font-ttf", "x-font-otf",
	"x-ndjson", "jsonl", "csv", "sql", "manifest",
}

// compressibleImage are the image/ subtypes stored uncompressed (SVG is
// matched by its +xml suffix).
var compressibleImage = []string{"bmp", "x-icon", "vnd.microsoft.icon", "x-ms-bmp"}

func anyFold(s string, list []string) bool {
	for _, x := range list {
		if strings.EqualFold(s, x) {
			return true
		}
	}
	return false
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) > len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// NoTransform reports whether Cache-Control field values forbid
// intermediaries to transform the content (RFC 9111 section 5.2.2.6), which
// includes changing its content coding. It does not allocate.
func NoTransform(cacheControl []string) bool {
	for _, v := range cacheControl {
		for v != "" {
			var d string
			if i := strings.IndexByte(v, ','); i >= 0 {
				d, v = v[:i], v[i+1:]
			} else {
				d, v = v, ""
			}
			if strings.EqualFold(strings.TrimSpace(d), "no-transform") {
				return true
			}
		}
	}
	return false
}
