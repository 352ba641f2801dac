// Package version is certflow's release version and the image that carries it. The
// version lives in the file VERSION beside this one, which the Makefile reads too, so
// that the image `make image` tags, the manifests and the HTTP-01 solver Pods the
// worker creates all name the same one (never "latest").
package version

import (
	_ "embed"
	"strings"
)

//go:embed VERSION
var file string

// Version is certflow's release version, e.g. "v0.1.0".
var Version = strings.TrimSpace(file)

// Repository is where certflow's image is published.
const Repository = "ghcr.io/certflow/certflow"

// Image is the reference of this version's image: it holds certflow-worker (its
// entrypoint, which the HTTP-01 solver Pods run too), certflow-k8swatch and starter.
func Image() string { return Repository + ":" + Version }
