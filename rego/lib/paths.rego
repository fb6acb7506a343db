# Path normalisation for hostPath rules: `..`, `.`, `//` and trailing slashes
# are resolved before any prefix is compared, so none of them gets around a rule.
package spin.lib.paths

# "/global/cfs/projects/astro/../../../etc/" -> "/global/etc"; ".." at the root stays at the
# root, as the kernel resolves it. Rego has no loops with state, so: the depth after each
# segment is the plain running sum minus its lowest point so far (a walk reflected at zero),
# and a name survives when no later segment takes the depth below its own.
normalise(path) := out if {
	not contains(path, "..")
	out := concat("", ["/", concat("/", [p | some p in split(path, "/"); p != ""; p != "."])])
}

# The general case, only for paths with `..` (it costs a few sums per segment).
normalise(path) := out if {
	contains(path, "..")
	parts := [p | some p in split(path, "/"); p != ""; p != "."]
	steps := [step(p) | some p in parts]
	sums := [sum(array.slice(steps, 0, k + 1)) | some k, _ in steps]
	depth := [d | some k, s in sums; d := s - min(array.concat([0], array.slice(sums, 0, k + 1)))]
	kept := [p | some i, p in parts; p != ".."; not _popped(i, depth)]
	out := concat("", ["/", concat("/", kept)])
}

step("..") := -1

step(p) := 1 if p != ".."

_popped(i, depth) if {
	some k, d in depth
	k > i
	d < depth[i]
}

# The segments of a normalised path: "/a/b" -> ["a", "b"], "/" -> [].
segments(normalised) := [s | some s in split(normalised, "/"); s != ""]

# path is prefix or below it (both normalised): "/global/cfsx" is not under "/global/cfs".
under(path, prefix) if path == prefix

under(path, prefix) if startswith(path, concat("", [trim_suffix(prefix, "/"), "/"]))
