package strata_test

import (
	"errors"
	"go/build"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every package states its contract in a doc.go (a command, in main.go's
// package comment).
func TestEveryPackageHasDoc(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || path == "." {
			return err
		}
		switch name := d.Name(); {
		case strings.HasPrefix(name, "."), name == "testdata", name == "docs", name == "bin", name == "static":
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, build.ImportComment)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil
		}
		if err != nil {
			return err
		}
		if pkg.Name == "main" {
			if !strings.HasPrefix(pkg.Doc, "Command ") {
				t.Errorf("%s: command has no package comment starting \"Command \"", path)
			}
			return nil
		}
		if !slices.Contains(pkg.GoFiles, "doc.go") || !strings.HasPrefix(pkg.Doc, "Package "+pkg.Name) {
			t.Errorf("%s: package %s has no doc.go starting %q", path, pkg.Name, "Package "+pkg.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
