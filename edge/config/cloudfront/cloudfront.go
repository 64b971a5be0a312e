package cloudfront

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-cache/strata/edge/config"
)

// ImportOptions adjusts an import.
type ImportOptions struct {
	// OriginMap maps an origin's DomainName (as in the distribution, e.g.
	// "my-bucket.s3.us-east-1.amazonaws.com") to where Strata should fetch
	// from instead: a URL ("http://127.0.0.1:8081") or, for anything without
	// "://", a local directory. Unmapped origins keep their CloudFront
	// domain.
	OriginMap map[string]string

	// CachePolicies are custom cache policies, as `aws cloudfront
	// get-cache-policy --id ID` prints them ({"CachePolicy": {"Id",
	// "CachePolicyConfig"}}) or as a bare CachePolicyConfig with the ID as
	// the map key. A behavior using a custom policy not given here gets the
	// default policy and a warning.
	CachePolicies map[string][]byte
}

// ErrNotDistribution is returned for JSON that holds no DistributionConfig.
var ErrNotDistribution = errors.New("cloudfront: not a DistributionConfig (want the output of aws cloudfront get-distribution-config)")

// Import converts a distribution configuration into a Strata distribution
// file. warnings lists, one line each, every setting that Strata does not
// honour or honours differently.
func Import(data []byte, opts ImportOptions) (*config.File, []string, error) {
	var wrapped struct {
		DistributionConfig *distributionConfig
	}
	if err := json.Unmarshal(data, &wrapped); err != nil {
		return nil, nil, fmt.Errorf("cloudfront: %w", err)
	}
	dc := wrapped.DistributionConfig
	if dc == nil {
		var bare distributionConfig
		if err := json.Unmarshal(data, &bare); err != nil {
			return nil, nil, fmt.Errorf("cloudfront: %w", err)
		}
		if bare.DefaultCacheBehavior == nil && bare.Origins.Quantity == 0 {
			return nil, nil, ErrNotDistribution
		}
		dc = &bare
	}
	if dc.DefaultCacheBehavior == nil {
		return nil, nil, fmt.Errorf("%w: no DefaultCacheBehavior", ErrNotDistribution)
	}
	im := &importer{opts: opts, file: &config.File{
		Comment: dc.Comment,
		Origins: map[string]*config.OriginSpec{},
	}, policies: map[string]string{}}
	if err := im.loadPolicies(); err != nil {
		return nil, nil, err
	}
	im.distribution(dc)
	im.origins(dc)
	im.file.DefaultBehavior = im.behavior(dc.DefaultCacheBehavior, "DefaultCacheBehavior", "*")
	for i, cb := range dc.CacheBehaviors.Items {
		b := im.behavior(cb, fmt.Sprintf("CacheBehaviors.Items[%d]", i), cb.PathPattern)
		b.Path = cb.PathPattern
		im.file.Behaviors = append(im.file.Behaviors, b)
	}
	return im.file, im.warnings, nil
}

type importer struct {
	opts     ImportOptions
	file     *config.File
	warnings []string
	custom   map[string]*cachePolicyConfig // by CloudFront ID
	policies map[string]string             // CloudFront ID -> name in file
	legacy   int
}

func (im *importer) warnf(format string, args ...any) {
	im.warnings = append(im.warnings, fmt.Sprintf(format, args...))
}

func (im *importer) loadPolicies() error {
	im.custom = map[string]*cachePolicyConfig{}
	for _, id := range sortedKeys(im.opts.CachePolicies) {
		var got struct {
			CachePolicy *struct {
				ID     string             `json:"Id"`
				Config *cachePolicyConfig `json:"CachePolicyConfig"`
			}
		}
		data := im.opts.CachePolicies[id]
		if err := json.Unmarshal(data, &got); err != nil {
			return fmt.Errorf("cloudfront: cache policy %s: %w", id, err)
		}
		if got.CachePolicy != nil && got.CachePolicy.Config != nil {
			if got.CachePolicy.ID != "" {
				id = got.CachePolicy.ID
			}
			im.custom[id] = got.CachePolicy.Config
			continue
		}
		var bare cachePolicyConfig
		if err := json.Unmarshal(data, &bare); err != nil {
			return fmt.Errorf("cloudfront: cache policy %s: %w", id, err)
		}
		im.custom[id] = &bare
	}
	return nil
}

func (im *importer) distribution(dc *distributionConfig) {
	if dc.Aliases.Quantity > 0 {
		im.warnf("Aliases: %s: Strata serves any Host; point these names at it yourself", strings.Join(dc.Aliases.Items, ", "))
	}
	if vc := dc.ViewerCertificate; vc != nil && !vc.CloudFrontDefaultCertificate && (vc.ACMCertificateArn != "" || vc.IAMCertificateID != "") {
		im.warnf("ViewerCertificate: ACM/IAM certificates cannot be exported; add tls: cert_file and key_file")
	}
	if dc.Logging != nil && dc.Logging.Enabled {
		im.warnf("Logging: S3 access logs are not written; Strata has its own access log")
	}
	if dc.PriceClass != "" && dc.PriceClass != "PriceClass_All" {
		im.warnf("PriceClass: %s has no meaning for a self-hosted edge", dc.PriceClass)
	}
	if dc.WebACLID != "" {
		im.warnf("WebACLId: AWS WAF is not available; the web ACL %s is not applied", dc.WebACLID)
	}
	if r := dc.Restrictions; r != nil && r.GeoRestriction.RestrictionType != "" && r.GeoRestriction.RestrictionType != "none" {
		im.warnf("Restrictions.GeoRestriction: %s of %d countries is not enforced", r.GeoRestriction.RestrictionType, r.GeoRestriction.Quantity)
	}
	if dc.CustomErrorResponses.Quantity > 0 {
		im.warnf("CustomErrorResponses: %d custom error responses are not supported", dc.CustomErrorResponses.Quantity)
	}
	if dc.DefaultRootObject != "" {
		im.warnf("DefaultRootObject: %q is not applied (a dir origin serves index.html itself)", dc.DefaultRootObject)
	}
	if dc.ContinuousDeploymentPolicyID != "" || dc.Staging {
		im.warnf("ContinuousDeploymentPolicyId/Staging: continuous deployment is not supported")
	}
	if dc.Enabled != nil && !*dc.Enabled {
		im.warnf("Enabled: the distribution is disabled in CloudFront; the imported one serves")
	}
}

var schemeless = regexp.MustCompile(`^[a-z][a-z0-9+.-]*://`)

func (im *importer) origins(dc *distributionConfig) {
	for i, o := range dc.Origins.Items {
		path := fmt.Sprintf("Origins.Items[%d] (%s)", i, o.ID)
		spec := &config.OriginSpec{}
		if to, ok := im.opts.OriginMap[o.DomainName]; ok {
			if schemeless.MatchString(to) {
				spec.URL = to
			} else {
				spec.Dir = to
			}
		} else {
			scheme, port := "https", 443
			if c := o.CustomOriginConfig; c != nil {
				switch c.OriginProtocolPolicy {
				case "http-only":
					scheme, port = "http", c.HTTPPort
				case "match-viewer":
					im.warnf("%s.CustomOriginConfig.OriginProtocolPolicy: match-viewer is not supported; using https", path)
					port = c.HTTPSPort
				default:
					port = c.HTTPSPort
				}
			}
			host := o.DomainName
			if port != 0 && !(scheme == "https" && port == 443) && !(scheme == "http" && port == 80) {
				host += ":" + strconv.Itoa(port)
			}
			spec.URL = scheme + "://" + host + o.OriginPath
			im.warnf("%s.DomainName: %s is not in the origin map; Strata will fetch from %s", path, o.DomainName, spec.URL)
		}
		if spec.URL != "" {
			if c := o.CustomOriginConfig; c != nil && c.OriginReadTimeout > 0 {
				spec.ResponseTimeout = config.Seconds(c.OriginReadTimeout)
			}
			if o.ConnectionTimeout > 0 {
				spec.ConnectTimeout = config.Seconds(o.ConnectionTimeout)
			}
			for _, h := range o.CustomHeaders.Items {
				if spec.Headers == nil {
					spec.Headers = map[string]string{}
				}
				spec.Headers[h.HeaderName] = h.HeaderValue
			}
		} else if o.CustomHeaders.Quantity > 0 {
			im.warnf("%s.CustomHeaders: dropped, since the origin is mapped to a directory", path)
		}
		if o.OriginAccessControlID != "" {
			im.warnf("%s.OriginAccessControlId: SigV4 signing for S3 is not supported; add an oac: block if the origin checks Strata's signature", path)
		}
		if o.S3OriginConfig != nil && o.S3OriginConfig.OriginAccessIdentity != "" {
			im.warnf("%s.S3OriginConfig.OriginAccessIdentity: origin access identities are not supported", path)
		}
		if o.OriginShield != nil && o.OriginShield.Enabled {
			im.warnf("%s.OriginShield: not supported; run a tier of Strata edges in front of the origin instead", path)
		}
		im.file.Origins[o.ID] = spec
	}
	for i, g := range dc.OriginGroups.Items {
		path := fmt.Sprintf("OriginGroups.Items[%d] (%s)", i, g.ID)
		if len(g.Members.Items) != 2 {
			im.warnf("%s.Members: %d members; a group needs exactly 2, so it is skipped", path, len(g.Members.Items))
			continue
		}
		spec := &config.GroupSpec{Primary: g.Members.Items[0].OriginID, Secondary: g.Members.Items[1].OriginID}
		spec.FailoverStatus = g.FailoverCriteria.StatusCodes.Items
		if g.SelectionCriteria != "" && g.SelectionCriteria != "default" {
			im.warnf("%s.SelectionCriteria: %s is not supported; the primary is always tried first", path, g.SelectionCriteria)
		}
		im.file.Origins[g.ID] = &config.OriginSpec{Group: spec}
	}
}

func (im *importer) behavior(cb *cacheBehavior, path, pattern string) *config.BehaviorSpec {
	b := &config.BehaviorSpec{
		Origin:         cb.TargetOriginID,
		ViewerProtocol: cb.ViewerProtocolPolicy,
		Compress:       cb.Compress,
	}
	if cb.AllowedMethods != nil {
		b.AllowedMethods = cb.AllowedMethods.Items
		if cb.AllowedMethods.CachedMethods != nil {
			b.CachedMethods = cb.AllowedMethods.CachedMethods.Items
		}
	}
	switch {
	case cb.CachePolicyID != "":
		if m := config.ManagedCachePolicy(cb.CachePolicyID); m != nil {
			b.CachePolicy = m.Name
			if m.Name == config.CachingDisabled {
				im.warnf("%s.CachePolicyId: caching is off for %s (CachingDisabled)", path, pattern)
			}
		} else {
			b.CachePolicy = im.customPolicy(cb.CachePolicyID, path)
		}
	case cb.ForwardedValues != nil:
		b.CachePolicy = im.legacyPolicy(cb, path, pattern)
	}
	if id := cb.OriginRequestPolicyID; id != "" {
		if m := config.ManagedOriginRequestPolicy(id); m != nil {
			b.OriginRequestPolicy = m.Name
		} else {
			im.warnf("%s.OriginRequestPolicyId: custom origin request policy %s is not imported; the origin gets only the cache key", path, id)
		}
	}
	if cb.ResponseHeadersPolicyID != "" {
		im.warnf("%s.ResponseHeadersPolicyId: response headers policy %s is not imported; add response_headers by hand", path, cb.ResponseHeadersPolicyID)
	}
	if cb.TrustedKeyGroups != nil && cb.TrustedKeyGroups.Enabled && len(cb.TrustedKeyGroups.Items) > 0 {
		b.Signed = &config.SignedSpec{TrustedKeyGroups: cb.TrustedKeyGroups.Items}
		for _, id := range cb.TrustedKeyGroups.Items {
			if im.file.KeyGroups == nil {
				im.file.KeyGroups = map[string]*config.KeyGroupSpec{}
			}
			if _, ok := im.file.KeyGroups[id]; !ok {
				im.file.KeyGroups[id] = &config.KeyGroupSpec{Keys: []*config.PublicKeySpec{{ID: id, PublicKeyFile: id + ".pem"}}}
				im.warnf("%s.TrustedKeyGroups: key group %s: public keys are not in the distribution; save them (aws cloudfront get-public-key) and list them under key_groups.%s (a placeholder names %s.pem)", path, id, id, id)
			}
		}
	}
	if cb.TrustedSigners != nil && cb.TrustedSigners.Enabled {
		im.warnf("%s.TrustedSigners: legacy CloudFront key pairs are not supported; use trusted key groups", path)
	}
	if cb.LambdaFunctionAssociations.Quantity > 0 {
		im.warnf("%s.LambdaFunctionAssociations: %d Lambda@Edge functions are not run", path, cb.LambdaFunctionAssociations.Quantity)
	}
	if cb.FunctionAssociations.Quantity > 0 {
		im.warnf("%s.FunctionAssociations: %d CloudFront Functions are not run", path, cb.FunctionAssociations.Quantity)
	}
	if cb.FieldLevelEncryptionID != "" {
		im.warnf("%s.FieldLevelEncryptionId: field-level encryption is not supported", path)
	}
	if cb.RealtimeLogConfigArn != "" {
		im.warnf("%s.RealtimeLogConfigArn: real-time logs are not supported", path)
	}
	if cb.SmoothStreaming {
		im.warnf("%s.SmoothStreaming: Microsoft Smooth Streaming is not supported", path)
	}
	return b
}

// customPolicy adds the custom cache policy id to the file and returns its
// name, or "" (the default policy) if its configuration was not given.
func (im *importer) customPolicy(id, path string) string {
	if name, ok := im.policies[id]; ok {
		return name
	}
	cp, ok := im.custom[id]
	if !ok {
		im.warnf("%s.CachePolicyId: custom cache policy %s was not given (aws cloudfront get-cache-policy --id %s); using %s", path, id, id, config.DefaultCachePolicy)
		return ""
	}
	name := policyName(cp.Name, id)
	for n := 2; im.taken(name); n++ {
		name = fmt.Sprintf("%s-%d", policyName(cp.Name, id), n)
	}
	spec := &config.CachePolicySpec{
		MinTTL:     config.Seconds(cp.MinTTL),
		DefaultTTL: config.Seconds(cp.DefaultTTL),
		MaxTTL:     config.Seconds(cp.MaxTTL),
	}
	if p := cp.Parameters; p != nil {
		spec.QueryStrings = keyList(p.QueryStringsConfig.QueryStringBehavior, p.QueryStringsConfig.QueryStrings.Items)
		spec.Cookies = keyList(p.CookiesConfig.CookieBehavior, p.CookiesConfig.Cookies.Items)
		if p.HeadersConfig.HeaderBehavior == "whitelist" {
			spec.Headers = p.HeadersConfig.Headers.Items
		}
		if p.EnableAcceptEncodingBrotli {
			spec.AcceptEncoding = append(spec.AcceptEncoding, "br")
		}
		if p.EnableAcceptEncodingGzip {
			spec.AcceptEncoding = append(spec.AcceptEncoding, "gzip")
		}
	}
	if cp.MinTTL > 0 {
		im.warnf("%s.CachePolicyId: policy %s has MinTTL %d: CloudFront would cache even no-store/private responses that long; Strata does not (set override_private_and_no_store: true to match)", path, name, cp.MinTTL)
	}
	im.addPolicy(id, name, spec)
	return name
}

func (im *importer) legacyPolicy(cb *cacheBehavior, path, pattern string) string {
	fv := cb.ForwardedValues
	spec := &config.CachePolicySpec{}
	if cb.MinTTL != nil {
		spec.MinTTL = config.Seconds(*cb.MinTTL)
	}
	if cb.DefaultTTL != nil {
		spec.DefaultTTL = config.Seconds(*cb.DefaultTTL)
	}
	if cb.MaxTTL != nil {
		spec.MaxTTL = config.Seconds(*cb.MaxTTL)
	}
	if fv.QueryString {
		spec.QueryStrings = &config.KeyList{Mode: config.KeyListAll}
		if len(fv.QueryStringCacheKeys.Items) > 0 {
			spec.QueryStrings = &config.KeyList{Allow: fv.QueryStringCacheKeys.Items}
		}
	}
	if fv.Cookies != nil {
		var names []string
		if fv.Cookies.WhitelistedNames != nil {
			names = fv.Cookies.WhitelistedNames.Items
		}
		spec.Cookies = keyList(fv.Cookies.Forward, names)
	}
	for _, h := range fv.Headers.Items {
		if h == "*" {
			im.warnf("%s.ForwardedValues.Headers: \"*\" (all headers) makes CloudFront cache nothing for %s; not imported, add an origin_request_policy forwarding all headers and CachingDisabled", path, pattern)
			spec.Headers = nil
			break
		}
		spec.Headers = append(spec.Headers, h)
	}
	if cb.MinTTL != nil && *cb.MinTTL > 0 {
		im.warnf("%s.MinTTL: %d: CloudFront would cache even no-store/private responses for %ds; Strata does not (set override_private_and_no_store: true to match)", path, *cb.MinTTL, *cb.MinTTL)
	}
	im.legacy++
	name := fmt.Sprintf("legacy-%d", im.legacy)
	if path == "DefaultCacheBehavior" {
		name = "legacy-default"
	}
	im.addPolicy("", name, spec)
	if (cb.MaxTTL != nil && *cb.MaxTTL == 0) && (cb.DefaultTTL == nil || *cb.DefaultTTL == 0) {
		im.warnf("%s: caching is off for %s (legacy TTLs all 0)", path, pattern)
	}
	return name
}

func (im *importer) taken(name string) bool {
	_, ok := im.file.CachePolicies[name]
	return ok || config.ManagedCachePolicy(name) != nil
}

func (im *importer) addPolicy(id, name string, spec *config.CachePolicySpec) {
	if im.file.CachePolicies == nil {
		im.file.CachePolicies = map[string]*config.CachePolicySpec{}
	}
	im.file.CachePolicies[name] = spec
	if id != "" {
		im.policies[id] = name
	}
}

func keyList(behavior string, names []string) *config.KeyList {
	switch behavior {
	case "all":
		return &config.KeyList{Mode: config.KeyListAll}
	case "whitelist":
		return &config.KeyList{Allow: slices.Clone(names)}
	case "allExcept":
		return &config.KeyList{Deny: slices.Clone(names)}
	}
	return nil // none
}

var nonName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func policyName(name, id string) string {
	name = strings.Trim(nonName.ReplaceAllString(name, "-"), "-")
	if name == "" {
		name = "cf-" + strings.SplitN(id, "-", 2)[0]
	}
	return name
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ParseOriginMap parses "domain=target,domain=target" (the CLI's
// -origin-map) into an OriginMap.
func ParseOriginMap(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		domain, target, ok := strings.Cut(pair, "=")
		if !ok || domain == "" || target == "" {
			return nil, fmt.Errorf("cloudfront: origin map entry %q: want domain=url or domain=dir", pair)
		}
		m[domain] = target
	}
	return m, nil
}
