# syntax=docker/dockerfile:1
# webhook-worker image: `docker build -t webhook-worker .`
# The binary is the entrypoint; the default command is `run`. The migrations are embedded in
# the binary at build time (sqlx::migrate!), so the build needs no database.

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# The cache mounts keep the registry and the build directory between builds (BuildKit);
# the binary is copied out because the target directory is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && cp target/release/webhook-worker /usr/local/bin/webhook-worker

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --home-dir /app webhook
COPY --from=builder /usr/local/bin/webhook-worker /usr/local/bin/webhook-worker
COPY deploy/demo-data.json /app/deploy/demo-data.json
WORKDIR /app
USER webhook
# Listen on every interface so that the published port reaches /metrics, /healthz, /readyz
# (the binary's default, 127.0.0.1:9187, is only reachable from inside the container).
ENV METRICS_ADDR=0.0.0.0:9187
EXPOSE 9187
ENTRYPOINT ["webhook-worker"]
CMD ["run"]
