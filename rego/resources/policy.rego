# resources: every container has limits (site defaults where missing), none above the site maxima.
package spin.rules.resources

import data.spin.lib.site
import data.spin.lib.workload

meta := {
	"id": "resources",
	"title": "Resource limits within the site maxima",
	"profile": "site",
	"description": "Sets missing cpu and memory limits to the site defaults (patch); refuses limits or requests above the site maxima, and quantities that are not quantities.",
}

quantity_pattern := `^[0-9]+(\.[0-9]+)?(m|k|K|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$`

valid(q) if regex.match(quantity_pattern, sprintf("%v", [q]))

amount(q) := units.parse(sprintf("%v", [q]))

# Missing limits, and the parents they need (see lib/patch.rego), as plain rules: these run
# for every container of every decision, and rules cost less than function calls.
# (`not is_object(x.y)` is false, not true, when x.y is undefined: OPA evaluates the
# argument outside the negation. Hence object.get with a default.)
missing := [{"entry": entry, "resource": resource, "value": value} |
	some entry in workload.containers
	some resource, value in site.resource_defaults
	not entry.container.resources.limits[resource]
]

patch contains {"op": "add", "path": concat("", [m.entry.path, "/resources"]), "value": {}} if {
	some m in missing
	not is_object(object.get(m.entry.container, "resources", null))
}

patch contains {"op": "add", "path": concat("", [m.entry.path, "/resources/limits"]), "value": {}} if {
	some m in missing
	not is_object(object.get(m.entry.container, ["resources", "limits"], null))
}

patch contains {"op": "add", "path": concat("/", [m.entry.path, "resources/limits", m.resource]), "value": m.value} if {
	some m in missing
}

deny contains violation if {
	some entry in workload.containers
	some kind in ["limits", "requests"]
	some resource, q in object.get(entry.container, ["resources", kind], {})
	max := site.resource_maxima[resource]
	valid(q)
	amount(q) > amount(max)
	violation := {
		"rule": "resources",
		"message": sprintf("container %q asks for %s %s %v, above this site's maximum of %v; lower it", [entry.name, resource, kind, q, max]),
		"path": sprintf("%s/resources/%s/%s", [entry.path, kind, resource]),
	}
}

deny contains violation if {
	some entry in workload.containers
	some kind in ["limits", "requests"]
	some resource, q in object.get(entry.container, ["resources", kind], {})
	not valid(q)
	violation := {
		"rule": "resources",
		"message": sprintf("container %q: %s %s %q is not a quantity; write it like 500m or 2 (cpu), 512Mi or 4Gi (memory)", [entry.name, resource, kind, q]),
		"path": sprintf("%s/resources/%s/%s", [entry.path, kind, resource]),
	}
}
