# JSON Patch helpers shared by the rules.
#
# Convention (keep it in every rule, rego/pod_security/ included): a rule that sets a
# field whose parents may be missing emits an `add` of `{}` for each missing parent plus
# the leaf. Identical parent ops from different rules collapse in data.spin.admission's
# set, and the sorted list puts every parent before its children, so two rules never
# overwrite each other's fields (an `add` on an existing member would replace it).
package spin.lib.patch

# ops setting keys (one to three, e.g. ["securityContext", "runAsUser"]) under the object
# `current`, which lives at JSON pointer `base`. Written out per depth: a generic
# comprehension over the keys cost several times more per call.
ensure(base, _, [k0], value) := {leaf(base, [k0], value)}

ensure(base, current, [k0, k1], value) := _missing(base, current, [k0]) | {leaf(base, [k0, k1], value)}

ensure(base, current, [k0, k1, k2], value) := (_missing(base, current, [k0]) | _missing(base, current, [k0, k1])) | {leaf(base, [k0, k1, k2], value)}

leaf(base, keys, value) := {"op": "add", "path": pointer(base, keys), "value": value}

_missing(base, current, keys) := {{"op": "add", "path": pointer(base, keys), "value": {}}} if not is_object(object.get(current, keys, null))

_missing(_, current, keys) := set() if is_object(object.get(current, keys, null))

pointer(base, keys) := concat("/", array.concat([base], keys))
