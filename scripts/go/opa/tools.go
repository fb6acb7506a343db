//go:build tools

// The program scripts/install-kube.sh builds; importing it keeps go.mod/go.sum complete.
package tools

import _ "github.com/open-policy-agent/opa"
