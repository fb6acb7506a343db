# pss-host-probes (Pod Security Standards, baseline): probes and lifecycle
# handlers reach the pod itself, never another host; a `host` there would let
# the kubelet connect to any address on the pod's behalf.
package spin.rules.pss_host_probes

import data.spin.lib.workload

meta := {
	"id": "pss-host-probes",
	"title": "No host in probes or lifecycle handlers",
	"profile": "baseline",
	"description": "Refuses httpGet.host or tcpSocket.host in liveness, readiness and startup probes and in postStart/preStop handlers of any container.",
}

handlers contains [entry, place] if {
	some entry in workload.containers
	some probe in ["livenessProbe", "readinessProbe", "startupProbe"]
	entry.container[probe]
	place := [probe]
}

handlers contains [entry, place] if {
	some entry in workload.containers
	some hook in ["postStart", "preStop"]
	entry.container.lifecycle[hook]
	place := ["lifecycle", hook]
}

deny contains violation if {
	some [entry, place] in handlers
	some action in ["httpGet", "tcpSocket"]
	host := object.get(entry.container, array.concat(place, [action, "host"]), "")
	host != ""
	where := concat("/", array.concat(place, [action, "host"]))
	violation := {
		"rule": "pss-host-probes",
		"message": sprintf("container %q sets %s %q; probes and lifecycle handlers may only reach the pod itself. Remove the host.", [entry.container.name, replace(where, "/", "."), host]),
		"path": sprintf("%s/%s", [entry.path, where]),
	}
}
