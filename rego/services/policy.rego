# services: nothing opens the cluster's nodes or a cloud load balancer unless the site
# allows it, and Ingress hosts stay under the site's domain.
package spin.rules.services

import data.spin.lib.site

meta := {
	"id": "services",
	"title": "Service types and Ingress hosts",
	"profile": "site",
	"description": "Refuses NodePort and LoadBalancer Services unless the site data allows them, Services with externalIPs, and Ingress hosts outside the site's domain.",
}

obj := input.request.object

allowed_type("NodePort") if site.allow_node_port == true

allowed_type("LoadBalancer") if site.allow_load_balancer == true

deny contains violation if {
	obj.kind == "Service"
	type := obj.spec.type
	type in {"NodePort", "LoadBalancer"}
	not allowed_type(type)
	violation := {
		"rule": "services",
		"message": sprintf("Service %q is of type %s, which this site does not allow; use ClusterIP (the default) and publish ports through the gateway", [object.get(obj, ["metadata", "name"], ""), type]),
		"path": "/spec/type",
	}
}

# externalIPs let a Service capture traffic for any address (CVE-2020-8554).
deny contains violation if {
	obj.kind == "Service"
	count(object.get(obj, ["spec", "externalIPs"], [])) > 0
	violation := {
		"rule": "services",
		"message": sprintf("Service %q sets externalIPs, which this site does not allow; remove them", [object.get(obj, ["metadata", "name"], "")]),
		"path": "/spec/externalIPs",
	}
}

under_domain(host) if host == site.ingress_domain

under_domain(host) if {
	site.ingress_domain != ""
	endswith(lower(host), concat("", [".", lower(site.ingress_domain)]))
}

hosts contains {"host": object.get(r, "host", ""), "path": sprintf("/spec/rules/%d/host", [i])} if {
	obj.kind == "Ingress"
	some i, r in object.get(obj, ["spec", "rules"], [])
}

hosts contains {"host": h, "path": sprintf("/spec/tls/%d/hosts/%d", [i, j])} if {
	obj.kind == "Ingress"
	some i, t in object.get(obj, ["spec", "tls"], [])
	some j, h in object.get(t, "hosts", [])
}

deny contains violation if {
	some h in hosts
	not under_domain(h.host)
	violation := {
		"rule": "services",
		"message": sprintf("Ingress %q routes host %q, which is not under this site's domain %q; use <name>.%s", [object.get(obj, ["metadata", "name"], ""), h.host, site.ingress_domain, site.ingress_domain]),
		"path": h.path,
	}
}

# An Ingress with no rules sends every host to its default backend.
deny contains violation if {
	obj.kind == "Ingress"
	count(object.get(obj, ["spec", "rules"], [])) == 0
	violation := {
		"rule": "services",
		"message": sprintf("Ingress %q has no host rules, so it would answer for every host; name a host under %s", [object.get(obj, ["metadata", "name"], ""), site.ingress_domain]),
		"path": "/spec",
	}
}
