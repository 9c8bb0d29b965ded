package plugin

import (
	"os"
	"testing"

	"github.com/kube-sentient/aegis/render/isolate"
)

// TestMain lets this test binary serve as the render child that Generate
// starts (it re-executes itself with isolate.ChildCommand).
func TestMain(m *testing.M) {
	if code, ok := isolate.RunIfChild(os.Args); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
