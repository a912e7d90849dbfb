#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the Debian packages the tests use when they are missing,
# then formatting, lints and every test. Tests that need an external program fail loudly without it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian puts nginx in /usr/sbin, which a non-root PATH may lack.
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

missing=()
have ffmpeg || missing+=(ffmpeg)
have ffprobe || missing+=(ffmpeg)
have nginx || missing+=(nginx)
have prometheus-node-exporter || missing+=(prometheus-node-exporter)
have prometheus-nginx-exporter || missing+=(prometheus-nginx-exporter)
have tmux || missing+=(tmux)
have xmllint || missing+=(libxml2-utils)
have chromium || missing+=(chromium)
have unshare || missing+=(util-linux)
have ip || missing+=(iproute2)
have npm || missing+=(npm)
have promtool || missing+=(prometheus)
# A venv needs ensurepip, which Debian's python3 has only with python3-venv.
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
  # nginx and the exporters would start as services on install; the tests start their own on free
  # loopback ports, so a policy-rc.d keeps the packages from starting anything while they install.
  policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$policy" ]; then
    rm -f "$policy"
    trap - EXIT
  fi
fi

# The deploy tests' checkers (tests/deploy.rs), pinned: kubernetes-validate from PyPI in a venv, and
# TypeScript with Grafana's schema types from tests/grafana's lockfile.
tools=target/tools
if [ ! -x "$tools/venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install -q --disable-pip-version-check kubernetes-validate==1.37.0
fi
if [ ! -d tests/grafana/node_modules ] || [ tests/grafana/package-lock.json -nt tests/grafana/node_modules ]; then
  npm ci --prefix tests/grafana --no-audit --no-fund --loglevel=error
fi

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test --locked
# The image's build (Dockerfile): the release binary from the committed lockfile.
cargo build --release --locked
