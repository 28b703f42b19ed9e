# dingsync's three commands in one image: worker (the default), starter (the ops CLI) and
# dingtalk-sim (the DingTalk simulator). docker-compose.yml builds it for the worker, the
# simulator and `docker-compose run --rm starter …`.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/worker ./worker \
 && go build -trimpath -ldflags="-s -w" -o /out/starter ./starter \
 && go build -trimpath -ldflags="-s -w" -o /out/dingtalk-sim ./simulator

# debian-slim rather than distroless: the health checks need curl, and the worker needs CA
# certificates to reach DingTalk over HTTPS.
FROM debian:12.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin dingsync
COPY --from=build /out/ /usr/local/bin/
USER dingsync
# 8088: the worker's public endpoints; 9464: its /metrics; 18080: the simulator.
EXPOSE 8088 9464 18080
CMD ["worker"]
