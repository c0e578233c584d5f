# syntax=docker/dockerfile:1
# The same build as the README's: go build ./cmd/userbridge, static.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/userbridge ./cmd/userbridge

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
