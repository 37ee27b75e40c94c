//go:build tools

// Package tools records the command tests/env/build compiles, so that
// `go mod tidy` keeps its dependencies in go.mod/go.sum. kwok has a module
// of its own: it is built against k8s.io v0.36.x, which the v0.37 replace
// lines of ../kube must not reach.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
