// Package cloudfront turns a CloudFront distribution configuration (the JSON
// that `aws cloudfront get-distribution-config` prints, wrapped in
// {"ETag", "DistributionConfig"} or bare) into a Strata distribution file
// (*config.File), so a CloudFront user can start from what they run.
//
// Import is a pure function: it reads no files and makes no AWS calls. What
// a distribution configuration only references by ID (custom cache policies,
// public keys) comes from ImportOptions or is left for the user, with a
// warning. Every field Strata cannot honour produces one warning line naming
// its JSON path; nothing is dropped silently. The File returned marshals (with
// config.Marshal) to YAML that config.Parse accepts, given that the files it
// names (public keys of key groups) exist.
package cloudfront
