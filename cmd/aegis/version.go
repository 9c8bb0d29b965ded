package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kube-sentient/aegis/scanners/dast/wapiti"
	"github.com/kube-sentient/aegis/scanners/trivy"
)

// versionInfo is what `aegis version` reports: aegis's own build and the
// external tools a verification would run, as found from here.
type versionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
	// Tools: each external scanner's version, or why it is not available.
	Tools []toolVersion `json:"tools"`
}

type toolVersion struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Error   string `json:"error,omitempty"`
}

func buildVersion() versionInfo {
	v := versionInfo{Version: version, Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	return v
}

// toolVersions asks each external scanner for its version, each bounded.
func toolVersions(ctx context.Context) []toolVersion {
	ask := func(name string, f func(context.Context) (string, error)) toolVersion {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		tv := toolVersion{Name: name}
		if v, err := f(ctx); err != nil {
			tv.Error = err.Error()
		} else {
			tv.Version = v
		}
		return tv
	}
	return []toolVersion{
		ask("trivy", trivy.New(trivy.Options{}).Version),
		ask("trivy vulnerability DB", trivyDB),
		ask("wapiti", wapiti.New(wapiti.Options{}).Version),
	}
}

// trivyDB is the build time of the vulnerability database Trivy would use
// for images.
func trivyDB(ctx context.Context) (string, error) {
	v, err := trivy.NewImage(trivy.ImageOptions{}).Version(ctx)
	if err != nil {
		return "", err
	}
	_, db, ok := strings.Cut(v, "(vulnerability DB ")
	if !ok {
		return "", errors.New("none in Trivy's cache (trivy-image needs one: see docs/scanners.md)")
	}
	return strings.TrimSuffix(db, ")"), nil
}

func newVersionCommand(stdout io.Writer) *cobra.Command {
	var output string
	var tools bool
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the aegis version (and, with --tools or -o json, the scanners it finds)",
		Example: `  aegis version
  aegis version -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			v := buildVersion()
			switch output {
			case "json":
				v.Tools = toolVersions(c.Context())
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			case "text":
				commit := ""
				if v.Commit != "" {
					commit = " commit " + v.Commit
					if v.Modified {
						commit += " (modified)"
					}
				}
				if _, err := fmt.Fprintf(stdout, "aegis %s%s %s %s\n", v.Version, commit, v.GoVersion, v.Platform); err != nil {
					return err
				}
				if tools {
					for _, t := range toolVersions(c.Context()) {
						if t.Error != "" {
							fmt.Fprintf(stdout, "  %-24s not available: %s\n", t.Name, t.Error)
						} else {
							fmt.Fprintf(stdout, "  %-24s %s\n", t.Name, t.Version)
						}
					}
				}
				return nil
			default:
				return &usageError{err: fmt.Errorf("-o %q: want text or json", output)}
			}
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text|json (json includes the scanners)")
	c.Flags().BoolVar(&tools, "tools", false, "also print the version of each external scanner found")
	return c
}
