package spin.rules.namespace_test

import data.spin.rules.namespace
import data.spin.test.fixtures as f

configmap(ns, labels) := {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": ns, "labels": labels}}

call(obj, ns, user, project) := {"user": user, "project": project, "request": {
	"operation": "CREATE", "kind": {"kind": obj.kind}, "namespace": ns, "name": obj.metadata.name, "object": obj,
}}

test_own_project_namespace_is_allowed if {
	inp := call(configmap("demo", {"spin.io/facility-project": "astro"}), "demo", f.alice, f.project)
	count(namespace.deny) == 0 with input as inp
}

test_namespace_object_itself_is_allowed if {
	obj := {"kind": "Namespace", "metadata": {"name": "demo"}}
	count(namespace.deny) == 0 with input as call(obj, "demo", f.alice, f.project)
}

test_another_namespace_is_denied if {
	some v in namespace.deny with input as call(configmap("kube-system", {}), "kube-system", f.alice, f.project)
	v.rule == "namespace"
	contains(v.message, "kube-system")
}

test_a_project_of_a_facility_project_not_yours_is_denied if {
	project := object.union(f.project, {"facility_project": "climate"})
	some v in namespace.deny with input as call(configmap("demo", {}), "demo", f.alice, project)
	contains(v.message, "climate")
}

test_an_object_labelled_for_another_facility_project_is_denied if {
	some v in namespace.deny with input as call(configmap("demo", {"spin.io/facility-project": "climate"}), "demo", f.alice, f.project)
	v.path == "/metadata/labels/spin.io~1facility-project"
}

test_personal_project_is_allowed if {
	project := object.union(f.project, {"facility_project": "alice"})
	count(namespace.deny) == 0 with input as call(configmap("demo", {}), "demo", f.alice, project)
}

test_admins_may_call_into_any_namespace if {
	carol := {"name": "carol", "uid": 1003, "gid": 1003, "groups": [{"name": "spin-admins", "gid": 5100}], "projects": []}
	project := object.union(f.project, {"facility_project": "climate"})
	count(namespace.deny) == 0 with input as call(configmap("kube-system", {}), "kube-system", carol, project)
}

test_delete_is_checked_on_the_old_object if {
	obj := configmap("demo", {"spin.io/facility-project": "climate"})
	inp := {"user": f.alice, "project": f.project, "request": {
		"operation": "DELETE", "kind": {"kind": "ConfigMap"}, "namespace": "demo", "name": "c", "object": null, "oldObject": obj,
	}}
	count(namespace.deny) == 1 with input as inp
}

test_a_call_without_project_context_is_denied if {
	inp := {"user": f.alice, "request": {"kind": {"kind": "ConfigMap"}, "namespace": "demo", "name": "c", "object": configmap("demo", {})}}
	count(namespace.deny) >= 1 with input as inp
}

test_cluster_scoped_objects_are_denied if {
	pv := {"kind": "PersistentVolume", "metadata": {"name": "steal"}, "spec": {"hostPath": {"path": "/etc"}}}
	some v in namespace.deny with input as call(pv, "demo", f.alice, f.project)
	v.path == "/kind"
	contains(v.message, "PersistentVolume")
}
