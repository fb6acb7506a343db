# Inputs the rules' unit tests share (loaded only with the tests).
package spin.test.fixtures

alice := {"name": "alice", "uid": 1001, "gid": 1001, "groups": [{"name": "astro", "gid": 5001}], "projects": ["astro"]}

project := {"name": "demo", "namespace": "demo", "facility_project": "astro", "owner": "alice"}

request(obj) := {"user": alice, "project": project, "request": {
	"operation": "CREATE",
	"kind": {"group": "apps", "version": "v1", "kind": obj.kind},
	"namespace": "demo",
	"name": obj.metadata.name,
	"object": obj,
}}

container(extra) := object.union({"name": "web", "image": "localhost/spin/busybox:1.35"}, extra)

# A Deployment of the given containers and pod-spec fields.
deployment(containers, pod) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "web", "namespace": "demo"},
	"spec": {"template": {"spec": object.union(pod, {"containers": containers})}},
}

# The input for one container with extra fields, in a Deployment with extra pod-spec fields.
one(extra, pod) := request(deployment([container(extra)], pod))

# A Deployment mounting hostPath `path` at /data (read-only when ro).
mounting(path, ro) := one(
	{"volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": ro}]},
	{"volumes": [{"name": "data", "hostPath": {"path": path}}]},
)

rules_of(deny) := {v.rule | some v in deny}
