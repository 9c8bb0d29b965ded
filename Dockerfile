# syntax=docker/dockerfile:1
# check=error=true;experimental=all
#
# The aegis image: the GitHub Action (action.yml runs `aegis action`; a
# release's action.yml runs the prebuilt ghcr.io/kube-sentient/aegis image,
# see docs/releasing.md), the Argo CD plugin's sidecar and gate, and the CLI.
# Three stages: a static aegis; Trivy's binary from the official Trivy image,
# pinned by digest (nothing compiled at job time); and a small Debian runtime
# with git (aegis reads revisions with `git archive`) and Wapiti (the DAST
# scanner, from Debian), run as a non-root user.
#
# hack/check-dockerfile.sh lints this file with BuildKit's own linter and
# aegis's image rules, and runs the build stage's commands on the host;
# hack/image.sh builds the same image here without a Docker engine.

# GO_VERSION is the Go toolchain aegis is built with (go.mod's toolchain line).
ARG GO_VERSION=1.27.3
# TRIVY_VERSION is the Trivy release the image ships (hack/tools/trivy.sh's).
ARG TRIVY_VERSION=0.74.0
# The default digest (all zeros: no such image) fails the build on purpose:
# .github/workflows/release.yml resolves the digest from the registry,
# verifies Aqua's keyless signature on it, and passes it with
# --build-arg TRIVY_DIGEST=sha256:... . hack/check-dockerfile.sh checks its
# form (no registry is reachable where the checks run).
# TRIVY_DIGEST pins aquasec/trivy:TRIVY_VERSION by its image index's digest.
ARG TRIVY_DIGEST=sha256:0000000000000000000000000000000000000000000000000000000000000000

# trivy is the official Trivy image, for its static binary.
FROM aquasec/trivy:${TRIVY_VERSION}@${TRIVY_DIGEST} AS trivy

# build compiles aegis, statically (CGO_ENABLED=0).
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/aegis ./cmd/aegis

# runtime is what runs: aegis, trivy, git, wapiti, CA certificates, as user 1001.
FROM debian:12-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates git wapiti \
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
COPY --from=trivy /usr/local/bin/trivy /usr/local/bin/trivy
USER ${AEGIS_UID}:${AEGIS_UID}
ENTRYPOINT ["/usr/local/bin/aegis"]
CMD ["--help"]
