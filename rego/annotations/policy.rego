# annotations: an annotation is refused unless the site data declares it harmless or a
# rule of this library decides it. Runtimes read annotations the rules never see: podman
# 4.3's kube play honours seccomp.security.alpha.kubernetes.io/pod: unconfined (the
# container ran with Seccomp 0) and bind-mount-options: <path>:U (it chowned the host
# folder to the container user); kubelets and ingress controllers read their own.
package spin.rules.annotations

import data.spin.lib.site
import data.spin.lib.workload

meta := {
	"id": "annotations",
	"title": "Only annotations the site declares harmless",
	"profile": "site",
	"description": "Refuses an annotation on an object or its pod template unless the site data lists it (annotations.allow: exact keys, or prefix* for every key under a prefix) or a rule decides it (AppArmor's on the pod template, decided by pss_apparmor); seccomp, bind-mount-options and podman's, CRI-O's and crun's annotations are refused whatever the site lists.",
}

# Runtime switches that only a rule could decide, and none does: the site cannot allow them.
never := [
	"seccomp.security.alpha.kubernetes.io/", "container.seccomp.security.alpha.kubernetes.io/",
	"bind-mount-options", "io.podman.annotations.", "io.kubernetes.cri-o.", "io.containers.",
	"run.oci.", "io.katacontainers.", "io.kubernetes.cri.",
]

apparmor := "container.apparmor.security.beta.kubernetes.io/"

listed(key) if key in site.annotations_allowed

listed(key) if {
	some entry in site.annotations_allowed
	endswith(entry, "*")
	startswith(key, trim_suffix(entry, "*"))
}

forbidden(key) if {
	some prefix in never
	startswith(lower(key), prefix)
}

# AppArmor annotations in the pod's own metadata are decided by pss_apparmor; the last
# metadata path of a workload is its pod's.
decided(key, meta_path) if {
	startswith(key, apparmor)
	workload.is_workload
	meta_path == workload.metadata_paths[count(workload.metadata_paths) - 1]
}

# The gateway's own record of whom it made a call for, on the object's own metadata (never a
# pod template's): no runtime reads it, and the admission webhook decides whose it is.
decided(key, meta_path) if {
	key == "spin.io/requested-by"
	meta_path == ["metadata"]
}

escape(key) := replace(replace(key, "~", "~0"), "/", "~1")

entries contains {"key": key, "meta": p} if {
	is_object(workload.obj) # a DELETE call carries no object
	some p in workload.metadata_paths
	some key, _ in object.get(workload.obj, array.concat(p, ["annotations"]), {})
}

deny contains violation if {
	some e in entries
	forbidden(e.key)
	violation := {
		"rule": "annotations",
		"message": sprintf("annotation %q changes how the container runtime runs the pod, which no rule decides; remove it", [e.key]),
		"path": concat("/", [workload.pointer(e.meta), "annotations", escape(e.key)]),
	}
}

deny contains violation if {
	some e in entries
	not forbidden(e.key)
	not listed(e.key)
	not decided(e.key, e.meta)
	violation := {
		"rule": "annotations",
		"message": sprintf("annotation %q is not one this site declares harmless (%s), so it is refused; remove it, or use a compose label whose value is a valid Kubernetes label value", [e.key, concat(", ", site.annotations_allowed)]),
		"path": concat("/", [workload.pointer(e.meta), "annotations", escape(e.key)]),
	}
}
