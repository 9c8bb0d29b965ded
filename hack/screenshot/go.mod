module github.com/kube-sentient/aegis/hack/screenshot

// Its own module so that goldmark stays out of aegis's dependency graph.
// hack/screenshot.sh builds it with the main module's toolchain (go.mod's
// toolchain line, exported as GOTOOLCHAIN), like the Makefile builds aegis.
go 1.26.0

require github.com/yuin/goldmark v1.8.7
