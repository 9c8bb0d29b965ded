package render

// Where findings point, measured on the real-world corpus. Every case of
// testdata/locations.yaml renders a corpus chart (with a values file written
// as the pull request's change) or a corpus kustomization, and asks the
// rendered object's Locator for a field a scanner reports on. The expected
// file:line of each case was read from the corpus file it names.
//
// A field is asked for twice: as written, and cut to the deepest part the
// rendered object holds. The second is what a finding about a missing field
// gets in production, where rendering runs in a child process and the
// parent answers from a table of the fields the object holds
// (render/isolate/locator.go); both must give the same answer.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yaml "go.yaml.in/yaml/v3"

	"github.com/kube-sentient/aegis/internal/realworld"
	"github.com/kube-sentient/aegis/manifest"
)

// locCase is one row of testdata/locations.yaml.
type locCase struct {
	// App is the corpus path of the chart or kustomization.
	App string `yaml:"app"`
	// Change is a values file the pull request adds (Helm only), written
	// as change.yaml in the chart directory and given to the render.
	Change string `yaml:"change"`
	// Object is Kind/name of the rendered object.
	Object string `yaml:"object"`
	// Field is the path a scanner reports.
	Field string `yaml:"field"`
	// Want is the expected file:line, relative to the render root (the
	// temporary directory holding the chart, or the corpus's kustomize/).
	Want string `yaml:"want"`
	// Origin is proven (a values key, a patch, a resource) or approximate
	// (a template line).
	Origin string `yaml:"origin"`
	// Why cites the corpus lines the expectation was read from.
	Why string `yaml:"why"`
	// Before is what the locator answered before issue 16 item 4, when it
	// differed ("same" when it did not); informational.
	Before string `yaml:"before"`
}

func loadLocCases(t *testing.T) []locCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "locations.yaml"))
	require.NoError(t, err)
	var cases []locCase
	require.NoError(t, yaml.Unmarshal(data, &cases))
	require.NotEmpty(t, cases)
	return cases
}

// locRoots prepares the render roots: a temporary copy of each chart (the
// change is written beside its values.yaml; nothing is written into the
// corpus), nginx with common vendored as `helm dependency build` would.
type locRoots struct {
	t      *testing.T
	rw     string
	charts map[string]string // chart name -> temporary root
}

func (r *locRoots) chart(name string) string {
	if root, ok := r.charts[name]; ok {
		return root
	}
	root := r.t.TempDir()
	rwCopyTree(r.t, filepath.Join(r.rw, "charts", name), filepath.Join(root, name))
	if name == "nginx" {
		rwCopyTree(r.t, filepath.Join(r.rw, "charts", "common"), filepath.Join(root, name, "charts", "common"))
	}
	r.charts[name] = root
	return root
}

func (r *locRoots) render(t *testing.T, tc locCase) *Result {
	t.Helper()
	switch {
	case strings.HasPrefix(tc.App, "charts/"):
		name := strings.TrimPrefix(tc.App, "charts/")
		root := r.chart(name)
		opts := Options{KubeVersion: rwKubeVersion}
		change := filepath.Join(root, name, "change.yaml")
		_ = os.Remove(change)
		if tc.Change != "" {
			require.NoError(t, os.WriteFile(change, []byte(tc.Change), 0o644))
			opts.ValuesFiles = []string{"change.yaml"}
		}
		return rwRender(t, root, name, opts)
	case strings.HasPrefix(tc.App, "kustomize/"):
		require.Empty(t, tc.Change, "a kustomize case's change is the example's own patch")
		return rwRender(t, filepath.Join(r.rw, "kustomize"), strings.TrimPrefix(tc.App, "kustomize/"), Options{})
	}
	require.Failf(t, "unknown app", "%s", tc.App)
	return nil
}

// held cuts a path to the deepest part the object holds.
func held(obj map[string]any, p manifest.FieldPath) manifest.FieldPath {
	var cur any = obj
	for i, seg := range p {
		next, ok := heldChild(cur, seg)
		if !ok {
			return p[:i]
		}
		cur = next
	}
	return p
}

func locString(l manifest.Location) string {
	s := l.Path + ":" + strconv.Itoa(l.Line)
	if l.Approximate {
		s += " (approximate)"
	}
	return s
}

// TestLocations checks every case of testdata/locations.yaml. With
// AEGIS_LOCATIONS_PRINT=1 it prints what the locator answers, to fill the
// table's before column.
func TestLocations(t *testing.T) {
	rw := realworld.Dir(t)
	cases := loadLocCases(t)
	roots := &locRoots{t: t, rw: rw, charts: map[string]string{}}
	printOnly := os.Getenv("AEGIS_LOCATIONS_PRINT") == "1"
	proven, approx := 0, 0
	for i, tc := range cases {
		name := fmt.Sprintf("%02d %s %s", i+1, strings.TrimPrefix(tc.App, "charts/"), tc.Field)
		t.Run(name, func(t *testing.T) {
			res := r(roots, t, tc)
			kind, objName, _ := strings.Cut(tc.Object, "/")
			var obj *manifest.Object
			for i := range res.Set.Objects {
				o := &res.Set.Objects[i]
				if o.GetKind() == kind && o.GetName() == objName {
					obj = o
				}
			}
			require.NotNil(t, obj, "%s not in %v", tc.Object, rwIDs(res.Set))
			path := manifest.ParsePath(tc.Field)
			got := obj.Locate(path)
			cut := held(obj.Object, path)
			gotCut := obj.Locate(cut)
			if printOnly {
				fmt.Printf("CASE %02d %-40s %-70s -> %s | held %s -> %s\n", i+1, tc.App, tc.Field, locString(got), cut, locString(gotCut))
				return
			}
			require.Contains(t, []string{"proven", "approximate"}, tc.Origin)
			if tc.Origin == "proven" {
				proven++
			} else {
				approx++
			}
			want := wantLocation(t, tc)
			assert.Equal(t, locString(want), locString(got), "%s: %s", tc.Field, tc.Why)
			assert.Equal(t, locString(want), locString(gotCut), "%s cut to %s (as the isolated renderer answers): %s", tc.Field, cut, tc.Why)
		})
	}
	t.Logf("%d cases: %d proven, %d approximate", len(cases), proven, approx)
}

// r renders a case (a helper so that the table loop stays short).
func r(roots *locRoots, t *testing.T, tc locCase) *Result { return roots.render(t, tc) }

func wantLocation(t *testing.T, tc locCase) manifest.Location {
	t.Helper()
	i := strings.LastIndexByte(tc.Want, ':')
	require.Positive(t, i, "want %q is not file:line", tc.Want)
	line, err := strconv.Atoi(tc.Want[i+1:])
	require.NoError(t, err)
	return manifest.Location{Path: tc.Want[:i], Line: line, Approximate: tc.Origin == "approximate"}
}

// heldChild steps into a JSON-like value: a map key, or a list item by
// "[key=value]" or "[index]".
func heldChild(v any, seg string) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		c, ok := x[seg]
		return c, ok
	case []any:
		if !strings.HasPrefix(seg, "[") || !strings.HasSuffix(seg, "]") {
			return nil, false
		}
		sel := seg[1 : len(seg)-1]
		if k, want, ok := strings.Cut(sel, "="); ok {
			for _, it := range x {
				if m, ok := it.(map[string]any); ok && fmt.Sprint(m[k]) == want {
					return it, true
				}
			}
			return nil, false
		}
		if i, err := strconv.Atoi(sel); err == nil && i >= 0 && i < len(x) {
			return x[i], true
		}
	}
	return nil, false
}
