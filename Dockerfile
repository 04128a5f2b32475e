# maxwell-ha node image: `maxwell` and `maxwell-cli` on Debian 12, with the contract of the
# `zendesk/maxwell` image: working directory /app, `bin/maxwell` there, and by default
# `bin/maxwell-docker`, which reads Maxwell's variables (MYSQL_HOST, MYSQL_USERNAME,
# MYSQL_PASSWORD, MAXWELL_PRODUCER, KAFKA_BROKERS or KAFKA_HOST/KAFKA_PORT, MAXWELL_OPTIONS);
# /app/config.properties is read when mounted.
#   docker build -t maxwell-ha .
#   docker run --rm -e MYSQL_HOST=db -e MYSQL_USERNAME=maxwell -e MYSQL_PASSWORD=secret -e KAFKA_BROKERS=kafka:9092 maxwell-ha
#   docker run --rm maxwell-ha bin/maxwell --user=maxwell --password=secret --host=db --producer=stdout
#   docker run --rm -v $PWD/node1.properties:/app/config.properties maxwell-ha maxwell --node_id=n1
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
COPY config/docker/maxwell-docker /app/bin/maxwell-docker
RUN ln -s /usr/local/bin/maxwell /app/bin/maxwell && ln -s /usr/local/bin/maxwell-cli /app/bin/maxwell-cli
WORKDIR /app
USER maxwell
EXPOSE 8080
CMD ["bin/maxwell-docker"]
