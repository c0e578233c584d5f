# syntax=docker/dockerfile:1
#
# The release build of the README ("Building a release"): the same command,
# the same flags, the version stamped from the build arguments:
#
#   docker build \
#     --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg DATE=$(git log -1 --format=%cI) \
#     -t userbridge .
#
# Base images are named in full (registry, repository, tag) so that no
# registry mirror or short-name alias decides what is built. They are pinned
# by tag, not yet by digest: to pin one, look its digest up for the tag
#   docker buildx imagetools inspect docker.io/library/golang:1.26.8-bookworm
# and write it after the tag, FROM docker.io/library/golang:1.26.8-bookworm@sha256:<digest>
# (the tag stays for the reader; the digest decides). Renovate or Dependabot
# can keep such pins current.

# The Go of go.mod: the toolchain the build needs, with nothing to fetch.
FROM docker.io/library/golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG COMMIT=""
ARG DATE=""
# Empty stamps fall back to what the binary records ("(devel)", "unknown").
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w \
      -X github.com/userbridge/userbridge/internal/telemetry.version=${VERSION} \
      -X github.com/userbridge/userbridge/internal/telemetry.commit=${COMMIT} \
      -X github.com/userbridge/userbridge/internal/telemetry.date=${DATE}" \
      -o /out/userbridge ./cmd/userbridge

# Static binary, no shell, no package manager; the nonroot user (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/userbridge /usr/local/bin/userbridge
USER nonroot:nonroot
EXPOSE 8080
# No curl in distroless: the binary probes itself. With admin.listen set,
# point it there: USERBRIDGE_HEALTH_URL=http://127.0.0.1:9090/healthz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/userbridge", "health"]
ENTRYPOINT ["/usr/local/bin/userbridge"]
CMD ["serve", "--listen", ":8080"]
