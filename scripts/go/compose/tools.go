//go:build tools

// The program benchmarks/setup.sh builds; importing it keeps go.mod/go.sum complete.
package tools

import _ "github.com/docker/compose/v5/cmd"
