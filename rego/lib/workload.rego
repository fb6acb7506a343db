# Where the pod spec of each workload kind lives, and every container in it,
# each with the JSON Pointer of its place in the object.
package spin.lib.workload

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
