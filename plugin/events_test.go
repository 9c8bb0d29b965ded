package plugin

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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

// The API server counts an Event message's limit in bytes: a long message
// in a script of multi-byte characters is cut within the limit, on a
// character, and says it was cut.
func TestEventMessageIsCutOnACharacter(t *testing.T) {
	cs := fake.NewClientset()
	dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	ev, err := emitEvent(context.Background(), cs, dyn, "apps", "web", "Warning", ReasonError, "xy"+strings.Repeat("日本語", 400), time.Now())
	require.NoError(t, err)
	assert.True(t, utf8.ValidString(ev.Message), "valid UTF-8")
	assert.LessOrEqual(t, len(ev.Message), maxEventMessage)
	assert.Greater(t, len(ev.Message), maxEventMessage-utf8.UTFMax)
	assert.True(t, strings.HasSuffix(ev.Message, "…"))
}
