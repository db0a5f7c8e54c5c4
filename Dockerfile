# Dockerfile - one image for the six services and their tools; the command picks the service.
#
#   docker build -t secure-backend:1.0.0 .
#   docker run --rm secure-backend:1.0.0 gateway --help      # the variables gateway reads
#   docker run ... secure-backend:1.0.0 missions             # CMD: which binary runs
#
# Everything comes from this repository and Debian's packages: the build stage installs
# what `scripts/deps.sh --build` lists and runs `make`; the runtime stage holds the
# binaries and their shared libraries only (no compiler, no package lists, no extra tools),
# and runs as the fixed non-root user 10001. For bit-for-bit repeatable images pin both
# base images by digest (debian:bookworm@sha256:...).

FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
RUN bash scripts/deps.sh --build && rm -rf /var/lib/apt/lists/*
COPY Makefile ./
COPY common/ common/
COPY proto/ proto/
COPY tools/ tools/
COPY services/ services/
COPY docs/openapi.json docs/openapi.json
RUN make -j"$(nproc)" all && find bin -type f -exec strip --strip-unneeded {} +


FROM debian:bookworm-slim

# The run-time halves of the -dev packages in scripts/deps.sh, and CA certificates for
# outbound HTTPS and SMTP (libcurl).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        ca-certificates \
        libczmq4 libzmq5 libmsgpackc2 libpq5 libhiredis0.14 libcivetweb1 \
        libjwt0 libssl3 libargon2-1 libjansson4 libcurl4 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 app \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app

COPY --from=build /src/bin/ /usr/local/bin/

# Fail the build, not the first start, when a library is missing.
RUN if find /usr/local/bin -type f -exec ldd {} + | grep 'not found'; then exit 1; fi

USER 10001:10001
# 8080 HTTP, 8443 HTTPS (gateway); 7101-7105 ZeroMQ (auth missions evidence privacy audit)
EXPOSE 8080 8443 7101 7102 7103 7104 7105
CMD ["gateway"]
