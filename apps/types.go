package apps

import (
	"github.com/kube-sentient/aegis/manifest"
	"github.com/kube-sentient/aegis/render"
)

// App is one Argo CD Application of the repository, declared or generated.
type App struct {
	// Name is the Application's metadata.name: unique within a repository.
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Project   string `json:"project,omitempty"`
	// Sources are spec.sources, or spec.source as one.
	Sources []Source `json:"sources"`
	// Destination is spec.destination: its namespace is Helm's release
	// namespace.
	Destination Destination `json:"destination,omitzero"`
	// Origin is where it is declared: the Application, or the
	// ApplicationSet that generated it.
	Origin manifest.Location `json:"origin"`
	// Generator, for a generated app, describes the generator and its
	// parameters (e.g. "git directory apps/web").
	Generator string `json:"generator,omitempty"`
	// GeneratorFiles are the files a git files generator read to make the
	// app (its parameters come from them).
	GeneratorFiles []string `json:"generatorFiles,omitempty"`
	// Unverifiable says why aegis cannot verify the app from this
	// repository (a source in another repository); "" when it can.
	Unverifiable string `json:"unverifiable,omitempty"`
}

// Source is one source of an Application (Argo CD's ApplicationSource).
type Source struct {
	RepoURL        string     `json:"repoURL"`
	Path           string     `json:"path,omitempty"`
	TargetRevision string     `json:"targetRevision,omitempty"`
	Chart          string     `json:"chart,omitempty"`
	Ref            string     `json:"ref,omitempty"`
	Helm           *Helm      `json:"helm,omitempty"`
	Kustomize      *Kustomize `json:"kustomize,omitempty"`
	Directory      *Directory `json:"directory,omitempty"`
	Plugin         *Plugin    `json:"plugin,omitempty"`
}

// Helm is a source's Helm options.
type Helm struct {
	ValueFiles              []string        `json:"valueFiles,omitempty"`
	Values                  string          `json:"values,omitempty"`
	ValuesObject            map[string]any  `json:"valuesObject,omitempty"`
	Parameters              []HelmParameter `json:"parameters,omitempty"`
	FileParams              []HelmFileParam `json:"fileParameters,omitempty"`
	ReleaseName             string          `json:"releaseName,omitempty"`
	Namespace               string          `json:"namespace,omitempty"`
	KubeVersion             string          `json:"kubeVersion,omitempty"`
	IgnoreMissingValueFiles bool            `json:"ignoreMissingValueFiles,omitempty"`
}

// HelmParameter is a --set (or --set-string) parameter.
type HelmParameter struct {
	Name        string `json:"name"`
	Value       string `json:"value"`
	ForceString bool   `json:"forceString,omitempty"`
}

// HelmFileParam is a --set-file parameter.
type HelmFileParam struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

// Kustomize is a source's kustomize options.
type Kustomize struct {
	NamePrefix   string            `json:"namePrefix,omitempty"`
	NameSuffix   string            `json:"nameSuffix,omitempty"`
	Images       []string          `json:"images,omitempty"`
	CommonLabels map[string]string `json:"commonLabels,omitempty"`
	Namespace    string            `json:"namespace,omitempty"`
	Components   []string          `json:"components,omitempty"`
}

// Directory is a source's plain-directory options. Its Jsonnet settings
// have the schema of render's (tlas, extVars, libs).
type Directory struct {
	Recurse bool                  `json:"recurse,omitempty"`
	Include string                `json:"include,omitempty"`
	Exclude string                `json:"exclude,omitempty"`
	Jsonnet *render.JsonnetConfig `json:"jsonnet,omitempty"`
}

// Plugin is a config-management-plugin source (not rendered by aegis
// unless it is aegis's own plugin).
type Plugin struct {
	Name string `json:"name,omitempty"`
}

// Destination is where Argo CD deploys an app.
type Destination struct {
	Server    string `json:"server,omitempty"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}
