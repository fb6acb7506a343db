# resources: every container has limits (site defaults where missing), none above the site maxima.
package spin.rules.resources

import data.spin.lib.patch as jp
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

patch contains op if {
	some entry in workload.containers
	some resource, value in site.resource_defaults
	object.get(entry.container, ["resources", "limits", resource], null) == null
	some op in jp.ensure(entry.path, entry.container, ["resources", "limits", resource], value)
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
		"message": sprintf("container %q asks for %s %s %v, above this site's maximum of %v; lower it", [entry.container.name, resource, kind, q, max]),
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
		"message": sprintf("container %q: %s %s %q is not a quantity; write it like 500m or 2 (cpu), 512Mi or 4Gi (memory)", [entry.container.name, resource, kind, q]),
		"path": sprintf("%s/resources/%s/%s", [entry.path, kind, resource]),
	}
}
