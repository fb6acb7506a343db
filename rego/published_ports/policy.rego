# published_ports: the host addresses and ports a project publishes are decided here, on
# exactly what the backend binds. The translator puts a Service's published compose ports
# in its spin.io/published annotation (JSON: [{target, published, host_ip, protocol}]);
# the podman backend binds those and nothing else, so an entry without a host address gets
# the site's first one by patch, and the decided annotation is what runs.
package spin.rules.published_ports

import data.spin.lib.site

meta := {
	"id": "published_ports",
	"title": "Published host ports and addresses from the site data",
	"profile": "site",
	"description": "Refuses a spin.io/published annotation that cannot be read, or that publishes on a host address outside published_ports.host_ips, a host port outside published_ports.range, or a privileged host port (below 1024) unless published_ports.allow_privileged; an entry without a host address is patched to the site's first one.",
}

key := "spin.io/published"

obj := input.request.object

pointer := "/metadata/annotations/spin.io~1published"

raw := obj.metadata.annotations[key]

entries := json.unmarshal(raw) if {
	is_string(raw)
	json.is_valid(raw)
}

name := object.get(obj, ["metadata", "name"], "")

well_formed(e) if {
	is_object(e)
	is_number(e.target)
	is_number(e.published)
	lower(object.get(e, "protocol", "tcp")) in {"tcp", "udp"}
	host_ip_ok(object.get(e, "host_ip", null))
}

host_ip_ok(null)

host_ip_ok(ip) if is_string(ip)

deny contains violation if {
	raw
	not readable
	violation := {
		"rule": "published_ports",
		"message": sprintf("%s %q: annotation %s is not a JSON list of {target, published, host_ip, protocol}; publish ports with the compose file's ports key", [obj.kind, name, key]),
		"path": pointer,
	}
}

readable if {
	is_array(entries)
	every e in entries { well_formed(e) }
}

# The host address each entry is bound on: its own, or the site's first.
host_ip(e) := e.host_ip if is_string(e.host_ip)

host_ip(e) := site.published_host_ips[0] if object.get(e, "host_ip", null) == null

deny contains violation if {
	readable
	some i, e in entries
	not host_ip(e) in site.published_host_ips
	violation := {
		"rule": "published_ports",
		"message": sprintf("%s %q publishes port %v on host address %q, which this site does not allow; publish on %s", [obj.kind, name, e.published, host_ip(e), concat(" or ", site.published_host_ips)]),
		"path": pointer,
	}
}

deny contains violation if {
	readable
	some i, e in entries
	not in_range(e.published)
	violation := {
		"rule": "published_ports",
		"message": sprintf("%s %q publishes host port %v, outside this site's range %v-%v; pick a port in it", [obj.kind, name, e.published, site.published_range[0], site.published_range[1]]),
		"path": pointer,
	}
}

deny contains violation if {
	readable
	some i, e in entries
	in_range(e.published)
	e.published < 1024
	site.published_privileged != true
	violation := {
		"rule": "published_ports",
		"message": sprintf("%s %q publishes privileged host port %v (below 1024), which this site does not allow; pick a port from 1024 up", [obj.kind, name, e.published]),
		"path": pointer,
	}
}

in_range(p) if {
	p == floor(p)
	p >= max([1, site.published_range[0]])
	p <= min([65535, site.published_range[1]])
}

# The annotation as it will be bound: every entry with its host address.
patch contains {"op": "replace", "path": pointer, "value": json.marshal(filled)} if {
	readable
	some e in entries
	object.get(e, "host_ip", null) == null
	filled := [object.union(x, {"host_ip": host_ip(x)}) | some x in entries]
}
