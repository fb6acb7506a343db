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

# Patches in rule-name order so the same input always yields the same list.
patch := [op |
	some name in sort(object.keys(data.spin.rules))
	some op in object.get(data.spin.rules[name], "patch", [])
]
