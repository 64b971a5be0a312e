package admin

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TokenFile is the name of the generated token's file in the data directory.
const TokenFile = "admin-token"

// LoadOrCreateToken returns explicit when it is not empty. Otherwise it reads
// the token kept in dataDir, or generates one, writes it there (mode 0600)
// and reports created, so the caller can print it once.
func LoadOrCreateToken(dataDir, explicit string) (token string, created bool, err error) {
	if explicit != "" {
		return explicit, false, nil
	}
	path := filepath.Join(dataDir, TokenFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if tok := strings.TrimSpace(string(b)); tok != "" {
			return tok, false, nil
		}
		return "", false, fmt.Errorf("admin: token file %s is empty; delete it to generate a new token", path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("admin: reading token: %w", err)
	}
	var raw [24]byte
	rand.Read(raw[:])
	token = base64.RawURLEncoding.EncodeToString(raw[:])
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", false, fmt.Errorf("admin: creating data dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("admin: writing token: %w", err)
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("admin: writing token: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("admin: writing token: %w", err)
	}
	return token, true, nil
}
