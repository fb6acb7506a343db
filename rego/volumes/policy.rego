# volumes: only volume types that cannot reach the node, and hostPath only into the
# global file system (whose prefixes the global-fs rule governs).
package spin.rules.volumes

import data.spin.lib.site
import data.spin.lib.workload

meta := {
	"id": "volumes",
	"title": "Volume types from the allowlist; hostPath only into the global file system",
	"profile": "site",
	"description": "Refuses volume types outside the site allowlist, and hostPath volumes whose normalised path is outside every global file system root.",
}

deny contains violation if {
	some entry in workload.volumes
	some type, _ in entry.volume
	type != "name"
	type != "hostPath"
	not type in site.volume_types
	violation := {
		"rule": "volumes",
		"message": sprintf("volume %q is of type %s, which this site does not allow (allowed: %s, and hostPath under %s)", [entry.name, type, concat(", ", sort(site.volume_types)), concat(", ", site.global_roots)]),
		"path": sprintf("%s/%s", [entry.path, type]),
	}
}

deny contains violation if {
	some hp in workload.host_paths
	not workload.is_global(hp.path)
	violation := {
		"rule": "volumes",
		"message": sprintf("volume %q mounts %s from the node (%s once normalised); only the global file system (%s) may be mounted. Use a named volume instead.", [hp.name, hp.raw, hp.path, concat(", ", site.global_roots)]),
		"path": hp.pointer,
	}
}

# A hostPath whose path is missing or not text is refused here: the other checks read it
# as text and would pass over it.
deny contains violation if {
	some entry in workload.volumes
	entry.volume.hostPath
	not is_string(object.get(entry.volume.hostPath, "path", null))
	violation := {
		"rule": "volumes",
		"message": sprintf("volume %q: hostPath needs a path, as text", [entry.name]),
		"path": concat("", [entry.path, "/hostPath"]),
	}
}

deny contains violation if {
	some entry in workload.volumes
	raw := entry.volume.hostPath.path
	is_string(raw)
	not startswith(raw, "/")
	violation := {
		"rule": "volumes",
		"message": sprintf("volume %q: hostPath %q is not an absolute path", [entry.name, raw]),
		"path": sprintf("%s/hostPath/path", [entry.path]),
	}
}
