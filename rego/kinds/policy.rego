# kinds: an object of a kind the library does not know is refused, since no rule would
# decide what it runs (a ReplicationController or a PodTemplate carries a pod spec that
# every workload rule must see; lib/workload.rego names the pod-carrying kinds).
package spin.rules.kinds

import data.spin.lib.site
import data.spin.lib.workload

meta := {
	"id": "kinds",
	"title": "Only kinds the library decides",
	"profile": "site",
	"description": "Refuses an object whose kind is neither a pod-carrying kind (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate) nor one the site data lists (kinds), and a call whose declared kind differs from its object's.",
}

# DELETE calls carry the object in oldObject.
obj := input.request.object if is_object(input.request.object)

obj := input.request.oldObject if not is_object(input.request.object)

kind := object.get(obj, "kind", "")

known(k) if k in workload.workload_kinds

known(k) if k in site.kinds

# A cluster-scoped kind a non-administrator sends is refused by the namespace rule already,
# with the better reason; administrators pass that rule, and this one refuses it.
left_to_namespace if {
	not data.spin.rules.namespace.admin
	kind in data.spin.rules.namespace.cluster_scoped
	input.request.kind.kind == kind
}

deny contains violation if {
	not known(kind)
	not left_to_namespace
	violation := {
		"rule": "kinds",
		"message": sprintf("kind %q is not one this site decides, so it is refused; use %s", [kind, concat(", ", sort(workload.workload_kinds | site.kinds))]),
		"path": "/kind",
	}
}

# Rules read the object; a request that names another kind would be decided as one thing
# and run as another.
deny contains violation if {
	declared := object.get(input.request, ["kind", "kind"], kind)
	declared != kind
	violation := {
		"rule": "kinds",
		"message": sprintf("the call declares kind %q but its object is a %q; send the object's own kind", [declared, kind]),
		"path": "/kind",
	}
}
