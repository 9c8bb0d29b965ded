package plugin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-sentient/aegis/internal/text"
	"github.com/kube-sentient/aegis/secret"
)

// ApplicationGVR is Argo CD's Application, read as unstructured.
var ApplicationGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

// Event reasons the gate emits on the Application.
const (
	ReasonPassed = "AegisGatePassed"
	ReasonFailed = "AegisGateFailed"
	ReasonError  = "AegisGateError"
	// EventComponent is the events' source and reporting controller.
	EventComponent = "aegis-gate"
)

// maxEventMessage bounds an Event's message (the API server's limit is
// 1 KiB for events.k8s.io; core Events are kept as short).
const maxEventMessage = 1024

// emitEvent records an Event on the Application namespace/name. The
// Application is read (as unstructured) for its uid, so that `kubectl
// describe` and Argo CD's UI list the Event under it; an Application that
// cannot be read still gets the Event, by name.
func emitEvent(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface, namespace, name, eventType, reason, message string, now time.Time) (*corev1.Event, error) {
	ref := corev1.ObjectReference{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Namespace: namespace, Name: name}
	if app, err := dyn.Resource(ApplicationGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
		ref.UID = app.GetUID()
		ref.ResourceVersion = app.GetResourceVersion()
	} else if !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
		return nil, fmt.Errorf("reading Application %s/%s: %w", namespace, name, err)
	}
	// Masked before it is cut: a cut could leave part of a value.
	message = secret.Redact(message)
	message = text.TruncateBytes(message, maxEventMessage) // the API server counts bytes
	suffix := make([]byte, 8)
	_, _ = rand.Read(suffix)
	t := metav1.NewTime(now)
	ev := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%s", label(name, 200), hex.EncodeToString(suffix)), Namespace: namespace},
		InvolvedObject:      ref,
		Reason:              reason,
		Message:             message,
		Type:                eventType,
		Source:              corev1.EventSource{Component: EventComponent},
		FirstTimestamp:      t,
		LastTimestamp:       t,
		Count:               1,
		ReportingController: "aegis.dev/" + EventComponent,
		ReportingInstance:   EventComponent,
	}
	created, err := client.CoreV1().Events(namespace).Create(ctx, ev, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("emitting the Event on Application %s/%s: %w", namespace, name, err)
	}
	return created, nil
}
