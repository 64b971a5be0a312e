package keyid

// Valid reports whether id is 1 to max bytes of A-Z a-z 0-9 . _ -: the
// alphabet of CloudFront's key pair and public key IDs.
func Valid(id string, max int) bool {
	if id == "" || len(id) > max {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
