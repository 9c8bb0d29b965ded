module github.com/kube-sentient/aegis/hack/screenshot

// Its own module so that goldmark, bluemonday and chromedp stay out of
// aegis's dependency graph. hack/screenshot.sh and hack/browser-check.sh
// build it with the main module's toolchain (go.mod's toolchain line,
// exported as GOTOOLCHAIN), like the Makefile builds aegis.
go 1.26.0

require (
	github.com/chromedp/cdproto v0.160.1
	github.com/chromedp/chromedp v0.23.1
	github.com/microcosm-cc/bluemonday v1.0.27
	github.com/yuin/goldmark v1.8.7
)

require (
	github.com/aymerick/douceur v0.2.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/gorilla/css v1.0.1 // indirect
	golang.org/x/net v0.26.0 // indirect
)
