package cloudfront

// The subset of CloudFront's DistributionConfig that Import reads or warns
// about, as the AWS CLI prints it.

type nameList struct {
	Quantity int
	Items    []string
}

type distributionConfig struct {
	Comment           string
	Aliases           nameList
	DefaultRootObject string
	Origins           struct {
		Quantity int
		Items    []*origin
	}
	OriginGroups struct {
		Quantity int
		Items    []*originGroup
	}
	DefaultCacheBehavior *cacheBehavior
	CacheBehaviors       struct {
		Quantity int
		Items    []*cacheBehavior
	}
	CustomErrorResponses struct{ Quantity int }
	Logging              *struct{ Enabled bool }
	PriceClass           string
	Enabled              *bool
	ViewerCertificate    *struct {
		CloudFrontDefaultCertificate bool
		ACMCertificateArn            string
		IAMCertificateID             string `json:"IAMCertificateId"`
	}
	Restrictions *struct {
		GeoRestriction struct {
			RestrictionType string
			Quantity        int
		}
	}
	WebACLID                     string `json:"WebACLId"`
	ContinuousDeploymentPolicyID string `json:"ContinuousDeploymentPolicyId"`
	Staging                      bool
}

type origin struct {
	ID            string `json:"Id"`
	DomainName    string
	OriginPath    string
	CustomHeaders struct {
		Quantity int
		Items    []struct{ HeaderName, HeaderValue string }
	}
	S3OriginConfig     *struct{ OriginAccessIdentity string }
	CustomOriginConfig *struct {
		HTTPPort             int
		HTTPSPort            int
		OriginProtocolPolicy string
		OriginReadTimeout    int64
	}
	ConnectionTimeout     int64
	OriginShield          *struct{ Enabled bool }
	OriginAccessControlID string `json:"OriginAccessControlId"`
}

type originGroup struct {
	ID               string `json:"Id"`
	FailoverCriteria struct {
		StatusCodes struct {
			Quantity int
			Items    []int
		}
	}
	Members struct {
		Quantity int
		Items    []struct {
			OriginID string `json:"OriginId"`
		}
	}
	SelectionCriteria string
}

type cacheBehavior struct {
	PathPattern          string
	TargetOriginID       string `json:"TargetOriginId"`
	ViewerProtocolPolicy string
	AllowedMethods       *struct {
		Quantity      int
		Items         []string
		CachedMethods *nameList
	}
	Compress         bool
	SmoothStreaming  bool
	TrustedSigners   *struct{ Enabled bool }
	TrustedKeyGroups *struct {
		Enabled  bool
		Quantity int
		Items    []string
	}
	LambdaFunctionAssociations struct{ Quantity int }
	FunctionAssociations       struct{ Quantity int }
	FieldLevelEncryptionID     string `json:"FieldLevelEncryptionId"`
	RealtimeLogConfigArn       string
	CachePolicyID              string `json:"CachePolicyId"`
	OriginRequestPolicyID      string `json:"OriginRequestPolicyId"`
	ResponseHeadersPolicyID    string `json:"ResponseHeadersPolicyId"`
	ForwardedValues            *struct {
		QueryString bool
		Cookies     *struct {
			Forward          string
			WhitelistedNames *nameList
		}
		Headers              nameList
		QueryStringCacheKeys nameList
	}
	MinTTL, DefaultTTL, MaxTTL *int64
}

type cachePolicyConfig struct {
	Name               string
	MinTTL, DefaultTTL int64
	MaxTTL             int64
	Parameters         *cacheKeyParameters `json:"ParametersInCacheKeyAndForwardedToOrigin"`
}

type cacheKeyParameters struct {
	EnableAcceptEncodingGzip   bool
	EnableAcceptEncodingBrotli bool
	HeadersConfig              struct {
		HeaderBehavior string
		Headers        nameList
	}
	CookiesConfig struct {
		CookieBehavior string
		Cookies        nameList
	}
	QueryStringsConfig struct {
		QueryStringBehavior string
		QueryStrings        nameList
	}
}
