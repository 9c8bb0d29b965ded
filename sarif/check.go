package sarif

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Validate checks a SARIF log against the JSON schema at schemaPath (the
// official SARIF 2.1.0 schema, draft-04, with format assertions on), then
// against GitHub's ingestion rules (CheckGitHub).
func Validate(data []byte, schemaPath string) error {
	if _, err := os.Stat(schemaPath); err != nil {
		return fmt.Errorf("sarif: schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.AssertFormat()
	sch, err := c.Compile(schemaPath)
	if err != nil {
		return fmt.Errorf("sarif: compile schema %s: %w", schemaPath, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("sarif: parse log: %w", err)
	}
	if err := sch.Validate(doc); err != nil {
		return fmt.Errorf("sarif: schema validation: %w", err)
	}
	return CheckGitHub(data)
}

// The parts of a log that GitHub's ingestion looks at.
type ghLog struct {
	Schema  *string  `json:"$schema"`
	Version string   `json:"version"`
	Runs    *[]ghRun `json:"runs"`
}

type ghRun struct {
	Tool *struct {
		Driver *struct {
			Name  string    `json:"name"`
			Rules *[]ghRule `json:"rules"`
		} `json:"driver"`
	} `json:"tool"`
	AutomationDetails *struct {
		ID string `json:"id"`
	} `json:"automationDetails"`
	Results *[]ghResult `json:"results"`
}

type ghText struct {
	Text string `json:"text"`
}

type ghRule struct {
	ID               string         `json:"id"`
	ShortDescription *ghText        `json:"shortDescription"`
	FullDescription  *ghText        `json:"fullDescription"`
	Help             *ghText        `json:"help"`
	Properties       map[string]any `json:"properties"`
}

type ghResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           *int              `json:"ruleIndex"`
	Message             *ghText           `json:"message"`
	BaselineState       *string           `json:"baselineState"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Locations           []struct {
		PhysicalLocation *struct {
			ArtifactLocation *struct {
				URI string `json:"uri"`
			} `json:"artifactLocation"`
			Region *struct {
				StartLine *int `json:"startLine"`
			} `json:"region"`
		} `json:"physicalLocation"`
	} `json:"locations"`
}

// maxProblems bounds the problems CheckGitHub lists.
const maxProblems = 50

// CheckGitHub checks a SARIF log against what GitHub code scanning needs to
// ingest it (GitHub's "SARIF support for code scanning"): required non-empty fields, the limits on runs,
// results, rules, tags, locations and gzip size, distinct categories,
// security-severity as a numeric string in (0, 10], baselineState values
// and their all-or-none presence per run, and a primaryLocationLineHash on
// every result. It returns every problem found (at most 50), joined.
func CheckGitHub(data []byte) error {
	var errs []error
	add := func(format string, args ...any) {
		if len(errs) < maxProblems {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	var log ghLog
	if err := json.Unmarshal(data, &log); err != nil {
		return fmt.Errorf("sarif: parse log: %w", err)
	}
	if log.Schema == nil || *log.Schema == "" {
		add("$schema is missing or empty")
	}
	if log.Version != Version {
		add("version is %q, want %q", log.Version, Version)
	}
	if log.Runs == nil {
		add("runs is missing")
		return errors.Join(errs...)
	}
	if n, err := gzipSize(data); err != nil {
		return err
	} else if n > MaxGzipBytes {
		add("gzip size %d bytes is above %d", n, MaxGzipBytes)
	}
	runs := *log.Runs
	if len(runs) > MaxRuns {
		add("%d runs, above %d", len(runs), MaxRuns)
	}
	categories := map[string]int{}
	for i, run := range runs {
		where := fmt.Sprintf("runs[%d]", i)
		var rules []ghRule
		switch {
		case run.Tool == nil || run.Tool.Driver == nil:
			add("%s: tool.driver is missing", where)
		case run.Tool.Driver.Name == "":
			add("%s: tool.driver.name is empty", where)
			fallthrough
		default:
			if run.Tool.Driver.Rules == nil {
				add("%s: tool.driver.rules is missing", where)
			} else {
				rules = *run.Tool.Driver.Rules
			}
		}
		category := ""
		if run.AutomationDetails != nil {
			category = run.AutomationDetails.ID
		}
		driver := ""
		if run.Tool != nil && run.Tool.Driver != nil {
			driver = run.Tool.Driver.Name
		}
		key := driver + "\x00" + category
		if j, ok := categories[key]; ok {
			add("%s: tool %q and category %q repeat runs[%d]", where, driver, category, j)
		} else {
			categories[key] = i
		}
		if len(rules) > MaxRulesPerRun {
			add("%s: %d rules, above %d", where, len(rules), MaxRulesPerRun)
		}
		ruleIDs := map[string]bool{}
		for j, rl := range rules {
			checkRule(fmt.Sprintf("%s.rules[%d]", where, j), rl, ruleIDs, add)
		}
		if run.Results == nil {
			add("%s: results is missing", where)
			continue
		}
		results := *run.Results
		if len(results) > MaxResultsPerRun {
			add("%s: %d results, above %d", where, len(results), MaxResultsPerRun)
		}
		withState := 0
		for j, res := range results {
			if res.BaselineState != nil {
				withState++
			}
			checkResult(fmt.Sprintf("%s.results[%d]", where, j), res, rules, ruleIDs, add)
		}
		if withState > 0 && withState != len(results) {
			add("%s: %d of %d results have a baselineState: all or none must", where, withState, len(results))
		}
	}
	return errors.Join(errs...)
}

func checkRule(where string, rl ghRule, ids map[string]bool, add func(string, ...any)) {
	if rl.ID == "" {
		add("%s: id is empty", where)
	} else if ids[rl.ID] {
		add("%s: id %q repeats", where, rl.ID)
	}
	ids[rl.ID] = true
	for _, d := range []struct {
		name  string
		text  *ghText
		limit int
	}{
		{"shortDescription", rl.ShortDescription, MaxDescriptionLen},
		{"fullDescription", rl.FullDescription, MaxDescriptionLen},
		{"help", rl.Help, 0},
	} {
		switch {
		case d.text == nil || d.text.Text == "":
			add("%s: %s.text is missing or empty", where, d.name)
		case d.limit > 0 && utf8.RuneCountInString(d.text.Text) > d.limit:
			add("%s: %s.text has %d characters, above %d", where, d.name, utf8.RuneCountInString(d.text.Text), d.limit)
		}
	}
	if tags, ok := rl.Properties["tags"]; ok {
		list, ok := tags.([]any)
		if !ok {
			add("%s: properties.tags is not an array", where)
		} else if len(list) > MaxTagsPerRule {
			add("%s: %d tags, above %d", where, len(list), MaxTagsPerRule)
		}
	}
	if sev, ok := rl.Properties["security-severity"]; ok {
		s, ok := sev.(string)
		if !ok {
			add("%s: security-severity is %T, not a string", where, sev)
		} else if v, err := strconv.ParseFloat(s, 64); err != nil || v <= 0 || v > 10 {
			add("%s: security-severity %q is not a number in (0, 10]", where, s)
		}
	}
}

func checkResult(where string, res ghResult, rules []ghRule, ids map[string]bool, add func(string, ...any)) {
	if res.RuleID == "" {
		add("%s: ruleId is empty", where)
	} else if !ids[res.RuleID] {
		add("%s: ruleId %q names no rule of the run", where, res.RuleID)
	}
	if res.RuleIndex != nil && *res.RuleIndex >= 0 {
		if *res.RuleIndex >= len(rules) || rules[*res.RuleIndex].ID != res.RuleID {
			add("%s: ruleIndex %d does not point at rule %q", where, *res.RuleIndex, res.RuleID)
		}
	}
	if res.Message == nil || res.Message.Text == "" {
		add("%s: message.text is missing or empty", where)
	}
	if res.PartialFingerprints[PrimaryLocationLineHash] == "" {
		add("%s: partialFingerprints.%s is missing", where, PrimaryLocationLineHash)
	}
	if res.BaselineState != nil {
		switch *res.BaselineState {
		case "new", "unchanged", "updated", "absent":
		default:
			add("%s: baselineState %q is not new, unchanged, updated or absent", where, *res.BaselineState)
		}
	}
	switch {
	case len(res.Locations) == 0:
		add("%s: no location", where)
		return
	case len(res.Locations) > MaxLocations:
		add("%s: %d locations, above %d", where, len(res.Locations), MaxLocations)
	}
	pl := res.Locations[0].PhysicalLocation
	if pl == nil || pl.ArtifactLocation == nil || pl.ArtifactLocation.URI == "" {
		add("%s: locations[0] has no physicalLocation.artifactLocation.uri", where)
	}
	if pl == nil || pl.Region == nil || pl.Region.StartLine == nil || *pl.Region.StartLine < 1 {
		add("%s: locations[0] has no region.startLine >= 1", where)
	}
}
