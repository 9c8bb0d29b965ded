package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/kube-sentient/aegis/report"
)

// VerdictRecord is one recorded gate verdict.
type VerdictRecord struct {
	App    string `json:"app"`
	Digest string `json:"digest"`
	// PolicyDigest is the PolicyKey the verdict was decided under.
	PolicyDigest string         `json:"policyDigest,omitempty"`
	Verdict      report.Verdict `json:"verdict"`
	RecordedAt   time.Time      `json:"recordedAt"`
	ExpiresAt    time.Time      `json:"expiresAt"`
	Revision     string         `json:"revision,omitempty"`
	RunID        string         `json:"runID,omitempty"`
	// Reason is the verdict's first reason, one line.
	Reason string `json:"reason,omitempty"`
}

// maxVerdicts bounds the records one ConfigMap keeps (the newest win), far
// below its 1 MiB.
const maxVerdicts = 1000

// VerdictStore keeps verdicts in one ConfigMap (VerdictsConfigMap in the
// gate namespace), one data key per app and digest. plugin/install creates
// the ConfigMap so that the gate needs no right to create ConfigMaps there.
type VerdictStore struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
}

// VerdictKey is the data key of an app's verdict for a digest: a hash, so
// that any app name and digest make a valid ConfigMap key. The record
// itself names both; Lookup checks them.
func VerdictKey(app, digest string) string {
	sum := sha256.Sum256([]byte(app + "\x00" + digest))
	return verdictKeyPrefix + hex.EncodeToString(sum[:])
}

const verdictKeyPrefix = "v1-"

// Lookup returns the passing, unexpired verdict recorded for app, digest and
// policy, or nil. A missing ConfigMap is no verdict; a record that names
// another app, digest or policy (a forgery or a collision) is ignored.
func (s *VerdictStore) Lookup(ctx context.Context, app, digest, policyDigest string, now time.Time) (*VerdictRecord, error) {
	cm, err := s.Client.CoreV1().ConfigMaps(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the verdicts %s/%s: %w", s.Namespace, s.Name, err)
	}
	raw, ok := cm.Data[VerdictKey(app, digest)]
	if !ok {
		return nil, nil
	}
	var r VerdictRecord
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return nil, nil
	}
	if r.App != app || r.Digest != digest || r.PolicyDigest != policyDigest || r.Verdict != report.Pass || !now.Before(r.ExpiresAt) {
		return nil, nil
	}
	return &r, nil
}

// Record writes r, replacing the app's earlier record for the digest and
// dropping expired records (and the oldest beyond maxVerdicts). It retries
// on conflicts: gates of several apps share the ConfigMap. It creates the
// ConfigMap when it does not exist.
func (s *VerdictStore) Record(ctx context.Context, r VerdictRecord) error {
	val, err := json.Marshal(r)
	if err != nil {
		return err
	}
	key := VerdictKey(r.App, r.Digest)
	err = retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cms := s.Client.CoreV1().ConfigMaps(s.Namespace)
		cm, err := cms.Get(ctx, s.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace,
				Labels: map[string]string{LabelName: "aegis", LabelComponent: "verdicts"}}}
			cm.Data = map[string]string{key: string(val)}
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: "aegis"})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(corev1.Resource("configmaps"), s.Name, err)
			}
			return err
		}
		if err != nil {
			return err
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[key] = string(val)
		prune(cm.Data, r.RecordedAt)
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "aegis"})
		return err
	})
	if err != nil {
		return fmt.Errorf("recording the verdict in %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

// prune drops expired and unreadable records, then the oldest beyond
// maxVerdicts.
func prune(data map[string]string, now time.Time) {
	type rec struct {
		key string
		at  time.Time
	}
	var keep []rec
	for k, v := range data {
		if !strings.HasPrefix(k, verdictKeyPrefix) {
			continue // not a verdict: leave it alone
		}
		var r VerdictRecord
		if json.Unmarshal([]byte(v), &r) != nil || !now.Before(r.ExpiresAt) {
			delete(data, k)
			continue
		}
		keep = append(keep, rec{k, r.RecordedAt})
	}
	if len(keep) <= maxVerdicts {
		return
	}
	sort.Slice(keep, func(i, j int) bool { return keep[i].at.After(keep[j].at) })
	for _, r := range keep[maxVerdicts:] {
		delete(data, r.key)
	}
}
