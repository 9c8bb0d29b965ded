package plugin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kube-sentient/aegis/secret"
)

// TestEventMasksSecretValues: whatever message the gate gives an Event, a
// registered Secret value in it is masked, and masked before the message
// is cut to the Event's size (a cut must not leave part of a value).
func TestEventMasksSecretValues(t *testing.T) {
	const value = "event-secret-value-5c1d"
	secret.Add(value)
	cs := fake.NewClientset()
	dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	long := strings.Repeat("x", maxEventMessage-10) + value
	for _, msg := range []string{"gate failed: " + value, long} {
		ev, err := emitEvent(context.Background(), cs, dyn, "apps", "web", "Warning", ReasonError, msg, time.Now())
		require.NoError(t, err)
		assert.NotContains(t, ev.Message, value)
		assert.NotContains(t, ev.Message, value[:8], "no part of the value survives the cut")
		assert.LessOrEqual(t, len(ev.Message), maxEventMessage)
	}
}
