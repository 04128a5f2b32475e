# maxwell-ha node image: `maxwell` and `maxwell-cli` on Debian 12.
#   docker build -t maxwell-ha .
#   docker run --rm maxwell-ha --config=/etc/maxwell/config.properties --node_id=n1
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential pkg-config zlib1g-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY third_party ./third_party
RUN cargo build --release --locked --bins

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 maxwell
COPY --from=build /src/target/release/maxwell /src/target/release/maxwell-cli /usr/local/bin/
COPY config/config.properties.example /etc/maxwell/config.properties.example
USER maxwell
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=2s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["maxwell"]
CMD ["--config=/etc/maxwell/config.properties"]
