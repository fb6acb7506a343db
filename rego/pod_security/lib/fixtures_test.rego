# Inputs shared by the pod_security Rego tests (a _test file: loaded only with the tests).
package spin.lib.pod_security_fixtures

pod(spec) := {"request": {"object": {"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}, "project": {"facility_project": "astro"}}

one(sc) := pod({"containers": [{"name": "c", "image": "x", "securityContext": sc}]})

deployment(spec, annotations) := {"project": {"facility_project": "astro"}, "request": {"object": {
	"kind": "Deployment",
	"metadata": {"name": "d"},
	"spec": {"template": {"metadata": {"annotations": annotations}, "spec": spec}},
}}}

restricted := {"pod_security": "restricted"}

# A container that meets the restricted standard, and a pod of it.
good_sc := {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}

good_pod_sc := {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}}

good := pod({"securityContext": good_pod_sc, "containers": [{"name": "c", "image": "x", "securityContext": good_sc}]})
