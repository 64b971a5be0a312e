package config

import (
	"strings"
	"time"
)

// The managed CloudFront policies, by name and ID. Verified against AWS's
// "Use managed cache policies" and "Use managed origin request policies"
// pages where noted; the rest come from CloudFront emulators and
// infrastructure code that agree with each other, and docs/config.md says
// which.

const (
	day  = 24 * time.Hour
	year = 365 * day
)

// Names of the managed cache policies.
const (
	CachingOptimized                         = "CachingOptimized"
	CachingDisabled                          = "CachingDisabled"
	CachingOptimizedForUncompressedObjects   = "CachingOptimizedForUncompressedObjects"
	UseOriginCacheControlHeaders             = "UseOriginCacheControlHeaders"
	UseOriginCacheControlHeadersQueryStrings = "UseOriginCacheControlHeaders-QueryStrings"
	ElementalMediaPackage                    = "Elemental-MediaPackage"
	Amplify                                  = "Amplify"

	// DefaultCachePolicy is the policy of a behavior that names none.
	DefaultCachePolicy = CachingOptimized
)

// managedPrefix is how the CloudFront console prefixes managed policy names.
const managedPrefix = "Managed-"

func allow(fold bool, names ...string) KeyFilter {
	return KeyFilter{Mode: FilterAllow, Names: names, Fold: fold}
}

var (
	all      = KeyFilter{Mode: FilterAll}
	allFold  = KeyFilter{Mode: FilterAll, Fold: true}
	none     = KeyFilter{}
	noneFold = KeyFilter{Fold: true}
)

// managedCachePolicies returns fresh copies of the managed cache policies.
func managedCachePolicies() []*CachePolicy {
	originCacheHeaders := allow(true, "Host", "Origin", "X-Http-Method-Override", "X-Http-Method", "X-Method-Override")
	return []*CachePolicy{
		{ // verified: AWS docs
			Name: CachingOptimized, ID: "658327ea-f89d-4fab-a63d-7e88639e58f6",
			MinTTL: time.Second, DefaultTTL: day, MaxTTL: year,
			QueryStrings: none, Headers: noneFold, Cookies: none,
			AcceptEncoding: []string{"gzip", "br"},
		},
		{ // verified: AWS docs
			Name: CachingDisabled, ID: "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
			QueryStrings: none, Headers: noneFold, Cookies: none,
		},
		{ // verified: AWS docs
			Name: CachingOptimizedForUncompressedObjects, ID: "b2884449-e4de-46a7-ac36-70bc7f1ddd6d",
			MinTTL: time.Second, DefaultTTL: day, MaxTTL: year,
			QueryStrings: none, Headers: noneFold, Cookies: none,
		},
		{ // ID verified; settings not verified against AWS docs
			Name: UseOriginCacheControlHeaders, ID: "83da9c7e-98b4-4e11-a168-04f0df8e2c65",
			MinTTL: 0, DefaultTTL: 0, MaxTTL: year,
			QueryStrings: none, Headers: originCacheHeaders, Cookies: all,
			AcceptEncoding: []string{"gzip", "br"},
		},
		{ // ID verified; settings not verified against AWS docs
			Name: UseOriginCacheControlHeadersQueryStrings, ID: "4cc15a8a-d715-48a4-82b8-cc0b614638fe",
			MinTTL: 0, DefaultTTL: 0, MaxTTL: year,
			QueryStrings: all, Headers: originCacheHeaders, Cookies: all,
			AcceptEncoding: []string{"gzip", "br"},
		},
		{ // ID verified; settings not verified against AWS docs
			Name: ElementalMediaPackage, ID: "08627262-05a9-4f76-9ded-b50ca2e3a84f",
			MinTTL: 0, DefaultTTL: day, MaxTTL: year,
			QueryStrings: allow(false, "aws.manifestfilter", "start", "end", "m"),
			Headers:      allow(true, "Origin"), Cookies: none,
			AcceptEncoding: []string{"gzip"},
		},
		{ // verified: AWS docs
			Name: Amplify, ID: "2e54312d-136d-493c-8eb9-b001f22f67d2",
			MinTTL: 2 * time.Second, DefaultTTL: 2 * time.Second, MaxTTL: 600 * time.Second,
			QueryStrings: all, Headers: allow(true, "Authorization", "Cloudfront-Viewer-Country", "Host"), Cookies: all,
			AcceptEncoding: []string{"gzip", "br"},
		},
	}
}

// Names of the managed origin request policies.
const (
	AllViewer                     = "AllViewer"
	AllViewerAndCloudFrontHeaders = "AllViewerAndCloudFrontHeaders-2022-06"
	AllViewerExceptHostHeader     = "AllViewerExceptHostHeader"
	CORSCustomOrigin              = "CORS-CustomOrigin"
	CORSS3Origin                  = "CORS-S3Origin"
	UserAgentRefererHeaders       = "UserAgentRefererHeaders"
)

// managedOriginRequestPolicies returns fresh copies of the managed origin
// request policies. Strata adds no CloudFront-* headers, so
// AllViewerAndCloudFrontHeaders-2022-06 sends what AllViewer sends.
func managedOriginRequestPolicies() []*OriginRequestPolicy {
	cors := allow(true, "Origin", "Access-Control-Request-Headers", "Access-Control-Request-Method")
	return []*OriginRequestPolicy{
		{Name: AllViewer, ID: "216adef6-5c7f-47e4-b989-5492eafa07d3", // verified: AWS docs
			Headers: allFold, Cookies: all, QueryStrings: all},
		{Name: AllViewerAndCloudFrontHeaders, ID: "33f36d7e-f396-46d9-90e0-52428a34d9dc", // verified: AWS docs
			Headers: allFold, Cookies: all, QueryStrings: all},
		{Name: AllViewerExceptHostHeader, ID: "b689b0a8-53d0-40ab-baf2-68738e2966ac",
			Headers: KeyFilter{Mode: FilterDeny, Names: []string{"Host"}, Fold: true}, Cookies: all, QueryStrings: all},
		{Name: CORSCustomOrigin, ID: "59781a5b-3903-41f3-afcb-af62929ccde1",
			Headers: allow(true, "Origin"), Cookies: none, QueryStrings: none},
		{Name: CORSS3Origin, ID: "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf",
			Headers: cors, Cookies: none, QueryStrings: none},
		{Name: UserAgentRefererHeaders, ID: "acba4595-bd28-49b8-b9fe-13317c0390fa",
			Headers: allow(true, "User-Agent", "Referer"), Cookies: none, QueryStrings: all},
	}
}

// ManagedCachePolicy returns the managed cache policy with a name (with or
// without the console's "Managed-" prefix) or CloudFront ID, or nil.
func ManagedCachePolicy(nameOrID string) *CachePolicy {
	nameOrID = strings.TrimPrefix(nameOrID, managedPrefix)
	for _, p := range managedCachePolicies() {
		if p.Name == nameOrID || p.ID == nameOrID {
			return p
		}
	}
	return nil
}

// ManagedOriginRequestPolicy returns the managed origin request policy with
// a name (with or without "Managed-") or CloudFront ID, or nil.
func ManagedOriginRequestPolicy(nameOrID string) *OriginRequestPolicy {
	nameOrID = strings.TrimPrefix(nameOrID, managedPrefix)
	for _, p := range managedOriginRequestPolicies() {
		if p.Name == nameOrID || p.ID == nameOrID {
			return p
		}
	}
	return nil
}

// ManagedCachePolicyNames returns the managed cache policies' names.
func ManagedCachePolicyNames() []string {
	var names []string
	for _, p := range managedCachePolicies() {
		names = append(names, p.Name)
	}
	return names
}
