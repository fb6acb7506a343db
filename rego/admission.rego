# The one document the gateway asks for: data.spin.admission.
# Every rule lives in its own package under spin.rules.<rule> and contributes
# to deny (violations {rule, message, path}), patch (JSON Patch ops) and warn.
package spin.admission

deny contains violation if {
	some name
	some violation in data.spin.rules[name].deny
}

warn contains message if {
	some name
	some message in data.spin.rules[name].warn
}

# One set across rules, so a parent `{}` two rules both need is added once (see
# lib/patch.rego); sorted, so every parent comes before its children and the same
# input always yields the same list.
patch := sort({op |
	some name
	some op in data.spin.rules[name].patch
})
