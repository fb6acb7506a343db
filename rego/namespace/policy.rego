# namespace: calls only into the namespace of a project the caller belongs to.
package spin.rules.namespace

import data.spin.lib.site

meta := {
	"id": "namespace",
	"title": "Calls only into the caller's project namespaces",
	"profile": "site",
	"description": "Refuses a call into a namespace other than its compose project's, or for a facility project the caller is not a member of; members of the site's admin group are exempt.",
}

user := input.user

label := "spin.io/facility-project"

admin if site.admin_group in {g.name | some g in user.groups}

# The caller's own facility projects; a personal project is filed under the user's name.
mine := {p | some p in user.projects} | {user.name}

target := input.request.name if input.request.kind.kind == "Namespace"

target := input.request.namespace if input.request.kind.kind != "Namespace"

# DELETE calls carry the object in oldObject.
obj := input.request.object if is_object(input.request.object)

obj := input.request.oldObject if not is_object(input.request.object)

project := object.get(input, "project", {})

# Without the project context nothing is known to be the caller's: "" matches nothing.
facility_project := object.get(project, "facility_project", "")

project_namespace := object.get(project, "namespace", "")

deny contains violation if {
	not admin
	not facility_project in mine
	violation := {
		"rule": "namespace",
		"message": sprintf("project %q is filed under facility project %q, which you (%s) are not a member of; use one of yours: %s", [object.get(project, "name", ""), object.get(project, "facility_project", ""), user.name, concat(", ", sort(mine))]),
		"path": "/metadata/namespace",
	}
}

deny contains violation if {
	not admin
	target != project_namespace
	violation := {
		"rule": "namespace",
		"message": sprintf("the call goes into namespace %q, but project %q lives in %q; calls go only into the project's own namespace", [target, object.get(project, "name", ""), object.get(project, "namespace", "")]),
		"path": "/metadata/namespace",
	}
}

deny contains violation if {
	not admin
	owner := obj.metadata.labels[label]
	not owner in mine
	violation := {
		"rule": "namespace",
		"message": sprintf("the object is labelled for facility project %q, which you (%s) are not a member of; use one of yours: %s", [owner, user.name, concat(", ", sort(mine))]),
		"path": "/metadata/labels/spin.io~1facility-project",
	}
}

# Objects outside every namespace reach beyond the project: a PersistentVolume can point at
# any host path or share, a ClusterRoleBinding grants rights everywhere. The gateway
# creates none of them; the project's own Namespace is the one exception.
cluster_scoped := {
	"PersistentVolume", "ClusterRole", "ClusterRoleBinding", "StorageClass", "CustomResourceDefinition",
	"Node", "PriorityClass", "RuntimeClass", "IngressClass", "CSIDriver", "APIService",
	"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy",
	"ValidatingAdmissionPolicyBinding",
}

deny contains violation if {
	not admin
	input.request.kind.kind in cluster_scoped
	violation := {
		"rule": "namespace",
		"message": sprintf("a %s is not in any namespace and reaches beyond the project; only site administrators create them (a PersistentVolumeClaim asks for storage)", [input.request.kind.kind]),
		"path": "/kind",
	}
}
