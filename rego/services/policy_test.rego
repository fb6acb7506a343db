package spin.rules.services_test

import data.spin.rules.services
import data.spin.test.fixtures as f

service(spec) := f.request({"kind": "Service", "metadata": {"name": "web"}, "spec": spec})

ingress(spec) := f.request({"kind": "Ingress", "metadata": {"name": "web"}, "spec": spec})

rule(host) := {"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}

test_cluster_ip_is_allowed if {
	count(services.deny) == 0 with input as service({"ports": [{"port": 80}]})
	count(services.deny) == 0 with input as service({"type": "ClusterIP", "ports": [{"port": 80}]})
}

test_node_port_and_load_balancer_are_denied if {
	some v in services.deny with input as service({"type": "NodePort"})
	v.path == "/spec/type"
	count(services.deny) == 1 with input as service({"type": "LoadBalancer"})
}

test_site_may_allow_node_port if {
	count(services.deny) == 0 with input as service({"type": "NodePort"}) with data.spin.config.services as {"allow_node_port": true}
	count(services.deny) == 1 with input as service({"type": "LoadBalancer"}) with data.spin.config.services as {"allow_node_port": true}
}

test_external_ips_are_denied if {
	count(services.deny) == 1 with input as service({"externalIPs": ["10.0.0.5"]})
}

test_ingress_host_under_the_domain_is_allowed if {
	count(services.deny) == 0 with input as ingress({"rules": [rule("portal.spin.example.org")], "tls": [{"hosts": ["portal.spin.example.org"]}]})
}

test_ingress_host_elsewhere_is_denied if {
	some v in services.deny with input as ingress({"rules": [rule("www.example.com")]})
	v.path == "/spec/rules/0/host"
	count(services.deny) == 1 with input as ingress({"rules": [rule("evilspin.example.org")]})
	count(services.deny) == 1 with input as ingress({"rules": [rule("a.spin.example.org")], "tls": [{"hosts": ["bank.example.com"]}]})
}

test_ingress_without_host_is_denied if {
	count(services.deny) >= 1 with input as ingress({"rules": [{"http": {}}]})
	count(services.deny) == 1 with input as ingress({"defaultBackend": {"service": {"name": "web"}}})
}

test_unnamed_service_is_still_denied if {
	count(services.deny) == 1 with input as {"request": {"object": {"kind": "Service", "spec": {"type": "NodePort"}}}}
}
