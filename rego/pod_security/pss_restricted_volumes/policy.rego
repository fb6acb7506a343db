# pss-restricted-volumes (Pod Security Standards, restricted): only volume types
# that cannot reach the node or storage outside Kubernetes' control.
package spin.rules.pss_restricted_volumes

import data.spin.lib.pod_security as pss
import data.spin.lib.workload

meta := {
	"id": "pss-restricted-volumes",
	"title": "Only restricted volume types",
	"profile": "restricted",
	"description": "Refuses volumes other than configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret (hostPath included, global file systems too).",
}

allowed := {
	"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
	"persistentVolumeClaim", "projected", "secret",
}

deny contains violation if {
	pss.restricted
	some i, volume in object.get(workload.pod_spec, "volumes", [])
	# A volume that names no source is an emptyDir: the API server defaults it so.
	some kind in object.keys(volume) - {"name"}
	not kind in allowed
	violation := {
		"rule": "pss-restricted-volumes",
		"message": sprintf("volume %q is of type %v, which is not allowed (global file system mounts included); use a named volume (persistentVolumeClaim), emptyDir, configMap or secret instead. %s", [object.get(volume, "name", i), kind, pss.reason]),
		"path": sprintf("%s/volumes/%d/%s", [workload.pod_pointer, i, kind]),
	}
}
