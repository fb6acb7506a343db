# Where the pod spec of each workload kind lives, and every container in it,
# each with the JSON Pointer of its place in the object.
package spin.lib.workload

import data.spin.lib.paths
import data.spin.lib.site

obj := input.request.object

pod_spec_path := ["spec"] if obj.kind == "Pod"

pod_spec_path := ["spec", "template", "spec"] if obj.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}

pod_spec_path := ["template", "spec"] if obj.kind == "PodTemplate"

pod_spec_path := ["spec", "jobTemplate", "spec", "template", "spec"] if obj.kind == "CronJob"

# Every kind that carries a pod spec: each rule decides them all alike (the kinds rule
# refuses any kind not here nor in the site's list).
workload_kinds := {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController", "PodTemplate"}

is_workload if pod_spec_path

# Every metadata object whose annotations can reach a runtime, as pointer parts: the
# object's own and each template's (a CronJob has two).
metadata_paths := array.concat([["metadata"]], [p |
	some k, part in pod_spec_path
	part in {"template", "jobTemplate"}
	p := array.concat(array.slice(pod_spec_path, 0, k + 1), ["metadata"])
])

pod_spec := object.get(obj, pod_spec_path, {})

# Built with concat, not sprintf: these run for every container of every decision.
pointer(parts) := concat("", ["/", concat("/", parts)])

pod_pointer := pointer(pod_spec_path)

# {"container": c, "name": c.name, "path": "/spec/template/spec/containers/0", "field": "containers"}
# Rules use entry.name, never c.name: a message built from an undefined name would be
# undefined too, and the violation would silently vanish (fail open).
# Arrays, not sets: a set hashes each element, here a whole container, on every decision.
containers := [entry |
	some field in ["initContainers", "containers", "ephemeralContainers"]
	some i, c in object.get(pod_spec, field, [])
	entry := {"container": c, "name": object.get(c, "name", ""), "field": field, "path": concat("/", [pod_pointer, field, format_int(i, 10)])}
]

# {"volume": v, "path": "/spec/template/spec/volumes/0"}
volumes := [entry |
	some i, v in object.get(pod_spec, "volumes", [])
	entry := {"volume": v, "name": object.get(v, "name", ""), "path": concat("/", [pod_pointer, "volumes", format_int(i, 10)])}
]

# Every volumeMount: {"container": name, "mount": m, "path": ".../containers/0/volumeMounts/1"}
mounts := [entry |
	some c in containers
	some j, m in object.get(c.container, "volumeMounts", [])
	entry := {"container": c.name, "mount": m, "volume": object.get(m, "name", ""), "path": concat("/", [c.path, "volumeMounts", format_int(j, 10)])}
]

# hostPath volumes with their path normalised: {"name", "raw", "path", "pointer"}
host_paths := [hp |
	some entry in volumes
	raw := entry.volume.hostPath.path
	is_string(raw) # the volumes rule refuses any other
	hp := {"name": entry.name, "raw": raw, "path": paths.normalise(raw), "pointer": concat("", [entry.path, "/hostPath/path"])}
]

global_roots := [paths.normalise(root) | some root in site.global_roots]

# Under one of the site's global file system roots (after normalisation).
is_global(path) if {
	some root in global_roots
	paths.under(path, root)
}

# The workload mounts the global file system: what makes uid-mapping apply.
mounts_global if {
	some hp in host_paths
	is_global(hp.path)
}
