# mount_paths: a mount path is a path and nothing else. Podman 4.3 reads what follows a
# `:` in a mountPath as bind options (`/data:U` chowned the host folder recursively to the
# container user, `/data:ro,U` too); a NUL byte passes the string rules and fails later in
# the runtime; a path with `..`, `.`, `//` or a trailing slash is decided in one spelling
# and bound in another. So every host path, mount path and subPath must be plain and
# normalised, so the rules decide exactly the string the runtime receives.
package spin.rules.mount_paths

import data.spin.lib.paths
import data.spin.lib.workload

meta := {
	"id": "mount_paths",
	"title": "Mount paths are plain, normalised paths",
	"profile": "site",
	"description": "Refuses a hostPath path, volumeMount mountPath or subPath holding `:` (podman reads bind options after it, such as :U, which chowns the host folder), a control character such as NUL, and a subPath that is absolute or holds `..`; a host or mount path not in its normal form (`..`, `.`, `//`, trailing `/`) is patched to it, the form the other rules decide.",
}

# ":" and every ASCII control character (NUL included).
bad_char(s) if contains(s, ":")

bad_char(s) if regex.match(`[\x00-\x1f\x7f]`, s)

reason(s) := "holds `:`, after which podman reads bind options such as :U (chown the host folder)" if contains(s, ":")

reason(s) := "holds a control character" if {
	not contains(s, ":")
	regex.match(`[\x00-\x1f\x7f]`, s)
}

# Absolute, and spelt as its normal form ("/" itself is normal).
unnormal(s) if {
	startswith(s, "/")
	not bad_char(s)
	s != paths.normalise(s)
}

host_paths contains {"name": entry.name, "raw": raw, "pointer": concat("", [entry.path, "/hostPath/path"])} if {
	some entry in workload.volumes
	raw := entry.volume.hostPath.path
	is_string(raw)
}

deny contains violation if {
	some hp in host_paths
	bad_char(hp.raw)
	violation := {
		"rule": "mount_paths",
		"message": sprintf("volume %q: hostPath %q %s; name the folder alone", [hp.name, hp.raw, reason(hp.raw)]),
		"path": hp.pointer,
	}
}

# A spelling that is not normal is replaced by its normal form, the one the other rules
# decide (global_fs and uid_mapping read the normalised path), so the runtime binds exactly
# the decided string.
patch contains {"op": "replace", "path": hp.pointer, "value": paths.normalise(hp.raw)} if {
	some hp in host_paths
	unnormal(hp.raw)
}

deny contains violation if {
	some m in workload.mounts
	raw := object.get(m.mount, "mountPath", "")
	not is_string(raw)
	violation := {
		"rule": "mount_paths",
		"message": sprintf("container %q mounts volume %q at a mountPath that is not text", [m.container, m.volume]),
		"path": concat("", [m.path, "/mountPath"]),
	}
}

deny contains violation if {
	some m in workload.mounts
	raw := m.mount.mountPath
	is_string(raw)
	bad_char(raw)
	violation := {
		"rule": "mount_paths",
		"message": sprintf("container %q mounts volume %q at %q, which %s; use a plain path and readOnly for read-only", [m.container, m.volume, raw, reason(raw)]),
		"path": concat("", [m.path, "/mountPath"]),
	}
}

deny contains violation if {
	some m in workload.mounts
	raw := m.mount.mountPath
	is_string(raw)
	not bad_char(raw)
	not startswith(raw, "/")
	violation := {
		"rule": "mount_paths",
		"message": sprintf("container %q mounts volume %q at %q, which is not an absolute path", [m.container, m.volume, raw]),
		"path": concat("", [m.path, "/mountPath"]),
	}
}

patch contains {"op": "replace", "path": concat("", [m.path, "/mountPath"]), "value": paths.normalise(raw)} if {
	some m in workload.mounts
	raw := m.mount.mountPath
	is_string(raw)
	unnormal(raw)
}

# subPath and subPathExpr name a path inside the volume.
deny contains violation if {
	some m in workload.mounts
	some field in ["subPath", "subPathExpr"]
	raw := m.mount[field]
	bad_sub(raw)
	violation := {
		"rule": "mount_paths",
		"message": sprintf("container %q mounts %s %q of volume %q, which must be a relative path inside the volume without `..`, `:` or control characters", [m.container, field, raw, m.volume]),
		"path": concat("/", [m.path, field]),
	}
}

bad_sub(raw) if not is_string(raw)

bad_sub(raw) if bad_char(raw)

bad_sub(raw) if startswith(raw, "/")

bad_sub(raw) if ".." in split(raw, "/")
