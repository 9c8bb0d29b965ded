// Command trivydb builds a Trivy vulnerability database from advisory
// records in the formats Trivy's own DB pipeline reads, with that pipeline:
// github.com/aquasecurity/trivy-db at the version Trivy v0.74.0 pins. The
// result is a cache directory the real `trivy image --skip-db-update
// --cache-dir DIR` accepts:
//
//	DIR/db/trivy.db        bbolt, schema version 2
//	DIR/db/metadata.json   Version 2, UpdatedAt, NextUpdate, DownloadedAt
//
// aegis's tests and hack/imagebench use it where the real database cannot
// be downloaded (no network but the Go module proxy). It lives in a module
// of its own so that trivy-db and bbolt stay out of aegis's go.mod.
//
//	go run . -vuln-list testdata-root -cache-dir out -updated-at 2026-11-01T00:00:00Z
//
// -vuln-list is a directory laid out as trivy-db's builder expects it:
// vuln-list/alpine/<package>.json (Alpine secdb, one file per package and
// release) and vuln-list-nvd/api/<year>/<CVE>.json (NVD API 2.0 records).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	"github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy-db/pkg/vulndb"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc/alpine"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc/nvd"
	clocktesting "k8s.io/utils/clock/testing"
)

func main() {
	vulnList := flag.String("vuln-list", "", "directory holding vuln-list/ and vuln-list-nvd/ (required)")
	cacheDir := flag.String("cache-dir", "", "Trivy cache directory to write db/ into (required)")
	updated := flag.String("updated-at", "2026-11-01T00:00:00Z", "the database's UpdatedAt (RFC 3339): what `trivy version` reports")
	interval := flag.Duration("next-update", 24*time.Hour, "NextUpdate is UpdatedAt plus this")
	flag.Parse()
	if err := run(*vulnList, *cacheDir, *updated, *interval); err != nil {
		fmt.Fprintln(os.Stderr, "trivydb:", err)
		os.Exit(1)
	}
}

func run(vulnList, cacheDir, updated string, interval time.Duration) error {
	if vulnList == "" || cacheDir == "" {
		return errors.New("-vuln-list and -cache-dir are required")
	}
	at, err := time.Parse(time.RFC3339, updated)
	if err != nil {
		return fmt.Errorf("-updated-at: %w", err)
	}
	at = at.UTC()
	dbDir := filepath.Join(cacheDir, "db")
	// A fresh database: Build adds to what is there.
	if err := os.RemoveAll(dbDir); err != nil {
		return err
	}
	if err := db.Init(dbDir); err != nil {
		return err
	}
	srcs := map[types.SourceID]vulnsrc.VulnSrc{}
	for _, s := range []vulnsrc.VulnSrc{alpine.NewVulnSrc(), nvd.NewVulnSrc()} {
		srcs[s.Name()] = s
	}
	b := vulndb.New(vulnList, dbDir, interval, vulndb.WithClock(clocktesting.NewFakeClock(at)), vulndb.WithVulnSrcs(srcs))
	buildErr := b.Build([]string{"alpine", "nvd"})
	if err := db.Close(); err != nil && buildErr == nil {
		buildErr = err
	}
	if buildErr != nil {
		return buildErr
	}
	// `trivy image --download-db-only` stamps DownloadedAt after a
	// download; without it Trivy would want to re-download the database
	// whenever --skip-db-update is not given.
	mc := metadata.NewClient(dbDir)
	md, err := mc.Get()
	if err != nil {
		return err
	}
	if md.Version != db.SchemaVersion {
		return fmt.Errorf("built schema version %d, expected %d", md.Version, db.SchemaVersion)
	}
	md.DownloadedAt = at
	if err := mc.Update(md); err != nil {
		return err
	}
	fmt.Printf("%s (schema %d, updated %s)\n", db.Path(dbDir), md.Version, md.UpdatedAt.Format(time.RFC3339))
	return nil
}
