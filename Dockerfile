# hls-swarm's container image, in stages:
#   docker build -t hls-swarm .                      the binary on Debian slim (native engine)
#   docker build --target ffmpeg -t hls-swarm:ffmpeg .   the same with Debian's ffmpeg (--engine ffmpeg)
# The build is CI's own: `cargo build --release --locked` (scripts/test.sh runs it), on the Debian release
# and Rust toolchain CI uses, so the image holds the binary CI tested.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
 && objcopy --strip-debug target/release/hls-swarm /hls-swarm

# The FFmpeg engine's image: ffmpeg plays, hls-swarm measures through its proxy.
FROM debian:bookworm-slim AS ffmpeg
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /hls-swarm /usr/local/bin/hls-swarm
# TLS roots are built in (webpki-roots): no ca-certificates needed.
USER 65532:65532
EXPOSE 17091
ENTRYPOINT ["hls-swarm"]
CMD ["run"]

# The default image (last stage): the binary alone.
FROM debian:bookworm-slim AS runtime
COPY --from=build /hls-swarm /usr/local/bin/hls-swarm
USER 65532:65532
EXPOSE 17091
ENTRYPOINT ["hls-swarm"]
CMD ["run"]
