// Package apps owns the discovery of the apps of a repository: the Argo CD
// Applications and the Applications that ApplicationSets generate, read
// from the repository's own manifests as Argo CD reads them (decoded
// locally from their documented schema, not with Argo CD's module), and
// each app's sources (path, Helm, kustomize and directory options).
//
// An app whose source is another repository, and an ApplicationSet
// generator aegis cannot evaluate from the repository alone (cluster, SCM
// provider, pull request, plugin), is listed as not verifiable, with why.
package apps
