// Package manifest owns the unit every other part of aegis shares: the rendered
// Kubernetes Object with its Origin (source file and line), the ordered Set of
// objects with its Digest, object Identity, field paths and their location in
// YAML source, and a YAML/JSON stream decoder with safe limits.
//
// It knows nothing of how objects were rendered (see package render) nor of
// clusters or scanners.
package manifest
