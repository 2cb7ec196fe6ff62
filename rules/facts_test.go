package rules

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// checkSources are the files that judge what sources observed.
var checkSources = []string{"checks.go", "evaluate.go", "checks_agents.go"}

// factReaders are the inventory.Facts methods that take a key, the
// conversion to one, and the helpers checks once read attrs with.
var factReaders = map[string]bool{"Get": true, "String": true, "Bool": true, "Map": true, "Strings": true, "AttrKey": true,
	"attrString": true, "attrBool": true}

// literalKeyReads lists, in src, every map read by a string literal key
// (attrs["trust"]) and every fact read by one (Facts().Bool("root"),
// inventory.AttrKey("root")). Writes (evidence["x"] = v) are not reads.
func literalKeyReads(name string, src []byte) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, 0)
	if err != nil {
		return nil, err
	}
	written := map[ast.Expr]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if as, ok := n.(*ast.AssignStmt); ok {
			for _, l := range as.Lhs {
				written[l] = true
			}
		}
		return true
	})
	isString := func(e ast.Expr) (string, bool) {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			return lit.Value, true
		}
		return "", false
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.IndexExpr:
			if v, ok := isString(x.Index); ok && !written[x] {
				out = append(out, fmt.Sprintf("%s: map read by the literal key %s", fset.Position(x.Pos()), v))
			}
		case *ast.CallExpr:
			var fn string
			switch f := x.Fun.(type) {
			case *ast.SelectorExpr:
				fn = f.Sel.Name
			case *ast.Ident:
				fn = f.Name
			}
			if !factReaders[fn] {
				return true
			}
			for _, a := range x.Args {
				if v, ok := isString(a); ok {
					out = append(out, fmt.Sprintf("%s: fact read by the literal key %s", fset.Position(x.Pos()), v))
				}
			}
		}
		return true
	})
	return out, nil
}

// A fact a check reads is named once, in package inventory, and sources
// write it by that name: no check spells a key itself, so a source
// renaming one cannot quietly stop a control from seeing it.
func TestChecksReadNoKeyByLiteral(t *testing.T) {
	for _, name := range checkSources {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		bad, err := literalKeyReads(name, src)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bad {
			t.Errorf("%s: use the inventory's constant (inventory/facts.go)", b)
		}
	}
}

// The scan above finds what it is for.
func TestLiteralKeyReadsFindsThem(t *testing.T) {
	src := `package rules
func f(s *subject, e map[string]any) {
	trust, _ := s.id.Identity.Attrs["trust"].(map[string]any)
	_ = s.id.Identity.Facts().Bool("root")
	_ = s.id.Identity.Facts().Map(inventory.AttrKey("auth_signals"))
	_ = attrBool(s.id.Identity.Attrs, "service_linked")
	_ = s.id.Identity.Facts().Bool(inventory.AttrServiceLinked)
	e["evidence"] = trust
	_ = e[k]
}`
	bad, err := literalKeyReads("x.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`"trust"`, `"root"`, `"auth_signals"`, `"service_linked"`}
	if len(bad) != len(want) {
		t.Fatalf("found %d literal reads, want %d: %q", len(bad), len(want), bad)
	}
	for i, w := range want {
		if !strings.Contains(bad[i], w) {
			t.Errorf("finding %d is %q, want one for %s", i, bad[i], w)
		}
	}
}
