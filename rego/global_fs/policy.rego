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
	m.volume == hp.name
	sub := object.get(m.mount, "subPath", "")
	sub != ""
	full := paths.normalise(concat("/", [hp.raw, sub]))
	workload.is_global(full)
	use := {"volume": hp.name, "shown": concat("/", [hp.raw, sub]), "path": full, "pointer": sprintf("%s/subPath", [m.path])}
}

# The site's prefixes, prepared once per decision: `head` is the literal part before the
# first placeholder ("/global/cfs/projects/"), a cheap first filter; `segs` the segments.
prefix_rules := [{"pattern": p.path, "head": split(p.path, "{")[0], "segs": split(trim(p.path, "/"), "/"), "access": object.get(p, "access", "read-only")} |
	some p in site.global_prefixes
]

# Each use with the prefixes it is under and the access the caller's own matches grant,
# computed once and read by every refusal below.
checked contains {"use": use, "matched": matched, "granted": granted} if {
	some use in uses
	slashed := concat("", [use.path, "/"])
	segs := split(trim_prefix(use.path, "/"), "/")
	found := [{"rule": r, "values": values} |
		some r in prefix_rules
		startswith(slashed, r.head)
		count(segs) >= count(r.segs)
		# literal segments after the first placeholder must match too ("/x/{project}/data")
		[i | some i, s in r.segs; not startswith(s, "{"); segs[i] != s] == []
		values := {s: segs[i] | some i, s in r.segs; startswith(s, "{")}
	]
	matched := [f.rule | some f in found]
	granted := {f.rule.access | some f in found; owned(f.values)}
}

# The caller owns the path: each placeholder's value is theirs.
owned(values) if {
	every name, value in values {
		binds(name, value)
	}
}

binds("{project}", value) if value in user.projects

binds("{user}", value) if value == user.name

binds("{initial}", value) if value == substring(user.name, 0, 1)

deny contains violation if {
	some c in checked
	count(c.matched) == 0
	violation := {
		"rule": "global-fs",
		"message": sprintf("volume %q mounts %s (%s once normalised), which no global file system rule allows; mount under %s", [c.use.volume, c.use.shown, c.use.path, concat(", ", [p.path | some p in site.global_prefixes])]),
		"path": c.use.pointer,
	}
}

deny contains violation if {
	some c in checked
	count(c.granted) == 0
	some r in c.matched
	violation := {
		"rule": "global-fs",
		"message": sprintf("volume %q mounts %s, which belongs to someone else: %s is for %s; you (%s) may mount your projects (%s) and your home", [c.use.volume, c.use.path, r.pattern, owner_words(r.pattern), user.name, concat(", ", user.projects)]),
		"path": c.use.pointer,
	}
}

# A mount of a read-only prefix must say readOnly.
deny contains violation if {
	some c in checked
	count(c.granted) > 0
	not "read-write" in c.granted
	some m in workload.mounts
	m.volume == c.use.volume
	not m.mount.readOnly == true
	violation := {
		"rule": "global-fs",
		"message": sprintf("container %q mounts %s read-write, but it is read-only for project members; mount it read-only (`:ro` in compose, readOnly: true)", [m.container, c.use.path]),
		"path": m.path,
	}
}

deny contains violation if {
	some hp in workload.host_paths
	workload.is_global(hp.path)
	some m in workload.mounts
	m.volume == hp.name
	m.mount.subPathExpr
	violation := {
		"rule": "global-fs",
		"message": sprintf("container %q mounts %s with subPathExpr, which cannot be checked before it runs; use a plain path", [m.container, hp.path]),
		"path": sprintf("%s/subPathExpr", [m.path]),
	}
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
	m.volume == hp.name
	".." in split(object.get(m.mount, "subPath", ""), "/")
	violation := {
		"rule": "global-fs",
		"message": sprintf("container %q mounts %s with subPath %q; a subPath must not contain `..`", [m.container, hp.path, m.mount.subPath]),
		"path": sprintf("%s/subPath", [m.path]),
	}
}
