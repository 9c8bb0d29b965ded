# syntax=docker/dockerfile:1
# check=error=true;experimental=all
#
# The aegis image: the GitHub Action (action.yml runs `aegis action`) and the
# CLI. Three stages: a static aegis, Trivy built from source (the Go module
# proxy, no prebuilt download), and a small Debian runtime with git (aegis
# reads revisions with `git archive`) that runs as a non-root user.
#
# hack/check-dockerfile.sh lints this file with BuildKit's own linter and
# runs the build stages' commands on the host.

# GO_VERSION is the Go toolchain aegis is built with (go.mod's toolchain line).
ARG GO_VERSION=1.27.3
# Trivy v0.74.0 uses Go 1.26's GOEXPERIMENT=jsonv2 API (json.SkipFunc), gone in Go 1.27.

# TRIVY_GO_VERSION is the Go toolchain of the trivy stage.
ARG TRIVY_GO_VERSION=1.26.8
# TRIVY_VERSION is the Trivy release built into the image (hack/tools/trivy.sh's).
ARG TRIVY_VERSION=v0.74.0

# build compiles aegis, statically (CGO_ENABLED=0).
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/aegis ./cmd/aegis

# Go 1.26 needs GOEXPERIMENT=jsonv2 to build Trivy (as hack/tools/trivy.sh).
# trivy builds Trivy from the module proxy, statically.
FROM golang:${TRIVY_GO_VERSION}-bookworm AS trivy
ARG TRIVY_VERSION
RUN CGO_ENABLED=0 GOEXPERIMENT=jsonv2 GOBIN=/out GOFLAGS="-trimpath -buildvcs=false" \
    go install -ldflags "-s -w -X github.com/aquasecurity/trivy/pkg/version/app.ver=${TRIVY_VERSION#v}" \
    "github.com/aquasecurity/trivy/cmd/trivy@${TRIVY_VERSION}"

# runtime is what runs: aegis, trivy, git, CA certificates, as user 1001.
FROM debian:12-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates git \
    && rm -rf /var/lib/apt/lists/*
# 1001 is the runner user of GitHub-hosted runners: the workspace and the
# files behind GITHUB_OUTPUT and GITHUB_STEP_SUMMARY are theirs, so the
# action can write them without root. Self-hosted runners with another uid
# build with --build-arg AEGIS_UID=<uid>.
# AEGIS_UID is the uid and gid the action runs as.
ARG AEGIS_UID=1001
RUN groupadd --gid "${AEGIS_UID}" aegis \
    && useradd --uid "${AEGIS_UID}" --gid "${AEGIS_UID}" --create-home --home-dir /home/aegis --shell /usr/sbin/nologin aegis \
    && git config --system --add safe.directory '*'
COPY --from=build /out/aegis /usr/local/bin/aegis
COPY --from=trivy /out/trivy /usr/local/bin/trivy
USER ${AEGIS_UID}:${AEGIS_UID}
ENTRYPOINT ["/usr/local/bin/aegis"]
CMD ["--help"]
