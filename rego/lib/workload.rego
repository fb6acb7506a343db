# Where the pod spec of each workload kind lives, and every container in it,
# each with the JSON Pointer of its place in the object.
package spin.lib.workload

import data.spin.lib.paths
import data.spin.lib.site

obj := input.request.object

pod_spec_path := ["spec"] if obj.kind == "Pod"

pod_spec_path := ["spec", "template", "spec"] if obj.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

pod_spec_path := ["spec", "jobTemplate", "spec", "template", "spec"] if obj.kind == "CronJob"

is_workload if pod_spec_path

pod_spec := object.get(obj, pod_spec_path, {})

pointer(parts) := concat("", [sprintf("/%v", [p]) | some p in parts])

pod_pointer := pointer(pod_spec_path)

# {"container": c, "path": "/spec/template/spec/containers/0", "field": "containers"}
containers contains entry if {
	some field in ["initContainers", "containers", "ephemeralContainers"]
	some i, c in object.get(pod_spec, field, [])
	entry := {"container": c, "field": field, "path": sprintf("%s/%s/%d", [pod_pointer, field, i])}
}

# {"volume": v, "path": "/spec/template/spec/volumes/0"}
volumes contains entry if {
	some i, v in object.get(pod_spec, "volumes", [])
	entry := {"volume": v, "path": sprintf("%s/volumes/%d", [pod_pointer, i])}
}

# Every volumeMount: {"container": name, "mount": m, "path": ".../containers/0/volumeMounts/1"}
mounts contains entry if {
	some c in containers
	some j, m in object.get(c.container, "volumeMounts", [])
	entry := {"container": c.container.name, "mount": m, "path": sprintf("%s/volumeMounts/%d", [c.path, j])}
}

# hostPath volumes with their path normalised: {"name", "raw", "path", "pointer"}
host_paths contains hp if {
	some entry in volumes
	raw := entry.volume.hostPath.path
	hp := {"name": entry.volume.name, "raw": raw, "path": paths.normalise(raw), "pointer": sprintf("%s/hostPath/path", [entry.path])}
}

# Under one of the site's global file system roots (after normalisation).
is_global(path) if {
	some root in site.global_roots
	paths.under(path, paths.normalise(root))
}

# The workload mounts the global file system: what makes uid-mapping apply.
mounts_global if {
	some hp in host_paths
	is_global(hp.path)
}
