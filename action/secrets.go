package action

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/kube-sentient/aegis/secret"
)

// registerSecrets registers the Action's secret inputs with red before
// anything can print them: the token; and the kubeconfig, each credential
// in it (kubeconfigSecrets: an error that quotes one line or one URL of it
// is masked) and the whole of it in the one-line forms an output can carry
// it in (quoted as Go and JSON quote it, base64).
//
// The whole kubeconfig is not registered as the multi-line text it is:
// the Redactor registers each line of such a value on its own, and the
// lines of a kubeconfig include "cluster:", "context:", "kind: Config" and
// "apiVersion: v1", which every report and message would then lose. A
// kubeconfig printed whole shows its credentials masked one by one.
func registerSecrets(red *secret.Redactor, token, kubeconfig string) {
	red.Add(token)
	if strings.TrimSpace(kubeconfig) == "" {
		return
	}
	red.Add(kubeconfigSecrets(kubeconfig)...)
	whole := []string{
		base64.StdEncoding.EncodeToString([]byte(kubeconfig)),
		base64.RawStdEncoding.EncodeToString([]byte(kubeconfig)),
		base64.URLEncoding.EncodeToString([]byte(kubeconfig)),
		base64.RawURLEncoding.EncodeToString([]byte(kubeconfig)),
	}
	if q := strconv.Quote(kubeconfig); len(q) > 2 {
		whole = append(whole, q[1:len(q)-1])
	}
	if j, err := json.Marshal(kubeconfig); err == nil && len(j) > 2 {
		whole = append(whole, string(j[1:len(j)-1]))
	}
	if !strings.ContainsAny(kubeconfig, "\r\n") {
		whole = append(whole, kubeconfig) // one line (JSON): as it is
	}
	red.Add(whole...)
}

// credentialKeys are the kubeconfig fields (users[].user and
// auth-provider.config) whose values are credentials.
var credentialKeys = map[string]bool{
	"token":                   true,
	"password":                true,
	"client-key-data":         true,
	"client-certificate-data": true,
	"id-token":                true,
	"refresh-token":           true,
	"access-token":            true,
	"client-secret":           true,
	"secret":                  true,
}

// credentialLine finds "key: value" lines of credentialKeys in a
// kubeconfig that does not parse (a broken one is still a secret).
var credentialLine = regexp.MustCompile(`(?m)^[\s-]*["']?([A-Za-z-]+)["']?\s*:\s*(.+?)\s*,?\s*$`)

// kubeconfigSecrets returns the credentials of a kubeconfig: the values of
// tokens, passwords, client keys and certificates (as written, base64,
// and decoded), auth-provider settings, exec plugins' environment values,
// and the userinfo of every URL in it (https://user:pass@host: the
// userinfo, the user and the password, raw and decoded). It reads the
// YAML (or JSON) when it parses, and the text line by line in any case,
// so that a malformed kubeconfig, whose loading error may quote it, is
// covered too.
func kubeconfigSecrets(content string) []string {
	var out []string
	add := func(key, v string) {
		v = strings.TrimSpace(v)
		if v == "" {
			return
		}
		out = append(out, v)
		// client-key-data and client-certificate-data are base64 of PEM:
		// the PEM (and each of its lines) is registered too.
		if strings.HasSuffix(key, "-data") {
			if dec, err := base64.StdEncoding.DecodeString(v); err == nil && len(dec) > 0 {
				out = append(out, string(dec))
			}
		}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(content), &doc); err == nil {
		walkKubeconfig(&doc, "", add)
	}
	for _, m := range credentialLine.FindAllStringSubmatch(content, -1) {
		if k := strings.ToLower(m[1]); credentialKeys[k] {
			add(k, strings.Trim(m[2], `"'`))
		}
	}
	for _, u := range urlUserinfo(content) {
		add("", u)
	}
	return out
}

// walkKubeconfig adds the credentials under n; key is the mapping key n is
// the value of.
func walkKubeconfig(n *yaml.Node, key string, add func(key, value string)) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			walkKubeconfig(c, key, add)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := strings.ToLower(n.Content[i].Value), n.Content[i+1]
			switch {
			case v.Kind == yaml.ScalarNode && credentialKeys[k]:
				add(k, v.Value)
			case k == "config" && key == "auth-provider", k == "env" && key == "exec":
				// Every value of an auth provider's settings, and of an
				// exec plugin's environment, may be a credential.
				addScalars(v, func(s string) { add(k, s) })
			default:
				walkKubeconfig(v, k, add)
			}
		}
	case yaml.ScalarNode:
		for _, u := range urlUserinfo(n.Value) {
			add("", u)
		}
	case yaml.AliasNode:
		// A kubeconfig has no aliases worth following (and an alias bomb
		// must not expand here).
	}
}

// addScalars adds every scalar value under n except mapping keys and the
// names of exec env entries.
func addScalars(n *yaml.Node, add func(string)) {
	switch n.Kind {
	case yaml.ScalarNode:
		add(n.Value)
	case yaml.SequenceNode:
		for _, c := range n.Content {
			addScalars(c, add)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "name" {
				continue
			}
			addScalars(n.Content[i+1], add)
		}
	}
}

// urlUserinfo returns the userinfo of every URL in s (scheme://userinfo@),
// with its user and password, raw and percent-decoded. It reads the
// authority as url.Parse does (up to the first '/', '?' or '#', userinfo
// up to the last '@') and also as far as the last '@' before white space,
// for a malformed URL whose password holds a '/'.
func urlUserinfo(s string) []string {
	var out []string
	addInfo := func(info string) {
		if info == "" {
			return
		}
		forms := []string{info}
		user, pass, ok := strings.Cut(info, ":")
		forms = append(forms, user)
		if ok {
			forms = append(forms, pass)
		}
		for _, f := range forms {
			if f == "" {
				continue
			}
			out = append(out, f)
			if dec, err := url.PathUnescape(f); err == nil && dec != f {
				out = append(out, dec)
			}
		}
	}
	for rest := s; ; {
		i := strings.Index(rest, "://")
		if i < 0 {
			return out
		}
		rest = rest[i+3:]
		end := strings.IndexAny(rest, " \t\r\n\"'`<>")
		if end < 0 {
			end = len(rest)
		}
		token := rest[:end]
		authority := token
		if j := strings.IndexAny(authority, "/?#"); j >= 0 {
			authority = authority[:j]
		}
		if at := strings.LastIndex(authority, "@"); at >= 0 {
			addInfo(authority[:at])
		}
		if at := strings.LastIndex(token, "@"); at >= 0 && at >= len(authority) {
			addInfo(token[:at])
		}
	}
}
