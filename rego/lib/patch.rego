# JSON Patch helpers shared by the rules.
#
# Convention (keep it in every rule, rego/pod_security/ included): a rule that sets a
# field whose parents may be missing emits an `add` of `{}` for each missing parent plus
# the leaf. Identical parent ops from different rules collapse in data.spin.admission's
# set, and the sorted list puts every parent before its children, so two rules never
# overwrite each other's fields (an `add` on an existing member would replace it).
package spin.lib.patch

# ops setting keys (e.g. ["securityContext", "runAsUser"]) under the object `current`,
# which lives at JSON pointer `base`.
ensure(base, current, keys, value) := ops if {
	parents := {{"op": "add", "path": pointer(base, array.slice(keys, 0, k)), "value": {}} |
		some k, _ in keys
		k >= 1
		object.get(current, array.slice(keys, 0, k), null) == null
	}
	ops := parents | {{"op": "add", "path": pointer(base, keys), "value": value}}
}

pointer(base, keys) := concat("/", array.concat([base], keys))
