# global-fs: each prefix of the global file system has its rule (whose project or user
# it belongs to, read-only or read-write); anything else under a global root is refused.
# Paths are normalised first, and a mount's subPath is resolved against its volume.
package spin.rules.global_fs

import data.spin.lib.paths
import data.spin.lib.site
import data.spin.lib.workload

meta := {
	"id": "global-fs",
	"title": "Global file system prefixes by owner",
	"profile": "site",
	"description": "A hostPath under the global file system must match a site prefix whose project or user is the caller's, mounted read-only where the prefix says so; anything else under it is refused. `..`, `//` and trailing slashes are resolved first.",
}

user := input.user

# Each place a global path is used: the volume itself, and every mount with a subPath.
uses contains use if {
	some hp in workload.host_paths
	workload.is_global(hp.path)
	use := {"volume": hp.name, "shown": hp.raw, "path": hp.path, "pointer": hp.pointer}
}

uses contains use if {
	some hp in workload.host_paths
	some m in workload.mounts
	m.mount.name == hp.name
	sub := object.get(m.mount, "subPath", "")
	sub != ""
	full := paths.normalise(concat("/", [hp.raw, sub]))
	workload.is_global(full)
	use := {"volume": hp.name, "shown": concat("/", [hp.raw, sub]), "path": full, "pointer": sprintf("%s/subPath", [m.path])}
}

# A prefix pattern matches when its literal segments do; placeholders are checked by owned().
matches(pattern, segs) if {
	ps := paths.segments(paths.normalise(pattern))
	count(segs) >= count(ps)
	every i, p in ps {
		literal_ok(p, segs[i])
	}
}

literal_ok(p, _) if placeholder(p)

literal_ok(p, seg) if p == seg

placeholder(p) if regex.match(`^\{[a-z]+\}$`, p)

# The caller owns the path under this pattern.
owned(pattern, segs) if {
	ps := paths.segments(paths.normalise(pattern))
	every i, p in ps {
		binds(p, segs[i])
	}
}

binds(p, _) if not placeholder(p)

binds("{project}", value) if value in user.projects

binds("{user}", value) if value == user.name

binds("{initial}", value) if value == substring(user.name, 0, 1)

# Access granted to a path: the access of every owned matching prefix.
access(path) := {object.get(prefix, "access", "read-only") |
	segs := paths.segments(path)
	some prefix in site.global_prefixes
	matches(prefix.path, segs)
	owned(prefix.path, segs)
}

deny contains violation if {
	some use in uses
	segs := paths.segments(use.path)
	not any_match(segs)
	violation := {
		"rule": "global-fs",
		"message": sprintf("volume %q mounts %s (%s once normalised), which no global file system rule allows; mount under %s", [use.volume, use.shown, use.path, concat(", ", [p.path | some p in site.global_prefixes])]),
		"path": use.pointer,
	}
}

deny contains violation if {
	some use in uses
	segs := paths.segments(use.path)
	some prefix in site.global_prefixes
	matches(prefix.path, segs)
	count(access(use.path)) == 0
	violation := {
		"rule": "global-fs",
		"message": sprintf("volume %q mounts %s, which belongs to someone else: %s is for %s; you (%s) may mount your projects (%s) and your home", [use.volume, use.path, prefix.path, owner_words(prefix.path), user.name, concat(", ", user.projects)]),
		"path": use.pointer,
	}
}

# A mount of a read-only prefix must say readOnly.
deny contains violation if {
	some hp in workload.host_paths
	workload.is_global(hp.path)
	granted := access(hp.path)
	count(granted) > 0
	not "read-write" in granted
	some m in workload.mounts
	m.mount.name == hp.name
	not m.mount.readOnly == true
	violation := {
		"rule": "global-fs",
		"message": sprintf("container %q mounts %s read-write, but it is read-only for project members; mount it read-only (`:ro` in compose, readOnly: true)", [m.container, hp.path]),
		"path": m.path,
	}
}

deny contains violation if {
	some hp in workload.host_paths
	workload.is_global(hp.path)
	some m in workload.mounts
	m.mount.name == hp.name
	m.mount.subPathExpr
	violation := {
		"rule": "global-fs",
		"message": sprintf("container %q mounts %s with subPathExpr, which cannot be checked before it runs; use a plain path", [m.container, hp.path]),
		"path": sprintf("%s/subPathExpr", [m.path]),
	}
}

any_match(segs) if {
	some prefix in site.global_prefixes
	matches(prefix.path, segs)
}

owner_words(pattern) := "members of that project" if contains(pattern, "{project}")

owner_words(pattern) := "that user only" if {
	not contains(pattern, "{project}")
	contains(pattern, "{user}")
}

owner_words(pattern) := "its owner" if {
	not contains(pattern, "{project}")
	not contains(pattern, "{user}")
}

# Kubernetes refuses a subPath with `..` too; refusing it here keeps read-only prefixes
# from being reached through a read-write one.
deny contains violation if {
	some hp in workload.host_paths
	workload.is_global(hp.path)
	some m in workload.mounts
	m.mount.name == hp.name
	".." in split(object.get(m.mount, "subPath", ""), "/")
	violation := {
		"rule": "global-fs",
		"message": sprintf("container %q mounts %s with subPath %q; a subPath must not contain `..`", [m.container, hp.path, m.mount.subPath]),
		"path": sprintf("%s/subPath", [m.path]),
	}
}
