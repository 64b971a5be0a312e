package strata_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every package states its contract in a doc.go (or, for a command, in
// main.go's package comment).
func TestEveryPackageHasDoc(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || path == "." {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") || d.Name() == "bin" || d.Name() == "testdata" || d.Name() == "docs" || d.Name() == "static" {
			return filepath.SkipDir
		}
		pkgs, err := parser.ParseDir(token.NewFileSet(), path, func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			return err
		}
		for name, pkg := range pkgs {
			doc := ""
			for fname, f := range pkg.Files {
				if f.Doc != nil && (filepath.Base(fname) == "doc.go" || name == "main") {
					doc = f.Doc.Text()
				}
			}
			if !strings.HasPrefix(doc, "Package "+name) && !strings.HasPrefix(doc, "Command ") {
				t.Errorf("%s: package %s has no doc.go starting %q", path, name, "Package "+name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("go.mod"); err != nil {
		t.Fatal("run from the module root")
	}
}
