// Package dast owns aegis's dynamic application security testing: a live
// scanner (it needs the side deployed in its shadow namespace) that reaches
// every Service of the namespace through a client-go port-forward and runs a
// DAST Backend (ZAP, package dast/zap; Wapiti, package dast/wapiti) against
// it, then turns the backend's alerts into findings that compare across base
// and head.
//
// # What is scanned
//
// Scan lists the Services of the side's shadow namespace. For each Service
// port that passes the filters of Options (Services and Ports; by default
// every TCP port of every Service, ExternalName Services excepted) it picks
// one Ready, not terminating backing pod, from the Service's EndpointSlices
// (whose ports are already resolved per pod, named targetPorts included), or,
// when the Service has no EndpointSlice yet, from its selector (a named
// targetPort is then resolved against the pod's container ports). It opens a
// port-forward from 127.0.0.1 (a port the OS picks) to that pod port, checks
// that something answers HTTP there, runs the backend against
// http://127.0.0.1:<port>/ (https:// when the port's appProtocol or name says
// https, or it is 443), and always closes the forward.
//
// Every TCP port is the default on purpose: a web port named "web" or left
// unnamed (as most Services leave a single port) is still scanned, and a port
// that does not speak HTTP fails the side loudly instead of being skipped in
// silence. Narrow the scan with Options.Ports (port names, numbers or
// appProtocols, glob patterns: "http*", "8080") and Options.Services.
//
// # Fail closed
//
//   - A Service port with no Ready pod behind it, a port-forward that does not
//     come up, a port where nothing answers HTTP, a backend error or a
//     timeout (Options.TargetTimeout per Service port) fails the side's scan:
//     a scan that reached nothing is not a pass.
//   - A side with no Service at all (or none left by the filters) was not
//     scanned: Scan returns a scanners.SkipError, the run is "skipped", and
//     the gate fails closed when that side is the head, unless the policy
//     sets scanners.<name>.allowSkip (a change that drops or renames its
//     Services must not make the base's findings look fixed).
//   - A backend whose tool is missing wraps scanners.ErrNotInstalled (for
//     ZAP: its daemon does not answer), so a policy's allowMissing applies.
//
// # Findings
//
// One finding per backend alert kind, Service port, HTTP method, path
// template and parameter (occurrences that normalise to one template are
// grouped and counted):
//
//   - Scanner: the backend's name ("zap", "wapiti"); RuleID:
//     "<backend>.<alert id>" (ZAP's alertRef, such as zap.10020-1 or
//     zap.40012; Wapiti's category as the id of its definition module, such
//     as wapiti.xss or wapiti.http_headers).
//   - Resource: the Service (apiVersion v1, kind Service), in the namespace
//     the rendered set gives it (the shadow namespace is a rewrite), and
//     Location: the Service's source file and line in the rendered set.
//   - Key (and so the fingerprint): the Service port (its name, else its
//     number), the method, the path template and the parameter, plus the
//     backend's discriminator where one alert id covers several checks
//     (Wapiti's "X-Frame-Options is not set" and "X-Content-Type-Options is
//     not set" are both http_headers). The path template replaces numeric,
//     UUID and hex-id path segments with {id} and reduces the query string
//     to its sorted parameter names, so "/items/42?b=1&a=x" is
//     "/items/{id}?a&b". Host and port never enter it: the local port of the
//     forward is random, and base and head are forwarded on different ports.
//
// Severity: ZAP's risk (Informational, Low, Medium, High; riskcode 0 to 3 in
// its file reports) maps to info, low, medium, high. Wapiti's level (0 info,
// 1 low, 2 medium, 3 high, 4 critical, as wapitiCore.language.vulnerability
// defines them) maps to the severity of the same name.
package dast
