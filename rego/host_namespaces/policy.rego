# host-namespaces: a pod must not share the node's network, process or IPC namespace,
# nor bind a port on the node.
package spin.rules.host_namespaces

import data.spin.lib.workload

meta := {
	"id": "host-namespaces",
	"title": "No host namespaces or host ports",
	"profile": "site",
	"description": "Refuses hostNetwork, hostPID and hostIPC, and any container port with a hostPort.",
}

deny contains violation if {
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	workload.pod_spec[field] == true
	violation := {
		"rule": "host-namespaces",
		"message": sprintf("%s: true shares the node's namespace with the pod; remove it", [field]),
		"path": sprintf("%s/%s", [workload.pod_pointer, field]),
	}
}

deny contains violation if {
	some entry in workload.containers
	some i, port in object.get(entry.container, "ports", [])
	object.get(port, "hostPort", 0) != 0
	violation := {
		"rule": "host-namespaces",
		"message": sprintf("container %q binds hostPort %v on the node; publish the port through a Service instead (compose `ports:` does this)", [entry.name, port.hostPort]),
		"path": sprintf("%s/ports/%d/hostPort", [entry.path, i]),
	}
}
