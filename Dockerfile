# syntax=docker/dockerfile:1
# Hookline: one static binary; `hookline api`, `hookline worker` or `hookline serve`.
#   docker build -t hookline --build-arg VERSION=$(git describe --always --dirty) .

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so a code change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X main.Version=${VERSION}" \
      -o /out/hookline ./cmd/hookline

# distroless/static: CA certificates and tzdata, no shell, runs as nonroot.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hookline /usr/local/bin/hookline
ENV HOOKLINE_ADDR=:8080
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/hookline"]
CMD ["serve"]
