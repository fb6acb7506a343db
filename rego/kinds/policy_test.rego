package spin.rules.kinds_test

import data.spin.rules.kinds
import data.spin.test.fixtures as f

obj(kind) := {"apiVersion": "v1", "kind": kind, "metadata": {"name": "x", "namespace": "demo"}}

test_every_known_kind_is_allowed if {
	every k in ["Pod", "Deployment", "ReplicationController", "PodTemplate", "CronJob", "Service", "Secret", "Namespace"] {
		count(kinds.deny) == 0 with input as f.request(obj(k))
	}
}

test_unknown_kind_is_refused if {
	some v in kinds.deny with input as f.request(obj("Widget"))
	v.rule == "kinds"
	contains(v.message, "Widget")
}

test_missing_kind_is_refused if {
	count(kinds.deny) == 1 with input as {"request": {"object": {"metadata": {"name": "x"}}}}
}

test_site_may_add_kinds if {
	count(kinds.deny) == 0 with input as f.request(obj("ResourceQuota")) with data.spin.config as {"kinds": ["ResourceQuota"]}
}

test_declared_kind_must_match_the_object if {
	inp := json.patch(f.request(obj("Deployment")), [{"op": "replace", "path": "/request/kind/kind", "value": "Namespace"}])
	some v in kinds.deny with input as inp
	contains(v.message, "declares kind")
}

test_delete_reads_old_object if {
	inp := {"request": {"kind": {"kind": "Widget"}, "object": null, "oldObject": obj("Widget")}}
	count(kinds.deny) == 1 with input as inp
}

test_cluster_scoped_kinds_are_refused_for_administrators_too if {
	admin := object.union(f.alice, {"groups": [{"name": "spin-admins", "gid": 1}]})
	inp := object.union(f.request(obj("PersistentVolume")), {"user": admin})
	count(kinds.deny) == 1 with input as inp
	count(kinds.deny) == 0 with input as f.request(obj("PersistentVolume"))
}
