#!/usr/bin/env bash
# Builds the real Kubernetes and Velero test peers from the Go module proxy into .peers/real/ (git-ignored):
# etcd, kube-apiserver, Velero (server and CLI) with its AWS plugin, and MinIO. Pinned versions, one
# binary per name and version; a binary already there is not built again, so a second run takes seconds.
# Cold: about 13 min of compiling on a quiet 2-core machine (more under load), plus module downloads.
#
# Why wrapper modules: k8s.io/kubernetes's go.mod replaces every k8s.io staging module with ./staging,
# which its module zip lacks, so it is built from a small module that replaces each with its published
# version; Velero v1.18.1 is built with its k8s.io dependencies at v0.33.13 (the proxy refuses the
# v0.33.11 zips of cli-runtime and kube-aggregator) and kopia replaced as Velero's own go.mod does.
# Velero's entry point is our own three-line main (velero-main.go) that turns off controller-runtime's
# metrics listener, which otherwise binds :8080 on every interface, with no flag to move it.
#
# Usage: scripts/peers/build-real-peers.sh [component …]   (default: all; needs go >= 1.25 on PATH)
#        components: etcd kube-apiserver velero velero-plugin-for-aws minio
set -euo pipefail

ETCD_VERSION=v3.6.8
K8S_VERSION=v1.36.3
K8S_STAGING_VERSION=v0.36.3
VELERO_VERSION=v1.18.1
VELERO_K8S_VERSION=v0.33.13
VELERO_KOPIA_REPLACE="github.com/project-velero/kopia v0.0.0-20251230033609-d946b1e75197"
PLUGIN_AWS_VERSION=v1.14.3

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/.peers/real"
work="$root/.peers/build"
# MinIO: the pseudo-version the benchmark pins (one pin for both).
MINIO_VERSION="$(sed -n 's/^export const MINIO_VERSION = "\(.*\)";$/\1/p' "$root/bench/minio.ts")"

wanted=" ${*:-etcd kube-apiserver velero velero-plugin-for-aws minio} "
want() { [[ "$wanted" == *" $1 "* ]]; }
command -v go >/dev/null || { echo "build-real-peers: go is not on PATH (apt-get install golang-go, or a Go >= 1.25 toolchain)" >&2; exit 3; }
mkdir -p "$out" "$work"
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
started=$(date +%s)
say() { echo "build-real-peers: $*" >&2; }

# wrapper NAME MODULE@VERSION: a fresh module in $work/NAME requiring MODULE at VERSION.
wrapper() {
  local dir="$work/$1"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && go mod init "kots-backup.test/peers/$1" >/dev/null 2>&1 && go mod edit -require="$2")
  echo "$dir"
}

# built NAME VERSION: true when .peers/real/NAME-VERSION exists (then it is linked as NAME).
built() {
  if [ -x "$out/$1-$2" ]; then ln -sf "$1-$2" "$out/$1"; return 0; fi
  return 1
}
finish() { ln -sf "$1-$2" "$out/$1"; say "$1 $2 built ($(( $(date +%s) - t0 )) s)"; }

t0=$(date +%s)
if want etcd && ! built etcd "$ETCD_VERSION"; then
  dir=$(wrapper etcd "go.etcd.io/etcd/server/v3@$ETCD_VERSION")
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$out/etcd-$ETCD_VERSION" go.etcd.io/etcd/server/v3)
  finish etcd "$ETCD_VERSION"
fi

t0=$(date +%s)
if want kube-apiserver && ! built kube-apiserver "$K8S_VERSION"; then
  dir=$(wrapper kubernetes "k8s.io/kubernetes@$K8S_VERSION")
  mod="$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
  # Each `k8s.io/x => ./staging/src/k8s.io/x` of kubernetes's go.mod becomes `k8s.io/x => k8s.io/x v0.y.z`.
  for staged in $(sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$mod"); do
    (cd "$dir" && go mod edit -replace="$staged=$staged@$K8S_STAGING_VERSION")
  done
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$out/kube-apiserver-$K8S_VERSION" k8s.io/kubernetes/cmd/kube-apiserver)
  finish kube-apiserver "$K8S_VERSION"
fi

velero_wrapper() {
  local dir
  dir=$(wrapper "$1" "github.com/vmware-tanzu/velero@$VELERO_VERSION")
  (
    cd "$dir"
    for m in api apiextensions-apiserver apimachinery cli-runtime client-go kube-aggregator metrics; do
      go mod edit -replace="k8s.io/$m=k8s.io/$m@$VELERO_K8S_VERSION"
    done
    go mod edit -replace="github.com/kopia/kopia=${VELERO_KOPIA_REPLACE// /@}"
  )
  echo "$dir"
}

t0=$(date +%s)
if want velero && ! built velero "$VELERO_VERSION"; then
  dir=$(velero_wrapper velero)
  cp "$here/velero-main.go" "$dir/main.go"
  (cd "$dir" && go build -trimpath -ldflags "-s -w -X github.com/vmware-tanzu/velero/pkg/buildinfo.Version=$VELERO_VERSION" -o "$out/velero-$VELERO_VERSION" .)
  finish velero "$VELERO_VERSION"
fi

t0=$(date +%s)
if want velero-plugin-for-aws && ! built velero-plugin-for-aws "$PLUGIN_AWS_VERSION"; then
  dir=$(velero_wrapper plugin-aws)
  (cd "$dir" && go mod edit -require="github.com/vmware-tanzu/velero-plugin-for-aws@$PLUGIN_AWS_VERSION" &&
    go build -trimpath -ldflags "-s -w" -o "$out/velero-plugin-for-aws-$PLUGIN_AWS_VERSION" github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws)
  finish velero-plugin-for-aws "$PLUGIN_AWS_VERSION"
fi
# Velero loads every executable of --plugin-dir as a plugin: the plugin gets a folder of its own.
if want velero-plugin-for-aws; then
  mkdir -p "$out/plugins" && ln -sf "../velero-plugin-for-aws-$PLUGIN_AWS_VERSION" "$out/plugins/velero-plugin-for-aws"
fi

t0=$(date +%s)
if want minio && ! built minio "$MINIO_VERSION"; then
  dir=$(wrapper minio "github.com/minio/minio@$MINIO_VERSION")
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$out/minio-$MINIO_VERSION" github.com/minio/minio)
  finish minio "$MINIO_VERSION"
fi

say "peers ready in $out ($(( $(date +%s) - started )) s):$wanted"
