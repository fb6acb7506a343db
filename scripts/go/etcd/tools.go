//go:build tools

// The program scripts/install-kube.sh builds; importing it keeps go.mod/go.sum complete.
package tools

import _ "go.etcd.io/etcd/server/v3"
