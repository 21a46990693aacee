// Package layers holds the test that keeps imports pointing down
// (docs/architecture.md): cmd → server (the composition root) → web,
// integrations/* → inbound → outbound → app (the core). A package may import
// its own layer's packages only where the rules below say so, and nothing
// above it; the core speaks no HTTP outside its route files.
package layers

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/hookline/hookline"

// layerOf ranks a package directory (relative to the module root). Higher
// layers may import lower ones. -1 means the rules do not apply (test
// helpers under internal/, which only tests import).
func layerOf(dir string) int {
	switch top, _, _ := strings.Cut(dir, "/"); top {
	case "app":
		return 0
	case "outbound":
		return 1
	case "inbound":
		return 2
	case "integrations", "web":
		return 3
	case "server":
		return 4
	case "cmd":
		return 5
	}
	return -1
}

// group is the unit within which siblings must not import each other:
// integrations/zapier and integrations/ifttt are separate groups, and so is
// web.
func group(dir string) string {
	parts := strings.Split(dir, "/")
	if parts[0] == "integrations" && len(parts) > 1 {
		return parts[0] + "/" + parts[1]
	}
	return parts[0]
}

// httpFiles may import Fiber inside the core: the route and handler files
// of each package, the idempotency middleware, and the HTTP conventions
// package. Everything else in app/ is transport-neutral.
func httpAllowed(dir, file string) bool {
	if dir == "app/httpapi" {
		return true
	}
	switch filepath.Base(file) {
	case "routes.go", "handlers.go", "middleware.go":
		return true
	}
	return false
}

type importRef struct{ file, dir, target string }

// imports lists the module-internal and Fiber imports of every Go file
// under root, tests excluded (tests may import helpers from anywhere).
func imports(t *testing.T, root string) []importRef {
	t.Helper()
	var out []importRef
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata", ".data", "bin":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if strings.HasPrefix(p, module+"/") || strings.HasPrefix(p, "github.com/gofiber/") {
				out = append(out, importRef{file: rel, dir: filepath.ToSlash(filepath.Dir(rel)), target: p})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// violations applies the rules to a list of imports.
func violations(refs []importRef) []string {
	var bad []string
	for _, r := range refs {
		if strings.HasPrefix(r.target, "github.com/gofiber/") {
			if layerOf(r.dir) == 0 && !httpAllowed(r.dir, r.file) {
				bad = append(bad, r.file+": the core speaks no HTTP outside routes.go/handlers.go/middleware.go and app/httpapi, but imports "+r.target)
			}
			continue
		}
		target := strings.TrimPrefix(r.target, module+"/")
		from, to := layerOf(r.dir), layerOf(target)
		switch {
		case strings.HasPrefix(target, "internal/") && from >= 0:
			bad = append(bad, r.file+": imports the test helper "+target+" (only tests may)")
		case from < 0 || to < 0:
		case to > from:
			bad = append(bad, r.file+": imports "+target+", which is above it")
		case to == from && from == 3 && group(r.dir) != group(target):
			bad = append(bad, r.file+": imports its sibling "+target+" (integrations and web do not import each other)")
		}
	}
	sort.Strings(bad)
	return bad
}

func TestImportsPointDown(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s", root)
	}
	refs := imports(t, root)
	if len(refs) < 50 {
		t.Fatalf("found only %d imports: the walk is broken", len(refs))
	}
	for _, v := range violations(refs) {
		t.Error(v)
	}
}

// The rules themselves, so a change that makes them vacuous fails.
func TestRulesCatchUpwardImports(t *testing.T) {
	cases := []struct {
		ref  importRef
		want bool
	}{
		{importRef{"app/events/log.go", "app/events", module + "/outbound"}, true},
		{importRef{"app/customers/service.go", "app/customers", module + "/inbound"}, true},
		{importRef{"outbound/service.go", "outbound", module + "/inbound"}, true},
		{importRef{"outbound/service.go", "outbound", module + "/integrations/zapier"}, true},
		{importRef{"inbound/service.go", "inbound", module + "/server"}, true},
		{importRef{"integrations/zapier/zapier.go", "integrations/zapier", module + "/integrations/ifttt"}, true},
		{importRef{"web/pages.go", "web", module + "/integrations/ifttt"}, true},
		{importRef{"app/catalog/catalog.go", "app/catalog", "github.com/gofiber/fiber/v2"}, true},
		{importRef{"outbound/service.go", "outbound", module + "/internal/apitest"}, true},
		{importRef{"app/catalog/routes.go", "app/catalog", "github.com/gofiber/fiber/v2"}, false},
		{importRef{"inbound/service.go", "inbound", module + "/outbound"}, false},
		{importRef{"server/server.go", "server", module + "/web"}, false},
		{importRef{"integrations/zapier/zapier.go", "integrations/zapier", module + "/integrations/zapier/app"}, false},
		{importRef{"cmd/hookline/main.go", "cmd/hookline", module + "/server"}, false},
	}
	for _, tc := range cases {
		got := len(violations([]importRef{tc.ref})) > 0
		if got != tc.want {
			t.Errorf("%s importing %s: violation %v, want %v", tc.ref.file, tc.ref.target, got, tc.want)
		}
	}
}
