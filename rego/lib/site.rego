# Site data (rego/site.yaml, data.spin.config) with the defaults a site may leave out.
package spin.lib.site

default config := {}

config := data.spin.config

default_capabilities := ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID"]

capabilities := {upper(c) | some c in object.get(config, "capabilities", default_capabilities)}

volume_types := {t | some t in object.get(config, "volume_types", [
	"emptyDir", "configMap", "secret", "persistentVolumeClaim", "projected", "downwardAPI",
])}

global_roots := object.get(config, ["global_fs", "roots"], ["/global"])

global_prefixes := object.get(config, ["global_fs", "prefixes"], [])

registries := object.get(config, "registries", [])

resource_defaults := object.get(config, ["resources", "defaults"], {})

resource_maxima := object.get(config, ["resources", "maxima"], {})

admin_group := object.get(config, "admin_group", "spin-admins")

allow_node_port := object.get(config, ["services", "allow_node_port"], false)

allow_load_balancer := object.get(config, ["services", "allow_load_balancer"], false)

ingress_domain := object.get(config, ["ingress", "domain"], "")
