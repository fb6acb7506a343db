package spin.rules.published_ports_test

import data.spin.rules.published_ports
import data.spin.test.fixtures as f

service(entries) := f.request({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "annotations": {"spin.io/published": json.marshal(entries)}}})

test_loopback_unprivileged_port_is_allowed if {
	count(published_ports.deny) == 0 with input as service([{"target": 80, "published": 8080, "host_ip": "127.0.0.1", "protocol": "tcp"}])
	count(published_ports.patch) == 0 with input as service([{"target": 80, "published": 8080, "host_ip": "127.0.0.1", "protocol": "tcp"}])
}

test_all_addresses_are_refused if {
	some v in published_ports.deny with input as service([{"target": 8080, "published": 8081, "host_ip": "0.0.0.0"}])
	contains(v.message, "0.0.0.0")
}

test_privileged_port_is_refused if {
	some v in published_ports.deny with input as service([{"target": 8080, "published": 81, "host_ip": "127.0.0.1"}])
	contains(v.message, "81")
	site := {"published_ports": {"range": [1, 65535]}}
	some w in published_ports.deny with input as service([{"target": 8080, "published": 81, "host_ip": "127.0.0.1"}]) with data.spin.config as site
	contains(w.message, "privileged")
}

test_site_range_and_privileged if {
	site := {"published_ports": {"host_ips": ["127.0.0.1", "10.0.0.5"], "range": [80, 9000], "allow_privileged": true}}
	count(published_ports.deny) == 0 with input as service([{"target": 1, "published": 81, "host_ip": "10.0.0.5"}]) with data.spin.config as site
	count(published_ports.deny) == 1 with input as service([{"target": 1, "published": 9001, "host_ip": "10.0.0.5"}]) with data.spin.config as site
}

test_missing_host_address_is_patched_to_the_sites_first if {
	ops := published_ports.patch with input as service([{"target": 80, "published": 8080, "host_ip": null}])
	some op in ops
	json.unmarshal(op.value) == [{"target": 80, "published": 8080, "host_ip": "127.0.0.1"}]
	count(published_ports.deny) == 0 with input as service([{"target": 80, "published": 8080, "host_ip": null}])
}

test_unreadable_annotation_is_refused if {
	count(published_ports.deny) == 1 with input as f.request({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "annotations": {"spin.io/published": "{not json"}}})
	count(published_ports.deny) == 1 with input as service([{"target": "80", "published": 8080}])
	count(published_ports.deny) == 1 with input as service({"target": 80, "published": 8080})
}

test_fractional_port_is_refused if {
	count(published_ports.deny) == 1 with input as service([{"target": 80, "published": 8080.5, "host_ip": "127.0.0.1"}])
}
