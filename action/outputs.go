package action

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/sethvargo/go-githubactions"
)

// libraryDelimiter is the fixed delimiter go-githubactions v1.3.1 writes
// every output with ("name<<DELIM\nvalue\nDELIM"). A value holding it on a
// line of its own would end the value early and let the rest of it be read
// as more outputs (an injection when the value comes from a pull request).
const libraryDelimiter = "_GitHubActionsFileCommandDelimeter_"

// eol is the line ending of file commands (go-githubactions writes "\n" on
// Linux, where Docker actions run).
const eol = "\n"

// setOutput writes one output through go-githubactions. A value containing
// the library's fixed delimiter is written with a random delimiter instead,
// as actions/toolkit does (ghadelimiter_<random>), checked to occur nowhere
// in the value. Outside Actions (no GITHUB_OUTPUT) it does nothing.
func setOutput(gha *githubactions.Action, name, value string) (err error) {
	if gha.Getenv("GITHUB_OUTPUT") == "" {
		return nil
	}
	if strings.ContainsAny(name, "\r\n=<") {
		return fmt.Errorf("output name %q is not valid", name)
	}
	defer func() {
		// IssueFileCommand panics when the file cannot be written.
		if r := recover(); r != nil {
			err = fmt.Errorf("writing output %s: %v", name, r)
		}
	}()
	if !strings.Contains(value, libraryDelimiter) {
		gha.SetOutput(name, value)
		return nil
	}
	delim, err := freshDelimiter(value)
	if err != nil {
		return err
	}
	gha.IssueFileCommand(&githubactions.Command{
		Name:    "output",
		Message: name + "<<" + delim + eol + value + eol + delim,
	})
	return nil
}

// freshDelimiter returns a delimiter that does not occur in value.
func freshDelimiter(value string) (string, error) {
	for range 8 {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		d := "ghadelimiter_" + hex.EncodeToString(b)
		if !strings.Contains(value, d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no delimiter found that the value does not contain")
}

// addSummary appends Markdown to the step summary. Outside Actions (no
// GITHUB_STEP_SUMMARY) it does nothing.
func addSummary(gha *githubactions.Action, md string) (err error) {
	if gha.Getenv("GITHUB_STEP_SUMMARY") == "" {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("writing the step summary: %v", r)
		}
	}()
	gha.AddStepSummary(md)
	return nil
}
