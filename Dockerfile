# Standalone LLM gateway image: multi-stage build, small non-root runtime, data on a volume.
#   docker build -t llm-gateway .
#   docker run -p 8080:8080 -v gateway-data:/data -e ADMIN_PASSWORD=change-me-now llm-gateway

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p gateway-server --bin llm-gateway

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /data gateway \
    && mkdir -p /data && chown gateway /data
COPY --from=build /src/target/release/llm-gateway /usr/local/bin/llm-gateway
COPY admin-ui /app/admin-ui
# GLIBC_TUNABLES: freed memory goes back to the OS; otherwise an admin login's Argon2 hash leaves
# ~19 MiB in glibc's heap for good (README, Memory).
ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=/data/gateway.db \
    ADMIN_UI_DIR=/app/admin-ui \
    LOG_FORMAT=json \
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072
USER gateway
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["llm-gateway", "--healthcheck"]
ENTRYPOINT ["llm-gateway"]
